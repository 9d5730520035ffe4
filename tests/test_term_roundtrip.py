"""Every printed term of ``expand`` and ``paths`` is valid ``.diag``: parsed back with
the file's declarations it is an equal expression (judged numerically on random
instances). Sibling sums in one term must not share a summed label, which the
printer once did (``(tok[k, t2] WE[t2, a2] + …) … (tok[k1, t2] …)``)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import circuit_model as cm
import diagalg
from diagalg.checker import _plain, _term_text
from diagalg.engine import unfold
from diagalg.expand import expand_terms, paths, skip_tags
from diagalg.model import Expr
from diagalg.numeric.check import compare
from diagalg.term_text import let_folds

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.diag"))
PER_STATEMENT = 12


def expansion_terms(program):
    for st in program.statements:
        if not hasattr(st, "over") or not hasattr(st, "kind"):
            continue
        start = unfold(st.expr)
        over = dict(st.over)
        yield from itertools.islice(expand_terms(start, over), PER_STATEMENT)
        yield from (p.term for p in itertools.islice(paths(start, over, skip_tags(st.expr)), PER_STATEMENT))


def assert_round_trip(program, term) -> None:
    """Both printed forms parse back to an equal expression: the full one, and the short
    one listings print, with lets folded into their names (diagalg.term_text)."""
    plain = _plain(term)
    expr = Expr.of([plain], {label: plain.diagram.dims[e] for label, e in plain.diagram.free})
    full = _term_text(term)
    short = _term_text(term, folds_of(program))
    assert len(short) <= len(full)
    for text in {full, short}:
        try:
            back = program.expr(text)
        except diagalg.SourceError as err:
            pytest.fail(f"printed term does not parse back: {text}\n{err.render()}")
        result = compare(expr, back, program.env)
        assert result.status == "equal", f"{text}: {result.status} {result.reason}"


_FOLDS: dict[int, tuple] = {}


def folds_of(program):
    if id(program) not in _FOLDS:
        _FOLDS[id(program)] = (let_folds(program.lets), program)
    return _FOLDS[id(program)][0]


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if any(line.startswith(("expand ", "paths ")) for line in p.read_text().splitlines())],
    ids=lambda p: p.name,
)
def test_every_example_term_prints_and_parses_back(path):
    program = diagalg.load(path)
    terms = list(expansion_terms(program))
    assert terms
    for t in terms:
        assert_round_trip(program, t)


def test_terms_with_sibling_sums_of_an_embedding_parse_back(tmp_path):
    """The planted model: the embedding let is a sum used on both sides of layer 2's
    scores, inside layer 1's softmax, so one printed term holds many sibling sums."""
    cm.write_model(tmp_path)
    text = (
        cm.DIAG + "let S2[q, k] = onehot(1)[g] y1[q, a] WQ2[g, a, f] WK2[g, b, f] y1[k, b] / sqrt(dh)\n"
        "expand S2[q, k] over h\npaths S2[q, k] over h\n"
    )
    (tmp_path / "m.diag").write_text(text)
    program = diagalg.load(tmp_path / "m.diag")
    terms = list(expansion_terms(program))
    assert len(terms) == 4 * PER_STATEMENT  # two statements, each as expand and as paths
    for t in terms:
        assert_round_trip(program, t)


def test_the_short_form_folds_lets_and_stays_much_shorter(tmp_path):
    """The planted model's layer-2 scores: every listed term holds layer 1's softmax; the
    short form names it ``A1[...]`` (and, in paths, the embedding sum ``x[...]``)."""
    cm.write_model(tmp_path)
    (tmp_path / "m.diag").write_text(
        cm.DIAG + "let S2[q, k] = onehot(1)[g] y1[q, a] WQ2[g, a, f] WK2[g, b, f] "
        "y1[k, b] / sqrt(dh)\nexpand S2[q, k] over h\npaths S2[q, k] over h\n"
    )
    program = diagalg.load(tmp_path / "m.diag")
    folds = folds_of(program)
    st = [s for s in program.statements if hasattr(s, "over") and hasattr(s, "kind")]
    expand_term = next(t for t in expand_terms(unfold(st[0].expr), dict(st[0].over)) if "attn1" in t.tags)
    path_term = next(
        p for p in paths(unfold(st[1].expr), dict(st[1].over), skip_tags(st[1].expr)) if "attn1" in p.term.tags
    ).term
    for t, name in ((expand_term, "A1["), (path_term, "x[")):
        short, full = _term_text(t, folds), _term_text(t)
        assert name in short and "softmax" not in short and "softmax" in full
        assert 2 * len(short) < len(full)


def test_selections_print_as_selections_and_parse_back(tmp_path):
    """A onehot meeting tensor legs prints as a selection ``WQ2[h=1, a, f]`` (issue 17
    item 2), in both the expanded heads of ``over h`` and one written in the source."""
    cm.write_model(tmp_path)
    text = (
        cm.DIAG + "let S2[q, k] = y1[q, a] WQ2[h=1, a, f] WK2[h=1, b, f] y1[k, b] / sqrt(dh)\n"
        "expand S2[q, k] over h\npaths S2[q, k] over h\n"
    )
    (tmp_path / "m.diag").write_text(text)
    program = diagalg.load(tmp_path / "m.diag")
    terms = list(expansion_terms(program))
    assert terms
    for t in terms:
        assert "WQ2[h=1, a, f]" in _term_text(t) and "onehot(1)" not in _term_text(t).split("WK2")[0][-40:]
        assert_round_trip(program, t)
    # frozen patterns: every head's onehot meets only tensor legs, so all print as selections
    frozen = diagalg.parse(
        "dim heads = 3, seq, d\ntensor x[s: seq, e: d]\ntensor F1[h: heads, q: seq, k: seq]\n"
        "tensor OV1[h: heads, a: d, e: d]\n"
        "let y1[q, e] = skip1: x[q, e] + attn1: F1[h, q, k] x[k, a] OV1[h, a, e]\n"
        "expand y1[q, e] x[k, e] over h\npaths y1[q, e] over h\n"
    )
    heads = [t for t in expansion_terms(frozen) if "attn1" in t.tags]
    assert len(heads) == 12  # two statements, each as expand and as paths, 3 heads
    for t in heads:
        assert re.search(r"F1\[h=\d, q, k\d*\] x\[k\d*, a\] OV1\[h=\d, a, e\]", _term_text(t)), _term_text(t)
        assert "onehot" not in _term_text(t)
        assert_round_trip(frozen, t)
