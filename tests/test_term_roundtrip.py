"""Every printed term of ``expand`` and ``paths`` is valid ``.diag``: parsed back with
the file's declarations it is an equal expression (judged numerically on random
instances). Sibling sums in one term must not share a summed label, which the
printer once did (``(tok[k, t2] WE[t2, a2] + …) … (tok[k1, t2] …)``)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import diagalg
import circuit_model as cm
from diagalg.checker import _plain, _term_text
from diagalg.engine import unfold
from diagalg.expand import expand_terms, paths, skip_tags
from diagalg.model import Expr
from diagalg.numeric.check import compare

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
    plain = _plain(term)
    expr = Expr.of([plain], {label: plain.diagram.dims[e] for label, e in plain.diagram.free})
    text = _term_text(term)
    try:
        back = program.expr(text)
    except diagalg.SourceError as err:
        pytest.fail(f"printed term does not parse back: {text}\n{err.render()}")
    result = compare(expr, back, program.env)
    assert result.status == "equal", f"{text}: {result.status} {result.reason}"


@pytest.mark.parametrize("path", [p for p in EXAMPLES if any(
    line.startswith(("expand ", "paths ")) for line in p.read_text().splitlines())], ids=lambda p: p.name)
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
    text = cm.DIAG + "let S2[q, k] = onehot(1)[g] y1[q, a] WQ2[g, a, f] WK2[g, b, f] y1[k, b] / sqrt(dh)\n" \
        "expand S2[q, k] over h\npaths S2[q, k] over h\n"
    (tmp_path / "m.diag").write_text(text)
    program = diagalg.load(tmp_path / "m.diag")
    terms = list(expansion_terms(program))
    assert len(terms) == 4 * PER_STATEMENT   # two statements, each as expand and as paths
    for t in terms:
        assert_round_trip(program, t)
