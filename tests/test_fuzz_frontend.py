"""Fuzzing the front end: generated and mutated ``.diag`` text gives a result or a
positioned error, never a traceback, an internal error or a hang.

Seeds are the example files and the nasty-input corpus (tests/corpus/). Each
hypothesis example mutates a seed (deletes, duplicates or swaps spans and lines,
inserts tokens of the language, random characters and unicode) or builds a token
soup from the language's vocabulary. The text is parsed and lowered
(``diagalg.parse``); when that succeeds, its statements are run by the checker.
Allowed outcomes: a :class:`diagalg.SourceError` with a line and column inside
the text (rendered with the source line and a caret), or results none of which
is an internal error. Each example runs under an alarm (:data:`LIMIT_S`): a hang
fails the test instead of stalling the suite.

``make fuzz`` runs the same properties with more examples
(``DIAGALG_FUZZ_EXAMPLES``, default 60 inside ``make test``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import diagalg
from diagalg.checker import INTERNAL, Checker, Options

# the lowering raises the recursion limit to 20,000 on first use; do it up front so that
# hypothesis does not warn that the limit changed during a test
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
EXAMPLES = int(os.environ.get("DIAGALG_FUZZ_EXAMPLES", "40"))
LIMIT_S = int(os.environ.get("DIAGALG_FUZZ_LIMIT_S", "30"))

#: Seed texts: every example and the small corpus files (the big generated ones are
#: exercised by test_corpus.py; mutating them would only be slow).
SEEDS = sorted(
    p.read_bytes().decode("utf-8", errors="replace")
    for p in list((ROOT / "examples").rglob("*.diag")) + list(CORPUS.glob("*.diag"))
    if p.stat().st_size < 4000
)

TOKENS = [
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "==",
    "!=",
    "=",
    "+",
    "-",
    "*",
    "/",
    "**",
    "->",
    "<=",
    ">=",
    "<",
    ">",
    "inv(",
    "conj(",
    "delta",
    "delta[i, j]",
    "keep[i](",
    "exp(",
    "log(",
    "sqrt(",
    "softmax[",
    "shift[",
    "diff(",
    "group[",
    "split[",
    "rule",
    "let",
    'import "missing.diag"',
    'import "',
    "dim",
    "dim n",
    "tensor",
    "tensor Q[i: n]",
    "func",
    "assert",
    "assert numeric",
    "show",
    "calc",
    "expand",
    "top",
    "symmetric",
    "antisymmetric",
    "isometry(b -> a)",
    "invertible",
    "unitary",
    "posdef",
    "complex",
    "by",
    "using",
    "over",
    "\n",
    "\n\n",
    "  ",
    "\t",
    "#",
    "\\\n",
    "0",
    "1",
    "-1",
    "2.5",
    "1e308",
    "99999999999999999999999",
    "1e999999999",
    "1e-999999",
    "1/0",
    "n",
    "i",
    "j",
    "A",
    "X",
    "é",
    "\u00a0",
    "\ufeff",
    "\u200b",
    "\u202e",
    "😀",
    "\x00",
    "\r",
    "\r\n",
    "'",
    '"',
    "$",
    "@",
    "{",
    "}",
    ";",
    "...",
    "__import__('os')",
]

LIMIT_EXCEEDED = "the front end took longer than the fuzz limit"


class Hang(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int):
    def on_alarm(signum, frame):  # noqa: ARG001
        raise Hang(LIMIT_EXCEEDED)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def front_end(text: str, base_dir: Path) -> str:
    """Parse, lower and run ``text``; returns "error" or "result". Fails the test on
    anything else: another exception, an unpositioned error, an internal-error
    result, or a run past :data:`LIMIT_S`."""
    with alarm(LIMIT_S):
        try:
            program = diagalg.parse(text, "fuzz.diag", base_dir)
        except diagalg.SourceError as e:
            lines = text.splitlines() or [""]
            assert 1 <= e.line <= max(len(lines), 1) + 1, f"error outside the text: {e.render()}"
            assert e.col >= 1, f"error without a column: {e.render()}"
            rendered = e.render()
            assert rendered.startswith(f"fuzz.diag:{e.line}:{e.col}: error: "), rendered
            if e.line <= len(lines):
                assert rendered.endswith("^"), rendered
            return "error"
        results = Checker(program, Options(checked=False)).run()
    internal = [r for r in results if r.status == INTERNAL]
    assert not internal, internal[0].line(200)
    return "result"


@st.composite
def mutated(draw) -> str:
    """A seed with 1-6 random edits."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "char", "lines", "swap"]))
        n = len(text)
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, min(n, a + 40)))
        if kind == "delete":
            text = text[:a] + text[b:]
        elif kind == "duplicate":
            text = text[:b] + text[a:b] * draw(st.integers(1, 3)) + text[b:]
        elif kind == "insert":
            text = text[:a] + draw(st.sampled_from(TOKENS)) + text[a:]
        elif kind == "char":
            text = text[:a] + draw(st.characters(codec="utf-8")) + text[a + 1 :]
        elif kind == "lines":
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            c = draw(st.integers(b, n))
            text = text[:a] + text[b:c] + text[a:b] + text[c:]
    return text


PRELUDE = "dim n, m\ntensor A[i: n, j: n]\ntensor X[i: n, j: n] invertible\ntensor v[i: n]\n"


@st.composite
def token_soup(draw) -> str:
    """The usual declarations, then a few lines of random tokens of the language."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        lines.append(" ".join(draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12))))
    return PRELUDE + "\n".join(lines) + "\n"


# `make test` draws the same examples every run; `make fuzz` (HYPOTHESIS_PROFILE=explore) fresh ones
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("HYPOTHESIS_PROFILE", "ci") != "explore",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(text=mutated())
def test_mutated_text_gives_a_result_or_a_positioned_error(text: str, tmp_path_factory) -> None:
    front_end(text, tmp_path_factory.getbasetemp())


@FUZZ
@given(text=token_soup())
def test_token_soup_gives_a_result_or_a_positioned_error(text: str, tmp_path_factory) -> None:
    front_end(text, tmp_path_factory.getbasetemp())


@FUZZ
@given(text=st.text(st.characters(codec="utf-8"), max_size=200))
def test_arbitrary_text_gives_a_result_or_a_positioned_error(text: str, tmp_path_factory) -> None:
    front_end(text, tmp_path_factory.getbasetemp())


def test_alarm_stops_a_hang() -> None:
    """The hang guard itself works (a guard that never fires would hide hangs)."""
    with pytest.raises(Hang):
        with alarm(1):
            while True:
                pass
