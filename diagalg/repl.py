"""``diagalg repl [FILE]``: an interactive session on the .diag language.

Statements typed at the prompt are checked with the machinery of ``diagalg
check`` (:mod:`diagalg.lower` to read them, :class:`diagalg.checker.Checker` to
run them), so their results read exactly as ``check`` prints them, with the
session's input standing in for a file called ``<repl>``. Every input (statements,
an expression, a comment) gets its own line numbers, the next input continuing
after it; an input with a static error keeps its numbers too, but not its content
(a :command takes none, but ``:load`` takes one, for its import). A static error is
shown as ``<repl>:line:col: error:`` with the line and a caret, and the session
goes on without the faulty input. An expression typed alone is shown simplified
(as ``show E``). A result line shows a statement typed over several lines on one
line as typed (no space put inside a bracket at a line break).

:class:`Session` holds the state and evaluates input (no terminal needed);
:func:`run_repl` is the prompt_toolkit front end: history in a file
(``$DIAGALG_HISTORY``, default ``~/.diagalg_history``), completion of declared
names, rule names, keywords and commands, multi-line input (an open bracket, a
trailing operator, or a ``calc`` block, which ends at an empty line). Piped input
(``diagalg repl < session.txt``) exits with the status ``diagalg check`` would give.
"""

from __future__ import annotations

import os
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from .errors import SourceError
from .lower.statements import PROPERTY_NAMES, code_line, join_lines
from .program import Program
from .vocabulary import grammar_keywords, statement_keywords

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent, Completer

    from .model import Expr

REPL_PATH = "<repl>"

STATEMENT_KEYWORDS = statement_keywords()
#: Words completed inside statements: the grammar's other keywords (bubble names among
#: them), in grammar order, then the tensor properties the lowering accepts.
EXPRESSION_WORDS = tuple(w for w in grammar_keywords() if w not in STATEMENT_KEYWORDS) + PROPERTY_NAMES

COMMANDS = {
    ":help": "this help",
    ":load FILE": "check FILE (its results are shown) and use its declarations, lets and rules",
    ':draw EXPR [to "FILE"]': (
        "draw EXPR in Penrose notation (.svg, .tex, .png, .html by extension); "
        "without `to`, to drawN.svg in the current directory"
    ),
    ":trace": "turn derivations on or off: each shown expression then prints its rewrites",
    ":trace EXPR": "print the derivation of EXPR, one rewrite per line, with its rule and check",
    ":names": "list what the session declares",
    ":quit": "leave (Ctrl-D does too)",
}

HELP = """\
Type .diag statements; each is checked as `diagalg check` checks it:
  dim n, r <= n
  tensor V[a: n, b: r] isometry(b -> a)
  assert V[a, b] V[a, c] == delta[b, c]
An expression alone is shown simplified (like `show`). A statement continues on the
next line after an open bracket or a trailing operator; a `calc` block ends at an
empty line. Tab completes names, rules and commands; history is kept between sessions.
Commands:
""" + "\n".join(
    textwrap.fill(v, 110, initial_indent=f"  {k:<26}", subsequent_indent=" " * 28) for k, v in COMMANDS.items()
)

#: Each command once, as completed after ':', with what it does (its other forms named).
COMMAND_NAMES: dict[str, str] = {}
for _usage, _what in COMMANDS.items():
    _name = _usage.split()[0]
    COMMAND_NAMES[_name] = (COMMAND_NAMES[_name] + f" (also {_usage})") if _name in COMMAND_NAMES else _what

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_']*$")
_TRAILING_OPERATOR = re.compile(r"(\+|-|\*|/|\*\*|=|==|!=|->|,|:|\\|<=|>=|<|>)\s*$")
#: The text before the cursor ends in a rule list (``by``, names and commas) wanting a name.
_AFTER_BY = re.compile(r"\bby\s+(?:[A-Za-z_][\w']*\s*,\s*)*(?:[A-Za-z_][\w']*)?$")


class CommandError(Exception):
    """A :command used wrongly (unknown, missing its argument, nothing to do it with):
    its message is shown, and it counts as an error in the exit status."""


def input_complete(text: str) -> bool:
    """True when ``text`` is a whole input: a command, or statements with no open
    bracket and no trailing operator; a ``calc`` block only once an empty line ends it."""
    stripped = text.strip()
    if not stripped or stripped.startswith(":"):
        return True
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    stack: list[str] = []
    for ch in code:
        if ch in "([":
            stack.append(ch)
        elif ch in ")]":
            if not stack or stack.pop() != {")": "(", "]": "["}[ch]:
                return True  # a mismatched bracket: submit, the error says where
    if stack:
        return False
    lines = [line for line in code.splitlines() if line.strip()]
    if lines and _TRAILING_OPERATOR.search(lines[-1]):
        return False
    if any(line.split()[0] == "calc" for line in lines):
        return "\n" in text and text.split("\n")[-1].strip() == ""  # Enter on an empty line
    return True


@dataclass
class Session:
    """The state of a REPL: the input so far (as one growing .diag text, where an input
    with a static error stands as blank lines), the seed, the trace switch, the rules
    refused so far, and what the inputs gave (for :meth:`exit_status`).
    :meth:`execute` evaluates one input and returns what to print."""

    seed: int = 0
    trace: bool = False
    base_dir: Path = field(default_factory=Path.cwd)
    transcript: str = ""
    refused: dict[str, int] = field(default_factory=dict)
    program: Program = field(default_factory=lambda: Program(REPL_PATH))
    draws: int = 0
    #: every result line the session printed (its statements', and loaded files')
    results: list = field(default_factory=list)
    #: inputs refused with a static error, and :commands used wrongly
    errors: int = 0
    #: inputs that met a bug in diagalg (shown as ``internal error:``)
    internal_errors: int = 0

    # ------------------------------------------------------------------ input
    def execute(self, text: str) -> str:
        """Evaluate one input (statements, an expression, or a :command); the text to
        print. Never raises for bad input: errors are part of the returned text."""
        stripped = text.strip()
        if not stripped:
            return ""
        try:
            if stripped.startswith(":"):
                return self.command(stripped)
            return self.statements(text)
        except SourceError as e:
            self.errors += 1
            return e.render()
        except CommandError as e:
            self.errors += 1
            return str(e)
        except EOFError:  # :quit
            raise
        except Exception as e:  # noqa: BLE001 - a bug in diagalg: say so and keep the session
            self.internal_errors += 1
            return f"internal error: {type(e).__name__}: {e}"

    def exit_status(self) -> int:
        """The status ``diagalg check`` would give for what the session ran: 2 if an input
        had a static error or a :command was used wrongly, else, as
        :func:`diagalg.checker.exit_status` gives it for the results, 3 if an internal
        error (one that stopped an input counts too), 1 if a failure, 4 if inconclusive, 0."""
        from .checker import exit_status

        if self.errors:
            return 2
        if self.internal_errors:
            return 3
        return exit_status(self.results)

    def lower(self, text: str) -> tuple[Program, int]:
        """The session's program with ``text`` appended (not yet accepted), and the
        number of lines before it. Raises SourceError positioned in the session."""
        from .lower import Loader

        offset = self.transcript.count("\n")
        whole = self.transcript + text
        if not whole.endswith("\n"):
            whole += "\n"
        return Loader().load_text(whole, REPL_PATH, self.base_dir / "<repl>.diag", Program(REPL_PATH)), offset

    def statements(self, text: str) -> str:
        """Statements (or an expression alone, see :meth:`show`) typed as one input: run
        and kept on the session's next lines; the lines of an input that does not lower
        (or of a comment alone) are kept blank (or as typed), so that the next input
        comes after them. The result lines, as ``check`` prints them."""
        text = text.rstrip("\n") + "\n"
        lines = text.count("\n")
        parts = [c for c in map(code_line, text.splitlines()) if c]
        if not parts:
            self.transcript += text  # only comments: they keep their lines
            return ""
        if parts[0].split()[0] not in STATEMENT_KEYWORDS:
            return self.show(join_lines(parts), lines)
        try:
            program, offset = self.lower(text)
        except BaseException:
            self.transcript += "\n" * lines
            raise
        self.program = program
        self.transcript += text
        new = [s for s in program.statements if s.source.line > offset]
        return "\n".join(self.run(program, new))

    def show(self, code: str, lines: int = 1) -> str:
        """An input with no statement keyword (``[unfold] E [by RULES]``, typed on ``lines``
        lines, ``code`` being them joined on one) is shown as ``show`` shows it; the session
        keeps it as that statement on the first of its lines (the others blank)."""
        from .lower import parse_show

        line = self.transcript.count("\n") + 1
        try:
            stmt = parse_show(self.program, code, REPL_PATH, line)
        except SourceError as e:
            error = SourceError(e.message, line + e.line - 1, e.col, REPL_PATH, self.transcript + code)
            self.transcript += "\n" * lines
            raise error from None
        except BaseException:
            self.transcript += "\n" * lines
            raise
        self.program.statements.append(stmt)
        self.transcript += stmt.source.text + "\n" * max(lines, 1)
        return "\n".join(self.run(self.program, [stmt]))

    def run(self, program: Program, statements: Iterable) -> list[str]:
        """Run ``statements`` of ``program`` as ``check`` does (the results are kept for
        :meth:`exit_status`); their lines as ``check`` prints them (a statement typed over several
        lines joined as typed, as the lowering's source text is)."""
        from .checker import Checker, Options
        from .program import RuleStmt, ShowStmt

        checker = Checker(program, Options(seed=self.seed))
        checker.refused.update(self.refused)
        out: list[str] = []
        for stmt in statements:
            for r in checker.run_statement(stmt):
                self.results.append(r)
                out.append(r.line())
                out.extend("    " + line for line in r.output)
            if self.trace and isinstance(stmt, ShowStmt):
                out.extend(self.derivation_lines(stmt.expr, unfold=stmt.unfold, rules=stmt.rules))
            if isinstance(stmt, RuleStmt):
                self.refused.update(checker.refused)
        return out

    # ------------------------------------------------------------------ commands
    def command(self, text: str) -> str:
        """Run the :command ``text``; what to print. Raises EOFError for :quit and
        CommandError for a command used wrongly."""
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name in (":help", ":h", ":?"):
            return HELP
        if name in (":quit", ":q", ":exit"):
            raise EOFError
        if name == ":load":
            return self.load(arg)
        if name == ":trace":
            if not arg:
                self.trace = not self.trace
                return f"trace {'on' if self.trace else 'off'}"
            return "\n".join(self.derivation_lines(self.expression(arg)))
        if name == ":draw":
            return self.draw(arg)
        if name == ":names":
            return self.names_text()
        raise CommandError(f"unknown command {name} (commands: {', '.join(COMMAND_NAMES)}; :help explains them)")

    def expression(self, text: str) -> Expr:
        """``text`` as an expression in the session's declarations (SourceError positioned
        in ``text``, shown as ``<repl>``)."""
        from .lower import parse_expression

        try:
            return parse_expression(self.program, text)
        except SourceError as e:
            raise SourceError(e.message, e.line, e.col, REPL_PATH, text) from None

    def load(self, arg: str) -> str:
        """``:load FILE``: check FILE as ``diagalg check`` does (its results are shown and
        count in the exit status) and import its declarations into the session."""
        if not arg:
            raise CommandError("usage: :load FILE")
        from .lower import load_program

        path = Path(shlex.split(arg)[0]).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        if '"' in str(path):
            raise CommandError(f"cannot load {path}: the path contains a double quote")
        # results and errors (a SourceError, shown by execute) name the file as it was typed
        file_program = load_program(path if Path(arg).is_absolute() else Path(os.path.relpath(path)))
        # the file's declarations join the session by importing it; its own statements
        # run once, now, exactly as `diagalg check FILE` runs them
        import_line = f'import "{path}"\n'
        program, _ = self.lower(import_line)
        self.program = program
        self.transcript += import_line
        results = self.run(file_program, file_program.statements)
        names = sum(
            map(
                len,
                (
                    file_program.env.symbols,
                    file_program.tensors,
                    file_program.funcs,
                    file_program.lets,
                    file_program.rules,
                ),
            )
        )
        checked = len(file_program.statements)
        summary = (
            f"loaded {arg}: {checked} statement{'s' if checked != 1 else ''} checked, "
            f"{names} name{'s' if names != 1 else ''} declared"
        )
        return "\n".join([*results, summary])

    def draw(self, arg: str) -> str:
        """``:draw EXPR [to "FILE"]``: write the drawing of EXPR to FILE (relative to the
        session's directory), or without ``to`` to the first ``drawN.svg`` there that does
        not exist yet (N counting the session's drawings); says which file it wrote."""
        if not arg:
            raise CommandError('usage: :draw EXPR [to "FILE"]')
        m = re.match(r'^(?P<expr>.*?)\s+to\s+"(?P<path>[^"]+)"\s*$', arg)
        expr_text, target = (m.group("expr"), m.group("path")) if m else (arg, None)
        expr = self.expression(expr_text)
        try:
            from . import render
        except ImportError:
            raise CommandError("cannot draw: this diagalg has no renderer (diagalg.render is not installed)")
        if target is None:
            self.draws += 1
            while (self.base_dir / f"draw{self.draws}.svg").exists():  # never overwrite a drawing
                self.draws += 1
            path = self.base_dir / f"draw{self.draws}.svg"
            try:
                target = str(path.relative_to(Path.cwd()))
            except ValueError:
                target = str(path)
        else:
            path = Path(target).expanduser()
            if not path.is_absolute():
                path = self.base_dir / path
        render.write(expr, self.program, path)
        return f"wrote {target}"

    def derivation_lines(self, expr: Expr, unfold: bool = False, rules: Sequence[str] | None = None) -> list[str]:
        """The derivation of ``expr`` as `diagalg simplify --trace` prints it."""
        from .checker import Checker, Options
        from .engine import simplify
        from .engine import unfold as unfold_lets
        from .printing import derivation_lines

        checker = Checker(self.program, Options(seed=self.seed))
        start = unfold_lets(expr) if unfold else expr
        d = simplify(
            start,
            rules=checker.rules_for(rules or None),
            subs=checker.subs,
            checked=True,
            env=self.program.env,
            seed=self.seed,
            extra_rules=checker.user_rules,
        )
        out = derivation_lines(d)
        if len(out) == 1:
            out.append("    (no rule applies)")
        return out

    # ------------------------------------------------------------------ names
    def declared_names(self) -> list[str]:
        p = self.program
        return sorted(set(p.env.symbols) | set(p.tensors) | set(p.funcs) | set(p.lets) | set(p.rules))

    def names_text(self) -> str:
        p = self.program
        parts = [
            ("dims", list(p.env.symbols)),
            ("tensors", list(p.tensors)),
            ("funcs", list(p.funcs)),
            ("lets", list(p.lets)),
            ("rules", list(p.rules)),
        ]
        lines = [f"{kind}: {', '.join(names)}" for kind, names in parts if names]
        return "\n".join(lines) or "nothing declared yet"


# --------------------------------------------------------------------------- the terminal front end


def history_path() -> Path:
    """``$DIAGALG_HISTORY`` if set, else ``~/.diagalg_history``."""
    return Path(os.environ.get("DIAGALG_HISTORY") or Path.home() / ".diagalg_history").expanduser()


def make_completer(session: Session) -> Completer:
    """Completion of commands (after ':', each once), file names (after ':load '),
    declared names, keywords, and rule names (all of them right after ``by`` or a comma
    in its list, the session's own rules first)."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    from .rules import implemented_rules

    paths = PathCompleter(expanduser=True)

    class DiagCompleter(Completer):
        def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
            before = document.text_before_cursor
            if before.lstrip().startswith(":load "):
                arg = before.lstrip()[len(":load ") :]
                yield from paths.get_completions(Document(arg, len(arg)), complete_event)
                return
            if before.lstrip().startswith(":") and " " not in before.lstrip():
                word = before.lstrip()
                for c, what in COMMAND_NAMES.items():
                    if c.startswith(word):
                        yield Completion(c, -len(word), display_meta=what)
                return
            m = _WORD.search(before)
            word = m.group(0) if m else ""
            after_by = _AFTER_BY.search(before) is not None
            if not word and not after_by:
                return
            rule_names = list(session.program.rules) + list(implemented_rules())  # the session's first
            if after_by:
                candidates = rule_names
            else:
                candidates = session.declared_names() + rule_names + list(STATEMENT_KEYWORDS) + list(EXPRESSION_WORDS)
            seen: set[str] = set()
            for c in candidates:
                if c.startswith(word) and c != word and c not in seen:
                    seen.add(c)
                    yield Completion(c, -len(word))

    return DiagCompleter()


def run_piped(session: Session, lines: Iterable[str], output: Callable[[str], None] = print) -> int:
    """Input that is not a terminal (a pipe, a file): each whole input, as Enter would
    submit it, is echoed after the prompt and evaluated. At the end of the input or at
    ``:quit``, returns the status ``diagalg check`` would give (:meth:`Session.exit_status`:
    2 after a static error, 1 after a failure, ...)."""
    buffer = ""
    for line in lines:
        output((("diag> " if not buffer else "  ... ") + line.rstrip("\n")).rstrip())
        buffer += line if line.endswith("\n") else line + "\n"
        if input_complete(buffer[:-1]):
            try:
                result = session.execute(buffer)
            except EOFError:
                return session.exit_status()
            buffer = ""
            if result:
                output(result)
    if buffer.strip():
        try:
            result = session.execute(buffer)
        except EOFError:
            return session.exit_status()
        if result:
            output(result)
    return session.exit_status()


def run_repl(file: str | None = None, seed: int = 0, output: Callable[[str], None] = print) -> int:
    """The interactive loop on the terminal, or :func:`run_piped` when standard input
    is not a terminal; returns the exit status: 0 when the terminal session ends
    (``:quit``, Ctrl-D), the status ``diagalg check`` would give for piped input."""
    import sys

    if not sys.stdin.isatty():
        session = Session(seed=seed)
        if file:
            output(session.execute(f":load {file}"))
        return run_piped(session, sys.stdin, output)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    session = Session(seed=seed)
    hist = history_path()
    try:
        hist.parent.mkdir(parents=True, exist_ok=True)
        history: History = FileHistory(str(hist))
    except OSError:
        from prompt_toolkit.history import InMemoryHistory

        history = InMemoryHistory()
    keys = KeyBindings()

    @keys.add("enter")
    def _(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if input_complete(buf.text if buf.cursor_position == len(buf.text) else buf.text[: buf.cursor_position]):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    prompt: PromptSession[str] = PromptSession(
        history=history,
        completer=make_completer(session),
        multiline=True,
        key_bindings=keys,
        complete_while_typing=False,
        prompt_continuation=lambda width, line, soft: "...".rjust(width - 1) + " ",
    )
    output(f"diagalg {__import__('diagalg').__version__} — :help for help, Ctrl-D to leave")
    if file:
        output(session.execute(f":load {file}"))
    while True:
        try:
            text = prompt.prompt("diag> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            result = session.execute(text)
        except EOFError:
            return 0
        except KeyboardInterrupt:
            output("interrupted")
            continue
        if result:
            output(result)
