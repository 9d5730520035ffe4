"""``diagalg repl [FILE]``: an interactive session on the .diag language.

Statements typed at the prompt are checked with the machinery of ``diagalg
check`` (:mod:`diagalg.lower` to read them, :class:`diagalg.checker.Checker` to
run them), so their results read exactly as ``check`` prints them, with the
session's accepted input standing in for a file called ``<repl>`` (line numbers
count its lines; input with a static error is not kept). A static error is shown as ``<repl>:line:col: error:``
with the line and a caret, and the session goes on without the faulty input.
An expression typed alone is shown simplified (as ``show E``).

:class:`Session` holds the state and evaluates input (no terminal needed);
:func:`run_repl` is the prompt_toolkit front end: history in a file
(``$DIAGALG_HISTORY``, default ``~/.diagalg_history``), completion of declared
names, rule names, keywords and commands, multi-line input (an open bracket, a
trailing operator, or a ``calc`` block, which ends at an empty line).
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import SourceError
from .lower.statements import PROPERTY_NAMES
from .program import Program
from .vocabulary import grammar_keywords, statement_keywords

REPL_PATH = "<repl>"

STATEMENT_KEYWORDS = statement_keywords()
#: Words completed inside statements: the grammar's other keywords (bubble names among
#: them), in grammar order, then the tensor properties the lowering accepts.
EXPRESSION_WORDS = tuple(w for w in grammar_keywords() if w not in STATEMENT_KEYWORDS) + PROPERTY_NAMES

COMMANDS = {
    ":help": "this help",
    ":load FILE": "check FILE (its results are shown) and use its declarations, lets and rules",
    ":draw EXPR [to \"FILE\"]": "draw EXPR in Penrose notation (.svg, .tex, .png, .html by extension)",
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
""" + "\n".join(f"  {k:<26}{v}" for k, v in COMMANDS.items())

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_']*$")
_TRAILING_OPERATOR = re.compile(r"(\+|-|\*|/|\*\*|=|==|!=|->|,|:|\\|<=|>=|<|>)\s*$")


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
    """The state of a REPL: the accepted input (as one growing .diag text), the seed,
    the trace switch, and the rules refused so far. :meth:`execute` evaluates one
    input and returns what to print."""

    seed: int = 0
    trace: bool = False
    base_dir: Path = field(default_factory=Path.cwd)
    transcript: str = ""
    refused: dict[str, int] = field(default_factory=dict)
    program: Program = field(default_factory=lambda: Program(REPL_PATH))
    draws: int = 0

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
            return e.render()
        except EOFError:  # :quit
            raise
        except Exception as e:  # noqa: BLE001 - a bug in diagalg: say so and keep the session
            return f"internal error: {type(e).__name__}: {e}"

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
        text = text.rstrip("\n") + "\n"
        code = " ".join(line.split("#", 1)[0] for line in text.splitlines()).split()
        if not code:
            return ""  # only comments
        if code[0] not in STATEMENT_KEYWORDS:
            return self.show(" ".join(code))
        program, offset = self.lower(text)
        self.program = program
        self.transcript += text
        new = [s for s in program.statements if s.source.line > offset]
        return "\n".join(self.run(program, new))

    def show(self, code: str) -> str:
        """An input with no statement keyword (``[unfold] E [by RULES]``, on one line) is
        shown as ``show`` shows it; the session keeps it as that statement."""
        from .lower import parse_show

        line = self.transcript.count("\n") + 1
        try:
            stmt = parse_show(self.program, code, REPL_PATH, line)
        except SourceError as e:
            raise SourceError(e.message, line + e.line - 1, e.col, REPL_PATH, self.transcript + code) from None
        self.program.statements.append(stmt)
        self.transcript += stmt.source.text + "\n"
        return "\n".join(self.run(self.program, [stmt]))

    def run(self, program: Program, statements: Iterable) -> list[str]:
        from .checker import Checker, Options
        from .program import RuleStmt, ShowStmt

        checker = Checker(program, Options(seed=self.seed))
        checker.refused.update(self.refused)
        out: list[str] = []
        for stmt in statements:
            for r in checker.run_statement(stmt):
                out.append(r.line())
                out.extend("    " + line for line in r.output)
            if self.trace and isinstance(stmt, ShowStmt):
                out.extend(self.derivation_lines(stmt.expr, unfold=stmt.unfold, rules=stmt.rules))
            if isinstance(stmt, RuleStmt):
                self.refused.update(checker.refused)
        return out

    # ------------------------------------------------------------------ commands
    def command(self, text: str) -> str:
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
        known = ", ".join(dict.fromkeys(c.split()[0] for c in COMMANDS))
        return f"unknown command {name} (commands: {known}; :help explains them)"

    def expression(self, text: str):
        """``text`` as an expression in the session's declarations (SourceError positioned
        in ``text``, shown as ``<repl>``)."""
        from .lower import parse_expression

        try:
            return parse_expression(self.program, text)
        except SourceError as e:
            raise SourceError(e.message, e.line, e.col, REPL_PATH, text) from None

    def load(self, arg: str) -> str:
        if not arg:
            return "usage: :load FILE"
        from .lower import load_program

        path = Path(shlex.split(arg)[0]).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        if '"' in str(path):
            return f"cannot load {path}: the path contains a double quote"
        try:  # results and errors name the file as it was typed
            file_program = load_program(path if Path(arg).is_absolute() else Path(os.path.relpath(path)))
        except SourceError as e:
            return e.render()
        # the file's declarations join the session by importing it; its own statements
        # run once, now, exactly as `diagalg check FILE` runs them
        import_line = f'import "{path}"\n'
        program, _ = self.lower(import_line)
        self.program = program
        self.transcript += import_line
        results = self.run(file_program, file_program.statements)
        names = sum(map(len, (file_program.env.symbols, file_program.tensors, file_program.funcs,
                              file_program.lets, file_program.rules)))
        return "\n".join(results + [f"loaded {arg}: {len(file_program.statements)} statements checked, "
                                    f"{names} names declared"])

    def draw(self, arg: str) -> str:
        if not arg:
            return 'usage: :draw EXPR [to "FILE"]'
        m = re.match(r'^(?P<expr>.*?)\s+to\s+"(?P<path>[^"]+)"\s*$', arg)
        expr_text, target = (m.group("expr"), m.group("path")) if m else (arg, None)
        expr = self.expression(expr_text)
        try:
            from . import render  # type: ignore[attr-defined]
        except ImportError:
            return "cannot draw: this diagalg has no renderer (diagalg.render is not installed)"
        if target is None:
            self.draws += 1
            folder = Path(tempfile.gettempdir()) / f"diagalg-repl-{os.getpid()}"
            folder.mkdir(exist_ok=True)
            path = folder / f"draw{self.draws}.svg"
        else:
            path = Path(target).expanduser()
            if not path.is_absolute():
                path = self.base_dir / path
        render.write(expr, self.program, path)
        return f"wrote {target or path}"

    def derivation_lines(self, expr, unfold: bool = False, rules=None) -> list[str]:
        """The derivation of ``expr`` as `diagalg simplify --trace` prints it."""
        from .checker import Checker, Options
        from .engine import simplify
        from .engine import unfold as unfold_lets
        from .printing import derivation_lines

        checker = Checker(self.program, Options(seed=self.seed))
        start = unfold_lets(expr) if unfold else expr
        d = simplify(start, rules=checker.rules_for(rules or None), subs=checker.subs, checked=True,
                     env=self.program.env, seed=self.seed, extra_rules=checker.user_rules)
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
        parts = [("dims", list(p.env.symbols)), ("tensors", list(p.tensors)), ("funcs", list(p.funcs)),
                 ("lets", list(p.lets)), ("rules", list(p.rules))]
        lines = [f"{kind}: {', '.join(names)}" for kind, names in parts if names]
        return "\n".join(lines) or "nothing declared yet"


# --------------------------------------------------------------------------- the terminal front end


def history_path() -> Path:
    """``$DIAGALG_HISTORY`` if set, else ``~/.diagalg_history``."""
    return Path(os.environ.get("DIAGALG_HISTORY") or Path.home() / ".diagalg_history").expanduser()


def make_completer(session: Session):
    """Completion of commands (after ':'), file names (after ':load '), declared names,
    rule names and keywords."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    from .rules import implemented_rules

    paths = PathCompleter(expanduser=True)

    class DiagCompleter(Completer):
        def get_completions(self, document, complete_event):
            before = document.text_before_cursor
            if before.lstrip().startswith(":load "):
                arg = before.lstrip()[len(":load "):]
                yield from paths.get_completions(Document(arg, len(arg)), complete_event)
                return
            if before.lstrip().startswith(":") and " " not in before.lstrip():
                word = before.lstrip()
                for cmd in COMMANDS:
                    c = cmd.split()[0]
                    if c.startswith(word):
                        yield Completion(c, -len(word), display_meta=COMMANDS[cmd])
                return
            m = _WORD.search(before)
            word = m.group(0) if m else ""
            if not word:
                return
            after_by = re.search(r"\bby\s+([A-Za-z_][\w']*\s*,\s*)*[A-Za-z_][\w']*$", before) is not None
            rule_names = list(implemented_rules()) + list(session.program.rules)
            if after_by:
                candidates = rule_names
            else:
                candidates = session.declared_names() + rule_names + list(STATEMENT_KEYWORDS) \
                    + list(EXPRESSION_WORDS)
            seen: set[str] = set()
            for c in candidates:
                if c.startswith(word) and c != word and c not in seen:
                    seen.add(c)
                    yield Completion(c, -len(word))

    return DiagCompleter()


def run_piped(session: Session, lines: Iterable[str], output: Callable[[str], None] = print) -> int:
    """Input that is not a terminal (a pipe, a file): each whole input, as Enter would
    submit it, is echoed after the prompt and evaluated; returns 0 at the end of the
    input or at ``:quit``."""
    buffer = ""
    for line in lines:
        output((("diag> " if not buffer else "  ... ") + line.rstrip("\n")).rstrip())
        buffer += line if line.endswith("\n") else line + "\n"
        if input_complete(buffer[:-1]):
            try:
                result = session.execute(buffer)
            except EOFError:
                return 0
            buffer = ""
            if result:
                output(result)
    if buffer.strip():
        result = session.execute(buffer)
        if result:
            output(result)
    return 0


def run_repl(file: str | None = None, seed: int = 0, output: Callable[[str], None] = print) -> int:
    """The interactive loop on the terminal (or :func:`run_piped` when standard input
    is not a terminal); returns the exit status (0)."""
    import sys

    if not sys.stdin.isatty():
        session = Session(seed=seed)
        if file:
            output(session.execute(f":load {file}"))
        return run_piped(session, sys.stdin, output)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    session = Session(seed=seed)
    hist = history_path()
    try:
        hist.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(hist))
    except OSError:
        from prompt_toolkit.history import InMemoryHistory

        history = InMemoryHistory()
    keys = KeyBindings()

    @keys.add("enter")
    def _(event) -> None:
        buf = event.current_buffer
        if input_complete(buf.text if buf.cursor_position == len(buf.text) else buf.text[:buf.cursor_position]):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    prompt = PromptSession(history=history, completer=make_completer(session), multiline=True,
                           key_bindings=keys, complete_while_typing=False,
                           prompt_continuation=lambda width, line, soft: "...".rjust(width - 1) + " ")
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
