"""``inv`` and ``det`` of an expression (issue 14): the language, the oracle, the rules.

* ``inv[k -> i](E)``, ``det[k -> i](E)``, ``inv(E)`` and ``det(E)`` parse, print back
  to what parses to the same expression, and report their misuse at the place;
  ``det`` is a soft word (a tensor named det keeps working);
* the oracle: the float value against numpy, the exact determinant mod p against
  sympy's, the derivative (Jacobi's formula) against the oracle's own derivative;
* the rules inverse_expr, inverse_product, det_product and det_inverse: every site
  keeps the value on random instances (hypothesis over coefficients and the way
  each factor is read), each fires on its example, a deliberately sloppy version of
  each is caught by the same check, and near-misses (a missing transpose, a dropped
  sign, a wrong exponent) are refuted numerically.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.bubbles.matrix import det_mod_p
from diagalg.checker import Checker, Options
from diagalg.errors import SourceError
from diagalg.model import Expr, Node, TensorOp, Term, replace_node
from diagalg.numeric.check import compare
from diagalg.numeric.modp import Field
from diagalg.rules.base import Edit, apply_edits
from diagalg.rules.det_inverse import DetInverseRule
from diagalg.rules.det_product import DetProductRule
from diagalg.rules.inverse_expr import InverseExprRule
from diagalg.rules.inverse_product import InverseProductRule
from diagalg.rules.unitary_inverse import UnitaryInverseRule

DECLS = """\
dim n, m
tensor X[i: n, j: n] invertible
tensor Y[i: n, j: n] invertible
tensor U[a: n, b: n] unitary(b -> a)
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor R[i: n, j: m]
tensor W[i: n, j: m, k: n, l: m] invertible(k, l -> i, j)
"""
PROG = diagalg.parse(DECLS)
ROOT = Path(__file__).resolve().parent.parent


def run(statements: str, seed: int = 0) -> list:
    return Checker(diagalg.parse(DECLS + statements), Options(seed=seed)).run()


def statuses(statements: str) -> list[str]:
    return [r.status for r in run(statements)]


# --------------------------------------------------------------------------- the language


@pytest.mark.parametrize(
    "text",
    [
        "inv(X[i, j] + A[i, j])",
        "det(A[i, k] B[k, j])",
        "inv[k, l -> i, j](W[i, j, k, l])",
        "det[k, l -> i, j](W[i, j, k, l]) + 1",
        "inv(inv(X[i, j] + A[i, j]))",
        "A[i, j] inv(X[k, j] + 2 A[k, j])",
    ],
)
def test_printing_parses_back(text):
    e = PROG.expr(text)
    again = PROG.expr(diagalg.to_text(e))
    assert compare(e, again, PROG.env, seed=1).status == "equal"


def test_det_is_a_soft_word():
    prog = diagalg.parse(
        "dim n\ntensor det[i: n, j: n]\ntensor A[i: n, j: n]\n"
        "assert det[i, j] + det(A[i, j]) delta[i, j] == det[j, i] + det(A[j, i]) delta[i, j] \\\n"
        "    + det[i, j] - det[j, i]\n"
    )
    assert [r.status for r in Checker(prog, Options()).run()] == ["ok"]


@pytest.mark.parametrize(
    "statement, message",
    [
        ("show inv(W[i, j, k, l])", "inv(E) needs an E with two free labels"),
        ("show inv(R[i, j])", "not a square matrix"),
        ("show det[k -> i](W[i, j, k, l])", "gives no role to the free labels j, l"),
        ("show inv[q -> i](A[i, j])", "label 'q' is not free"),
        ("show inv(A)", "or write inv(A[i, j]) for the inverse of the expression"),
    ],
)
def test_misuse_is_reported_at_its_place(statement, message):
    with pytest.raises(SourceError, match=re.escape(message)) as err:
        diagalg.parse(DECLS + statement + "\n")
    assert f":{DECLS.count(chr(10)) + 1}:" in str(err.value)


def test_inv_of_a_let_is_the_inverse_of_its_definition():
    assert statuses("let M[i, j] = X[i, j] + A[i, j]\nassert inv(M)[j, k] == inv(X[k, j] + A[k, j])\n") == ["ok"]


# --------------------------------------------------------------------------- the oracle


def test_float_values_are_numpys():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 3, 2))
    from diagalg.bubbles import det, inv

    mat = x.reshape(6, 6)  # outputs (axes 0, 1) are the rows, inputs (2, 3) the columns
    got = inv.apply(x, (2, 3, 0, 1), 2.0)
    assert np.allclose(got.transpose(2, 3, 0, 1).reshape(6, 6), np.linalg.inv(mat))
    assert np.isclose(det.apply(x, (2, 3, 0, 1), 2.0), np.linalg.det(mat))


@pytest.mark.parametrize("complex_", [False, True])
def test_exact_determinant_is_sympys(complex_):
    field = Field(1000003)
    rng = np.random.default_rng(1)
    m = field.uniform((4, 4), rng, complex_)
    ref = sympy.Matrix(4, 4, lambda r, c: int(m[r, c].real) + (sympy.I * int(m[r, c].imag) if complex_ else 0)).det()
    ref = sympy.expand(ref)
    got = det_mod_p(m, field)
    re, im = sympy.re(ref) % field.p, sympy.im(ref) % field.p
    assert (int(got.real), int(got.imag) if complex_ else 0) == (int(re), int(im))


def test_the_exact_path_decides_inverses_and_determinants():
    results = run(
        "assert det(A[i, k] B[k, j]) == det(A[i, j]) det(B[i, j])\n"
        "assert inv(X[i, j] + A[i, j]) != inv(X[i, j]) + inv(A[i, j])\n"
    )
    assert all(r.status == "ok" and "exact" in r.detail for r in results), [r.detail for r in results]


# --------------------------------------------------------------------------- the rules: identities and near-misses


def test_the_example_file_proves():
    res = Checker(diagalg.parse((ROOT / "examples/calculus/determinants.diag").read_text()), Options()).run()
    assert res and all(r.status == "ok" for r in res), [(r.line, r.status) for r in res if r.status != "ok"]


IDENTITIES = """\
assert inv(X[i, j]) == inv(X)[j, i]
assert inv(3 inv(X)[j, i]) == X[i, j] / 3
assert inv(inv(X[i, j] + A[i, j])) == X[i, j] + A[i, j]
assert inv(X[i, k] Y[k, l] X[l, j]) == inv(X)[k, i] inv(Y)[l, k] inv(X)[j, l]
assert inv(X[k, i] Y[k, j]) == inv(X)[i, k] inv(Y)[j, k]
assert det(A[i, k] B[k, l] A[j, l]) == det(A[i, j]) det(B[i, j]) det(A[i, j])
assert det(inv(X[i, j] + A[i, j])) == pow(det(X[i, j] + A[i, j]), -1)
assert det(inv(X)) == pow(det(X[i, j]), -1)
assert diff(det(X[i, j]), X[p, q]) == det(X[i, j]) inv(X)[q, p]
assert inv(U[a, b]) == conj(U)[a, b]
"""

NEAR_MISSES = """\
assert inv(X[i, j]) != inv(X)[i, j]
assert inv(X[i, k] Y[k, j]) != inv(X)[i, k] inv(Y)[k, j]
assert inv(X[i, k] Y[k, j]) != -inv(X)[k, i] inv(Y)[j, k]
assert det(A[i, k] B[k, j]) != -det(A[i, j]) det(B[i, j])
assert det(inv(X)) != pow(det(X[i, j]), -2)
assert diff(det(X[i, j]), X[p, q]) != det(X[i, j]) inv(X)[p, q]
assert inv(2 X[i, j]) != 2 inv(X)[j, i]
assert inv(U[a, b]) != conj(U)[b, a]
"""


def test_identities_prove_and_near_misses_are_refuted():
    res = run(IDENTITIES + NEAR_MISSES)
    bad = [(r.line, r.status, r.detail) for r in res if r.status != "ok"]
    assert not bad


def test_undeclared_factors_are_not_inverted():
    """(AB)⁻¹ = B⁻¹A⁻¹ needs invertible factors: A and B are not declared so, and the
    rule leaves the inverse alone (and it is no identity: R R'ᵀ has no factor inverses)."""
    e = PROG.expr("inv(A[i, k] B[k, j])")
    assert not list(InverseProductRule().match(e.terms[0].diagram))
    e = PROG.expr("det(R[i, k] R[j, k])")  # a chain, but R is not square
    assert not list(DetProductRule().match(e.terms[0].diagram))


# --------------------------------------------------------------------------- property: sites keep the value


def _rewritten(rule, term: Term, free) -> list[Expr]:
    out = []
    for site in rule.match(term.diagram):
        r = rule.rewrite(term.diagram, site)
        if isinstance(r, list):
            out.append(Expr.of([Term(term.coeff * c, d) for c, d in r], free))
        else:
            assert isinstance(r, Edit)
            factor, d2 = apply_edits(term.diagram, [r])
            out.append(Expr.of([Term(term.coeff * factor, d2)], free))
    return out


def _sites_keep_value(rule, text: str, seed: int) -> tuple[int, list[str]]:
    expr = PROG.expr(text)
    fired, problems = 0, []
    for term in expr.terms:
        for after in _rewritten(rule, term, expr.free_dims):
            fired += 1
            res = compare(Expr.of([term], expr.free_dims), after, PROG.env, seed=seed)
            if res.status != "equal":
                problems.append(f"{rule.name} on {text}: {res.status}")
    return fired, problems


_FACTORS = ["X[{a}, {b}]", "X[{b}, {a}]", "inv(X)[{a}, {b}]", "Y[{a}, {b}]", "inv(Y)[{b}, {a}]", "A[{a}, {b}]"]


@st.composite
def chains(draw: st.DrawFn) -> str:
    """A chain of two or three matrices between i and j, each read either way, times c."""
    k = draw(st.integers(2, 3))
    names = ["i"] + [f"k{t}" for t in range(k - 1)] + ["j"]
    factors = [draw(st.sampled_from(_FACTORS)).format(a=names[t], b=names[t + 1]) for t in range(k)]
    c = draw(st.sampled_from(["", "2 ", "-1/3 "]))
    return c + " ".join(factors)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(), st.integers(0, 3))
def test_inverse_and_det_rules_keep_the_value_where_they_fire(chain, seed):
    for rule, text in (
        (InverseProductRule(), f"inv({chain})"),
        (InverseExprRule(), f"inv({chain.split(' X')[0]})"),
        (DetProductRule(), f"det({chain.lstrip('-/0123456789 ')})"),
        (DetInverseRule(), f"det(inv({chain}))"),
        (InverseExprRule(), f"inv(inv({chain}))"),
    ):
        try:
            PROG.expr(text)
        except SourceError:
            continue  # e.g. a coefficient alone: no matrix
        _, problems = _sites_keep_value(rule, text, seed)
        assert not problems, problems


@pytest.mark.parametrize(
    "rule, text",
    [
        (InverseExprRule(), "inv(2 X[i, j])"),
        (InverseExprRule(), "inv(inv(X[i, j] + A[i, j]))"),
        (InverseProductRule(), "inv(X[i, k] Y[k, j])"),
        (DetProductRule(), "det(A[i, k] B[k, j])"),
        (DetInverseRule(), "det(inv(X[i, j] + A[i, j]))"),
        (DetInverseRule(), "det(inv(X))"),
        (UnitaryInverseRule(), "inv(U)[b, a] A[a, b]"),
        (UnitaryInverseRule(), "conj(inv(U))[b, c] U[c, b]"),
    ],
)
def test_each_rule_fires_on_its_example(rule, text):
    fired, problems = _sites_keep_value(rule, text, 0)
    assert fired and not problems


class SloppyInverseProduct(InverseProductRule):
    """Inverts each factor but keeps its legs where they were: the missing transpose."""

    def rewrite(self, diagram, site):
        (i,) = site.nodes
        d = site.data.diagram
        nodes = [Node(TensorOp(n.op.decl, n.op.conj, 1 - n.op.inv % 2), n.edges) for n in d.nodes]
        return [(1 / sympy.sympify(site.data.coeff), replace_node(diagram, i, d.with_nodes(nodes)))]


class SloppyInverseExpr(InverseExprRule):
    """Forgets the coefficient: inv(c X) -> inv(X)."""

    def rewrite(self, diagram, site):
        edit = super().rewrite(diagram, site)
        return Edit(replace=edit.replace)


class SloppyDetInverse(DetInverseRule):
    """det(inv(M)) -> det(M): the wrong exponent."""

    def rewrite(self, diagram, site):
        edit = super().rewrite(diagram, site)
        ((i, node),) = edit.replace
        return Edit(replace=((i, Node(node.op.inner.terms[0].diagram.nodes[0].op, ())),))


class SloppyDetProduct(DetProductRule):
    """Fires on a chain whose factors are not square (det(R Rᵀ) -> det R det Rᵀ is not even defined)."""

    def rewrite(self, diagram, site):
        edit = super().rewrite(diagram, site)
        return Edit(remove=edit.remove, add=edit.add, factor=sympy.Integer(-1))  # and drops a sign


@pytest.mark.parametrize(
    "rule, text",
    [
        (SloppyInverseProduct(), "inv(X[i, k] Y[k, j])"),
        (SloppyInverseExpr(), "inv(2 X[i, j])"),
        (SloppyDetInverse(), "det(inv(X[i, j] + A[i, j]))"),
        (SloppyDetProduct(), "det(A[i, k] B[k, j])"),
    ],
)
def test_a_sloppy_rule_is_caught(rule, text):
    fired, problems = _sites_keep_value(rule, text, 0)
    assert fired and problems, "sloppy rule not caught"
