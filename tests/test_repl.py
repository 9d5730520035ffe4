"""`diagalg repl`: typed at a real pseudo-terminal, as a person would.

The session tests spawn ``diagalg repl`` under a pty (pexpect), type statements,
a Tab completion, a multi-line calc block, commands and a mistake, and read what
the terminal shows. Result lines are ``diagalg check``'s lines; the prompt is
drawn by prompt_toolkit with escape sequences, so the tests wait for output text
and never for exact screen contents. The last tests drive :class:`Session`
directly (no terminal) for the details.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from diagalg.repl import Session, input_complete

pexpect = pytest.importorskip("pexpect", reason="pexpect (a test dependency) is not installed")

FIRST = """\
dim n, r <= n
tensor V[a: n, b: r] isometry(b -> a)
tensor A[i: n, j: n]
tensor R[b: r, c: r]
assert V[a, b] V[a, c] == delta[b, c]
"""

OTHER = """\
dim m
tensor B[i: m, j: m]
assert B[i, j] B[j, k] != B[i, j] B[k, j]
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

#: the processes a test ran a REPL in (this one, and the spawned ones)
REPL_PIDS: list[int] = []


@pytest.fixture(autouse=True)
def no_folder_left_in_tmp():
    """No test leaves a ``diagalg-repl-PID`` folder (where `:draw` used to write) in the
    temporary directory, for this process or a REPL it spawned."""
    REPL_PIDS[:] = [os.getpid()]
    yield
    left = [p for p in (Path(tempfile.gettempdir()) / f"diagalg-repl-{pid}" for pid in REPL_PIDS) if p.exists()]
    assert not left, f"left behind: {left}"


def spawn(tmp_path: Path, *args: str):
    env = dict(
        os.environ,
        DIAGALG_HISTORY=str(tmp_path / "history"),
        PROMPT_TOOLKIT_NO_CPR="1",
        TERM="xterm",
        COLUMNS="160",
        LINES="50",
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "diagalg.cli", "repl", *args],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=int(os.environ.get("DIAGALG_PTY_TIMEOUT", "90")),
        dimensions=(50, 160),
    )
    REPL_PIDS.append(child.pid)
    child.expect("diag>")
    return child


def typed(child, line: str) -> None:
    """Type a line and press Enter."""
    child.send(line)
    child.send("\r")


def in_turn(*texts: str) -> str:
    """A pattern for ``texts`` shown one after the other (as in a completion menu),
    with only spaces, line breaks and escape sequences between them."""
    return r"(?:\s|\x1b\[[0-9;?]*[A-Za-z])+".join(map(re.escape, texts))


def screen(child) -> str:
    """What the last expect consumed, without escape sequences."""
    return ANSI.sub("", child.before or "").replace("\r", "")


def test_a_session_as_a_person_types_it(tmp_path):
    (tmp_path / "first.diag").write_text(FIRST)
    (tmp_path / "other.diag").write_text(OTHER)
    child = spawn(tmp_path, "first.diag")
    # the file given on the command line was checked like `diagalg check` does
    assert "first.diag:5: ok    assert V[a, b] V[a, c] == delta[b, c] [symbolic; exact]" in screen(child)

    # a declaration, then Tab completes the declared name
    typed(child, "tensor Weight[i: n, j: n]")
    child.expect("diag>")
    child.send("assert Wei\t")
    child.send("[i, j] Weight[j, k] == Weight[i, l] Weight[l, k]\r")
    child.expect(
        r"<repl>:\d+: ok    assert Weight\[i, j\] Weight\[j, k\] == Weight\[i, l\] Weight\[l, … "
        r"\[symbolic; exact\]"
    )
    child.expect("diag>")

    # a mistake is shown like `check` shows it, and the session goes on
    typed(child, "assert A[i, j] == Q[i, j]")
    child.expect(r"<repl>:(\d+):19: error: undeclared name 'Q'")
    child.expect(r"\^")
    assert "    assert A[i, j] == Q[i, j]\n" in screen(child)
    child.expect("diag>")

    # a calc block over several lines ends at an empty line
    typed(child, "calc V[a, b] V[a, c] R[c, d]")
    typed(child, "  = delta[b, c] R[c, d]   by isometry")
    typed(child, "")
    child.expect(r"<repl>:\d+: ok    = delta\[b, c\] R\[c, d\] by isometry \[step 1 by isometry; exact\]")
    child.expect("diag>")

    # an expression alone is shown simplified; with :trace its derivation follows
    typed(child, ":trace")
    child.expect("trace on")
    child.expect("diag>")
    typed(child, "V[a, b] V[a, c] R[c, d]")
    child.expect(r"ok    show V\[a, b\] V\[a, c\] R\[c, d\]")
    child.expect(r"by isometry \[check")
    child.expect("diag>")

    # :load checks another file and brings in its declarations
    typed(child, ":load other.diag")
    child.expect(r"other.diag:3: ok    assert B\[i, j\] B\[j, k\] != B\[i, j\] B\[k, j\] \[exact: differ\]")
    child.expect("diag>")
    typed(child, "assert B[i, j] delta[j, k] == B[i, k]")
    child.expect(r"ok    assert B\[i, j\] delta\[j, k\] == B\[i, k\]")
    child.expect("diag>")

    typed(child, ":help")
    child.expect(":load FILE")
    child.expect("diag>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    # the history was kept in the file named by DIAGALG_HISTORY ...
    history = (tmp_path / "history").read_text()
    assert "+assert B[i, j] delta[j, k] == B[i, k]" in history
    assert "+calc V[a, b] V[a, c] R[c, d]" in history
    # ... and a new session recalls it with the Up arrow
    child = spawn(tmp_path, "first.diag")
    typed(child, ":load other.diag")
    child.expect("loaded other.diag")
    child.expect("diag>")
    child.send("\x1b[A")  # Up: the previous line, ":load other.diag"
    child.send("\x1b[A")  # Up: the last line of the previous session, ":help"
    child.send("\x1b[A")  # Up: the line before it
    child.send("\r")
    child.expect(r"ok    assert B\[i, j\] delta\[j, k\] == B\[i, k\]")
    child.expect("diag>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_draw_writes_a_picture(tmp_path):
    pytest.importorskip("diagalg.render", reason="diagalg.render not merged")
    (tmp_path / "first.diag").write_text(FIRST)
    child = spawn(tmp_path, "first.diag")
    typed(child, ':draw V[a, b] V[a, c] R[c, d] to "chain.svg"')
    child.expect("wrote chain.svg")
    child.expect("diag>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    assert "<svg" in (tmp_path / "chain.svg").read_text()


def test_tab_after_by_lists_the_rules(tmp_path):
    (tmp_path / "first.diag").write_text(FIRST)
    child = spawn(tmp_path, "first.diag")
    typed(child, "rule tidy: V[a, b] V[a, c] -> delta[b, c]")
    child.expect(r"ok    rule tidy")
    child.expect("diag>")
    # Tab right after `by `: the session's rules, then the built-in ones
    child.send("V[a, b] V[a, c] R[c, d] by \t")
    child.expect(in_turn("tidy", "collect", "cyclic", "delta"))
    # Tab again takes the first, Enter runs it
    child.send("\t")
    child.send("\r")
    child.expect(r"<repl>:\d+: ok    show V\[a, b\] V\[a, c\] R\[c, d\] by tidy \[exact\]")
    child.expect("diag>")
    # after a comma in the list too: Tab twice takes the second
    child.send("V[a, b] V[a, c] R[c, d] by tidy, \t")
    child.expect(in_turn("tidy", "collect", "cyclic", "delta"))
    child.send("\t\t\r")
    child.expect(r"<repl>:\d+: ok    show V\[a, b\] V\[a, c\] R\[c, d\] by tidy, collect \[exact\]")
    child.expect("diag>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_tab_after_a_colon_lists_each_command_once(tmp_path):
    child = spawn(tmp_path)
    child.send(":\t")
    child.expect(in_turn(":quit", "leave"))
    menu = screen(child)
    entries = [line.split()[0] for line in menu.splitlines() if line.strip().startswith(":")]
    assert entries == [":help", ":load", ":draw", ":trace", ":names"], menu  # then :quit, matched above
    assert "(also :trace EXPR)" in menu
    child.send("\t\r")  # Tab again takes the first: :help
    child.expect("Commands:")
    child.expect("diag>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_every_input_gets_its_own_line_numbers_and_reads_as_typed(tmp_path):
    (tmp_path / "first.diag").write_text(FIRST)
    child = spawn(tmp_path, "first.diag")  # the loaded file is line 1 of <repl>
    # two different mistakes: two different lines
    typed(child, "assert A[i, j] == Q[i, j]")
    child.expect(r"<repl>:2:19: error: undeclared name 'Q'")
    child.expect("diag>")
    typed(child, "assert A[i, j] == A[j, k]")
    child.expect(r"<repl>:3:19: error: the two sides have different free labels")
    child.expect("diag>")
    # the next input comes after them; a line break inside brackets reads as typed
    typed(child, "assert V[a, b] V[a, c] == delta[b,")
    typed(child, "c]")
    child.expect(r"<repl>:4: ok    assert V\[a, b\] V\[a, c\] == delta\[b, c\] \[symbolic; exact\]")
    child.expect("diag>")
    typed(child, "V[a, b] V[a, c] R[c,")
    typed(child, "d]")
    child.expect(r"<repl>:6: ok    show V\[a, b\] V\[a, c\] R\[c, d\] \[")
    child.expect("diag>")
    typed(child, "assert V[a, b] V[a, c] == delta[b, c")
    child.expect(r"\.\.\.")  # an open bracket: Enter goes to the next line
    typed(child, "]")
    child.expect(r"<repl>:8: ok    assert V\[a, b\] V\[a, c\] == delta\[b, c\] \[symbolic; exact\]")
    child.expect("diag>")
    # a terminal session leaves with status 0 after mistakes too
    typed(child, ":quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_draw_without_to_writes_in_the_current_directory(tmp_path):
    pytest.importorskip("diagalg.render", reason="diagalg.render not merged")
    (tmp_path / "first.diag").write_text(FIRST)
    before = set(Path(tempfile.gettempdir()).glob("diagalg-repl-*"))
    child = spawn(tmp_path, "first.diag")
    typed(child, ":help")
    child.expect(r"without\s+`to`, to drawN.svg in the current directory")
    child.expect("diag>")
    typed(child, ":draw V[a, b] V[a, c] R[c, d]")
    child.expect("wrote draw1.svg")
    child.expect("diag>")
    typed(child, ":draw V[a, b] V[a, c]")
    child.expect("wrote draw2.svg")
    child.expect("diag>")
    pid = child.pid
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    assert "<svg" in (tmp_path / "draw1.svg").read_text()
    assert "<svg" in (tmp_path / "draw2.svg").read_text()
    assert not (Path(tempfile.gettempdir()) / f"diagalg-repl-{pid}").exists()
    assert not set(Path(tempfile.gettempdir()).glob("diagalg-repl-*")) - before


# --------------------------------------------------------------------------- without a terminal


def test_session_numbers_lines_across_inputs_and_forgets_bad_input(tmp_path):
    s = Session(base_dir=tmp_path)
    assert s.execute("dim n\ntensor A[i: n, j: n]") == ""
    assert s.execute("assert A[i, j] == A[j, k]").splitlines() == [
        "<repl>:3:19: error: the two sides have different free labels: i only on the left; k only on the right",
        "    assert A[i, j] == A[j, k]",
        "                      ^",
    ]
    # the bad line keeps its number (not its content): the next input is line 4
    assert s.execute("assert A[i, j] != A[j, i]").startswith(
        "<repl>:4: ok    assert A[i, j] != A[j, i] [exact: differ]"
    )
    # an expression alone: the caret points into what was typed (line 5)
    assert s.execute("A[i, j] B[j, k]").splitlines() == [
        "<repl>:5:9: error: undeclared name 'B'",
        "    A[i, j] B[j, k]",
        "            ^",
    ]
    assert s.execute(":names") == "dims: n\ntensors: A"  # a command takes no line
    assert s.execute("# a comment alone") == ""  # line 6
    assert s.execute("A[i, j] A[j, k]   # a product").startswith("<repl>:7: ok    show A[i, j] A[j, k] [exact]")
    # a statement over several lines takes them all; one with an error too
    assert s.execute("assert A[i, j] ==\n  A[i, k]").startswith("<repl>:9:3: error:")
    assert s.execute("assert A[i,\n j] == A[i, j]").startswith("<repl>:10: ok    assert A[i, j] == A[i, j] [")
    assert s.execute("A[i, j] A[j,\n k]").startswith("<repl>:12: ok    show A[i, j] A[j, k] [exact]")
    assert s.execute("A[i, j]").startswith("<repl>:14: ok    show A[i, j] [exact]")


def test_statements_over_several_lines_read_as_typed(tmp_path):
    s = Session(base_dir=tmp_path)
    s.execute("dim n\ntensor A[i: n, j: n]")
    assert s.execute("assert A[i, j] A[j, k] == A[i, l] A[l, k\n]").startswith(
        "<repl>:3: ok    assert A[i, j] A[j, k] == A[i, l] A[l, k] [symbolic; exact]"
    )
    assert s.execute("A[i, j] (\n  A[j, k]\n  + A[k, j]\n)").startswith(
        "<repl>:5: ok    show A[i, j] (A[j, k] + A[k, j]) [exact]"
    )
    assert s.execute("calc A[i, j] A[j, k]\n  = A[i, j] A[\n    j, k]\n\n").startswith(
        "<repl>:10: ok    = A[i, j] A[j, k] [step 1 by default rules; exact]"
    )
    # spaces typed inside brackets on one line are kept
    assert s.execute("A[ i, j ]").startswith("<repl>:12: ok    show A[ i, j ] [exact]")


def test_loaded_file_counts_in_the_singular(tmp_path):
    (tmp_path / "one.diag").write_text("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[i, j]\n")
    (tmp_path / "dims.diag").write_text("dim m\n")
    s = Session(base_dir=tmp_path)
    assert (
        s.execute(f":load {tmp_path / 'one.diag'}").splitlines()[-1]
        == f"loaded {tmp_path / 'one.diag'}: 1 statement checked, 2 names declared"
    )
    assert (
        s.execute(f":load {tmp_path / 'dims.diag'}").splitlines()[-1]
        == f"loaded {tmp_path / 'dims.diag'}: 0 statements checked, 1 name declared"
    )


def test_draw_never_overwrites_a_drawing(tmp_path):
    pytest.importorskip("diagalg.render", reason="diagalg.render not merged")
    (tmp_path / "draw1.svg").write_text("mine")
    s = Session(base_dir=tmp_path)
    s.execute("dim n\ntensor A[i: n, j: n]")
    assert s.execute(":draw A[i, j] A[j, k]") == f"wrote {tmp_path / 'draw2.svg'}"
    assert (tmp_path / "draw1.svg").read_text() == "mine"
    assert "<svg" in (tmp_path / "draw2.svg").read_text()


def test_a_refused_rule_stays_refused(tmp_path):
    s = Session(base_dir=tmp_path)
    s.execute("dim n\ntensor A[i: n, j: n]")
    assert "rule refused" in s.execute("rule flip: A[i, j] -> A[j, i]")
    assert "uses rule 'flip', which was refused at line 3" in s.execute("assert A[i, j] == A[j, i] by flip")


def test_draw_without_a_renderer_says_so(tmp_path):
    s = Session(base_dir=tmp_path)
    s.execute("dim n\ntensor A[i: n, j: n]")
    out = s.execute(":draw A[i, j] A[j, k]")
    try:
        import diagalg.render  # noqa: F401
    except ImportError:
        assert out == "cannot draw: this diagalg has no renderer (diagalg.render is not installed)"
    else:
        assert out.startswith("wrote ")
    assert s.execute(":draw A[i, j] Z[j, k]").splitlines() == [
        "<repl>:1:9: error: undeclared name 'Z'",
        "    A[i, j] Z[j, k]",
        "            ^",
    ]


@pytest.mark.parametrize(
    "text, complete",
    [
        ("assert A[i, j] == B[i, j]", True),
        ("assert A[i,", False),  # open bracket
        ("assert A[i, j] ==", False),  # trailing operator
        ("assert A[i, j) == B", True),  # a mismatched bracket is submitted: the error says where
        ("calc A[i, j]", False),  # a calc block ...
        ("calc A[i, j]\n  = B[i, j] by delta", False),
        ("calc A[i, j]\n  = B[i, j] by delta\n", True),  # ... ends at an empty line
        (":help", True),
        ("", True),
    ],
)
def test_when_enter_submits(text, complete):
    assert input_complete(text) is complete


def test_piped_input_is_echoed_and_checked(tmp_path):
    """`diagalg repl < script`: no terminal, the same results, the inputs echoed."""
    import subprocess

    script = (
        "dim n, r <= n\ntensor V[a: n, b: r] isometry(b -> a)\n"
        "calc V[a, b] V[a, c] V[d, c]\n  = delta[b, c] V[d, c]   by isometry\n\n"
        "V[a, b] == W\n:quit\nnever read\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "diagalg.cli", "repl"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr  # the static error, as `diagalg check` would say
    lines = run.stdout.splitlines()
    assert lines[:6] == [
        "diag> dim n, r <= n",
        "diag> tensor V[a: n, b: r] isometry(b -> a)",
        "diag> calc V[a, b] V[a, c] V[d, c]",
        "  ...   = delta[b, c] V[d, c]   by isometry",
        "  ...",
        lines[5],
    ]
    assert lines[5].startswith("<repl>:4: ok    = delta[b, c] V[d, c] by isometry [step 1 by isometry; exact]")
    assert lines[6:] == [
        "diag> V[a, b] == W",
        "<repl>:5:9: error: unexpected '=='; expected 'by', end of line",
        "    V[a, b] == W",
        "            ^",
        "diag> :quit",
    ]


@pytest.mark.parametrize(
    "script, status",
    [
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[i, j]\n", 0),
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[j, i]\n", 1),  # a failure
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == Q[i, j]\n", 2),  # a static error
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == Q[i, j]\nassert A[i, j] == A[j, i]\n", 2),
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[j, i]\n:quit\n", 1),  # :quit keeps it
        ("dim n\n:frobnicate\n", 2),  # a wrong command
        ("dim n\n:load missing.diag\n", 2),
        ("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[j, i]\n", None),  # the same as check
    ],
)
def test_piped_input_exits_as_check_would(tmp_path, script, status):
    """`diagalg repl < session.txt` exits with `diagalg check`'s status for the session."""
    import subprocess

    run = subprocess.run(
        [sys.executable, "-m", "diagalg.cli", "repl"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    if status is None:
        (tmp_path / "session.diag").write_text(script)
        status = subprocess.run(
            [sys.executable, "-m", "diagalg.cli", "check", "session.diag"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        ).returncode
    assert run.returncode == status, run.stdout + run.stderr
