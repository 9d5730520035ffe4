"""Loading: .diag text or a file (with its imports) -> a checked :class:`~diagalg.program.Program`.

The pipeline, per file: **read** (UTF-8; a byte-order mark dropped) -> **parse**
(:func:`diagalg.parser.parse_text`) -> **lower** the statements in order
(:class:`~diagalg.lower.statements.FileLowering`: declarations checked, names
resolved, expressions lowered, an ``import`` loading its file into the same
program, a ``weights`` file bound to the tensors declared above it, rules and
decompositions validated). Any error is a :class:`SourceError` located in the
file it is in.

Fragments of text lowered in an existing program's declarations are parsed by
their own start rule (:func:`diagalg.parser.parse_fragment`), so their errors are
positioned in the text as written: :func:`parse_expression`, :func:`parse_pair`
(the two sides of an equation) and :func:`parse_show` (a REPL input with no
statement keyword).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from .. import ast as A
from ..collector import in_batches
from ..errors import SourceError
from ..model import Expr
from ..parser import Fragment, parse_fragment, parse_text
from ..program import Program, ShowStmt, Source, register_front_end
from .expr import Scope
from .statements import FileLowering, rule_names

#: Nested expressions are lowered recursively; brackets are capped at
#: parser.MAX_NESTING, so this bound is reached only by pathological input.
_RECURSION_LIMIT = 20_000
T = TypeVar("T")


class Loader:
    """Loads a file or text, and the files it imports, into one Program."""

    def __init__(self) -> None:
        #: the files being loaded, outermost first (an import of one of them is a cycle)
        self.loading: list[Path] = []

    def load_file(
        self, path: Path, display: str, program: Program | None = None, run_statements: bool = True
    ) -> Program:
        """Read ``path`` (shown in messages as ``display``) and load it into ``program``
        (a new one if None). Raises SourceError, also for a file that is not UTF-8."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raw = path.read_bytes()
            line = raw[: e.start].count(b"\n") + 1
            line_start = raw.rfind(b"\n", 0, e.start) + 1
            col = len(raw[line_start : e.start].decode("utf-8", errors="replace")) + 1
            shown = raw.decode("utf-8", errors="replace")  # the line is shown with U+FFFD for bad bytes
            raise SourceError("file is not UTF-8 text", line, col, display, shown) from None
        # a byte-order mark (written by some editors) is not part of the text
        return self.load_text(text.removeprefix("\ufeff"), display, path, program, run_statements)

    def load_text(
        self, text: str, display: str, path: Path | None, program: Program | None = None, run_statements: bool = True
    ) -> Program:
        """Parse and lower ``text`` into ``program`` (a new one if None). ``path`` is the
        file the text is (imports, weights and drawings resolve next to it; None: the
        working directory); with ``run_statements`` False only declarations, lets and
        rules are kept (an imported file)."""
        module = parse_text(text, display)
        program = program if program is not None else Program(display)
        _deep_enough()
        lowering = FileLowering(program, module, path, run_statements, self._import(program), self.loading)
        if path is not None:
            self.loading.append(path.resolve())
        try:
            lowering.run()
        except SourceError as e:
            raise e.located(display, text) from None
        except RecursionError:
            raise SourceError("expression nested too deeply", 1, 1).located(display, text) from None
        finally:
            if path is not None:
                self.loading.pop()
        return program

    def _import(self, program: Program) -> Callable[[Path, str], None]:
        def load(target: Path, display: str) -> None:
            self.load_file(target, display, program, run_statements=False)

        return load


def _deep_enough() -> None:
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)


@in_batches
def load_program(path: str | Path) -> Program:
    """Parse and check a .diag file (with its imports). Raises SourceError."""
    p = Path(path)
    display = str(path)
    if not p.is_file():
        raise SourceError(f"no such file: {display}", 0, 0, display)
    return Loader().load_file(p, display)


@in_batches
def parse_program(text: str, path: str = "<input>", base_dir: str | Path | None = None) -> Program:
    """Parse and check .diag text. Imports resolve relative to ``base_dir`` (default: cwd)."""
    module_path = Path(base_dir) / "__input__.diag" if base_dir is not None else None
    return Loader().load_text(text, path, module_path, Program(path))


def _lower_fragment(
    program: Program, text: str, start: Fragment, path: str, tags: set[str], lower: Callable[[Scope, Any], T]
) -> T:
    """Parse ``text`` by the fragment rule ``start`` and lower it with ``lower(scope, node)``
    in ``program``'s declarations, recording summand tags in ``tags``. Errors are
    located in ``text`` shown as ``path``."""
    node = parse_fragment(text, start, path)
    _deep_enough()
    try:
        return lower(Scope(program, tags), node)
    except SourceError as e:
        # the text is one line; an error without a position points at its start
        raise SourceError(e.message, e.line or 1, max(e.col, 1), path, text) from None
    except RecursionError:
        raise SourceError("expression nested too deeply", 1, 1, path, text) from None


def parse_expression(program: Program, text: str) -> Expr:
    """``text`` as an expression in ``program``'s declarations. The expression is not
    part of the program: its summand tags are its own. Text on several lines is read
    as one line. Raises SourceError positioned in ``text`` (shown as ``<expr>``)."""
    if "\n" in text.strip():
        text = " ".join(text.split())
    return _lower_fragment(program, text, "expr_input", "<expr>", set(), lambda scope, node: scope.lower_top(node))


def parse_pair(program: Program, lhs: str, rhs: str) -> tuple[Expr, Expr]:
    """Both sides of ``lhs == rhs`` in ``program``'s declarations, lowered together as in
    an assertion (a label free on both sides is one label with one dimension; a tag
    the program uses is refused, but the pair's tags are not kept). Raises SourceError
    positioned in the text ``lhs == rhs`` (shown as ``<python>``)."""
    text = f"{' '.join(lhs.split())} == {' '.join(rhs.split())}"

    def lower(scope: Scope, equation: tuple[A.Node, str, A.Node]) -> tuple[Expr, Expr]:
        left, _, right = equation  # the one `==` or `!=` that parses is the `==` put between
        return scope.lower_pair(left, right)

    return _lower_fragment(program, text, "equation_input", "<python>", set(program.tags), lower)


def parse_show(program: Program, text: str, path: str, line: int) -> ShowStmt:
    """``text`` (one line: ``[unfold] E [by RULES]``) as the statement ``show text`` on
    line ``line`` of ``path``, in ``program``'s declarations; its summand tags join the
    program's when it lowers without error. The REPL shows an expression typed alone
    this way. Raises SourceError positioned in ``text`` (line 1)."""
    tags = set(program.tags)

    def lower(scope: Scope, s: A.ShowStmt) -> ShowStmt:
        expr = scope.lower_top(s.expr)
        source = Source(path, line, 1, "show " + " ".join(text.split()))
        return ShowStmt(source, expr, s.unfold, rule_names(program, s.by))

    stmt = _lower_fragment(program, text, "show_input", path, tags, lower)
    program.tags = tags
    return stmt


def expression_of_name(program: Program, name: str) -> Expr:
    """The expression ``name`` stands for: a let's definition, or a tensor on its own
    legs (``program[name]``). Raises KeyError for any other name."""
    return program[name]


register_front_end(parse_expression)
