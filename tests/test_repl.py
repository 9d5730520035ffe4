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


def spawn(tmp_path: Path, *args: str):
    env = dict(os.environ, DIAGALG_HISTORY=str(tmp_path / "history"), PROMPT_TOOLKIT_NO_CPR="1",
               TERM="xterm", COLUMNS="160", LINES="50")
    child = pexpect.spawn(sys.executable, ["-m", "diagalg.cli", "repl", *args], env=env, cwd=str(tmp_path),
                          encoding="utf-8", timeout=int(os.environ.get("DIAGALG_PTY_TIMEOUT", "90")), dimensions=(50, 160))
    child.expect("diag>")
    return child


def typed(child, line: str) -> None:
    """Type a line and press Enter."""
    child.send(line)
    child.send("\r")


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
    child.expect(r"<repl>:\d+: ok    assert Weight\[i, j\] Weight\[j, k\] == Weight\[i, l\] Weight\[l, … "
                 r"\[symbolic; exact\]")
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


# --------------------------------------------------------------------------- without a terminal


def test_session_numbers_lines_across_inputs_and_forgets_bad_input(tmp_path):
    s = Session(base_dir=tmp_path)
    assert s.execute("dim n\ntensor A[i: n, j: n]") == ""
    assert s.execute("assert A[i, j] == A[j, k]").splitlines() == [
        "<repl>:3:19: error: the two sides have different free labels: i only on the left; k only on the right",
        "    assert A[i, j] == A[j, k]",
        "                      ^",
    ]
    # the bad line was not kept: the next input is line 3 again
    assert s.execute("assert A[i, j] != A[j, i]").startswith("<repl>:3: ok    assert A[i, j] != A[j, i] [exact: differ]")
    # an expression alone: the caret points into what was typed
    assert s.execute("A[i, j] B[j, k]").splitlines()[1:] == ["    A[i, j] B[j, k]", "            ^"]
    assert s.execute(":names") == "dims: n\ntensors: A"
    assert s.execute("# a comment alone") == ""
    assert s.execute("A[i, j] A[j, k]   # a product").startswith("<repl>:4: ok    show A[i, j] A[j, k] [exact]")


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
        "<repl>:1:9: error: undeclared name 'Z'", "    A[i, j] Z[j, k]", "            ^"]


@pytest.mark.parametrize("text, complete", [
    ("assert A[i, j] == B[i, j]", True),
    ("assert A[i,", False),                      # open bracket
    ("assert A[i, j] ==", False),                # trailing operator
    ("assert A[i, j) == B", True),               # a mismatched bracket is submitted: the error says where
    ("calc A[i, j]", False),                     # a calc block ...
    ("calc A[i, j]\n  = B[i, j] by delta", False),
    ("calc A[i, j]\n  = B[i, j] by delta\n", True),   # ... ends at an empty line
    (":help", True),
    ("", True),
])
def test_when_enter_submits(text, complete):
    assert input_complete(text) is complete


def test_piped_input_is_echoed_and_checked(tmp_path):
    """`diagalg repl < script`: no terminal, the same results, the inputs echoed."""
    import subprocess

    script = ("dim n, r <= n\ntensor V[a: n, b: r] isometry(b -> a)\n"
              "calc V[a, b] V[a, c] V[d, c]\n  = delta[b, c] V[d, c]   by isometry\n\n"
              "V[a, b] == W\n:quit\nnever read\n")
    run = subprocess.run([sys.executable, "-m", "diagalg.cli", "repl"], input=script, capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
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
    assert lines[6:] == ["diag> V[a, b] == W", "<repl>:5:9: error: unexpected '=='; expected 'by', end of line",
                         "    V[a, b] == W", "            ^", "diag> :quit"]
