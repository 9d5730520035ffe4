"""Elementwise function algebra (issue 14, first part): the rules ``exp_product``,
``log_exp`` and ``softmax_sum``, with the power rules of test_power_algebra.py.

* identities as ``.diag`` statements, proved symbolically and confirmed
  numerically (checked mode): exp(a) exp(b) = exp(a + b) under ``keep``,
  log(exp(x)) = x for real x, exp(log(x)) = x for positive x, Σ softmax = 1 (also
  under the causal mask), ``sigmoid(x) sigmoid(x)`` and ``pow(sigmoid(x), 2)`` as one
  form, ``pow(softmax(z), -1) softmax(z)`` cancelling, so that the cross-entropy
  gradient through log∘softmax is ``softmax(z) Σt − t`` and its Hessian
  ``Σt (diag(s) − s sᵀ)``;
* near misses (a missing transpose, a wrong exponent, a dropped sign, a complex
  argument, the wrong axis) are not proved and are refuted numerically;
* property: every site of the three rules on random elementwise products and on
  random softmax sums keeps the value on the oracle; each rule fires; sloppy
  versions are caught.
"""

from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagalg.engine import unfold
from diagalg.rules import registered
from diagalg.rules.base import Edit, Site
from diagalg.rules.exp_product import ExpProductRule
from diagalg.rules.log_exp import LogExpRule
from diagalg.rules.softmax_sum import SoftmaxSumRule
from elementwise_cases import PROG, assert_all_proved, assert_near_miss, check_sites, products, simplified, text

RULES = ("exp_product", "log_exp", "softmax_sum")

IDENTITIES = """
assert keep[i, j](exp(A[i, j]) exp(B[i, j])) == exp(A[i, j] + B[i, j])
assert keep[i, j](exp(A[i, j]) exp(B[j, i])) == exp(A[i, j] + B[j, i])
assert keep[i](exp(x[i]) exp(-x[i])) == delta[i: n]
assert keep[i](exp(x[i]) exp(x[i])) == exp(2 * x[i])
assert pow(exp(x[i]), -1) == exp(-x[i])
assert pow(exp(x[i]), 1/2) == exp(1/2 * x[i])
assert keep[i](exp(x[i]) pow(exp(y[i]), -1)) == exp(x[i] - y[i])
assert exp(x[i] - x[i]) == delta[i: n]
assert log(exp(x[i])) == x[i]
assert log(exp(A[i, j] x[j] + y[i])) == A[i, j] x[j] + y[i]
assert exp(log(w[i])) == w[i]
assert exp(log(sigmoid(x[i]))) == sigmoid(x[i])
assert softmax[k](S[q, k]) delta[k] == delta[q: n]
assert softmax[k](S[q, k]) delta[k] delta[q] == n
assert softmax[k](causal[q, k](S[q, k])) delta[k] == delta[q: n]
assert keep[i](sigmoid(x[i]) sigmoid(x[i])) == pow(sigmoid(x[i]), 2)
assert keep[i](tanh(x[i]) tanh(x[i]) tanh(x[i])) == pow(tanh(x[i]), 3)
assert diff(sigmoid(x[i]), x[p]) == keep[i]((sigmoid(x[i]) - sigmoid(x[i]) sigmoid(x[i])) delta[i, p])
assert keep[i](pow(softmax[i](z[i]), -1) softmax[i](z[i])) == delta[i: n]
assert diff(-t[i] log(softmax[i](z[i])), z[p]) == softmax[p](z[p]) t[i] delta[i] - t[p]
assert diff(diff(-t[i] log(softmax[i](z[i])), z[p]), z[q]) == t[i] delta[i] keep[p](softmax[p](z[p]) delta[p, q]) - t[i] delta[i] softmax[p](z[p]) softmax[q](z[q])
assert diff(-t[i] log(sigmoid(x[i])), x[p]) == keep[p](t[p] sigmoid(x[p])) - t[p]
"""

NEAR_MISSES = [
    ("keep[i, j](exp(A[i, j]) exp(B[j, i]))", "exp(A[i, j] + B[i, j])", "a missing transpose"),
    ("keep[i](exp(x[i]) exp(x[i]))", "exp(3 * x[i])", "a wrong exponent"),
    ("pow(exp(x[i]), -1)", "exp(x[i])", "a dropped sign"),
    ("keep[i](exp(x[i]) exp(y[i]))", "exp(x[i] - y[i])", "a dropped sign"),
    ("log(exp(10 * zc[i]))", "10 * zc[i]", "a complex log is defined modulo 2 pi i"),
    ("pow(exp(10 * zc[i]), 1/2)", "exp(5 * zc[i])", "a complex square root takes the principal branch"),
    ("softmax[k](S[q, k]) delta[q]", "delta[k: n]", "summed over the wrong axis"),
    ("softmax[k](S[q, k]) x[k]", "x[k] delta[k] delta[q: n]", "a weighted sum is not a sum"),
    ("diff(-t[i] log(softmax[i](z[i])), z[p])", "softmax[p](z[p]) t[i] delta[i] + t[p]", "a dropped sign"),
    ("keep[i](pow(softmax[i](z[i]), -1) softmax[i](y[i]))", "delta[i: n]", "another argument"),
]


def test_every_identity_is_proved_and_confirmed():
    assert_all_proved(IDENTITIES)


@pytest.mark.parametrize("lhs,rhs,why", NEAR_MISSES)
def test_near_misses_are_not_proved(lhs, rhs, why):
    assert_near_miss(lhs, rhs, why)


def test_domains_are_asked_for():
    # exp(log(x)) is x only where log x is defined: x must be known positive
    assert text(simplified(PROG.expr("exp(log(x[i]))"))) == "exp(log(x[i]))"
    assert text(simplified(PROG.expr("log(exp(zc[i]))"))) == "log(exp(zc[i]))"
    # a masked softmax or exp has zero entries: not positive, so the log stays
    assert (
        text(simplified(PROG.expr("exp(log(softmax[k](causal[q, k](S[q, k]))))")))
        == "exp(log(softmax[k](causal[q, k](S[q, k]))))"
    )
    assert text(simplified(PROG.expr("exp(log(softmax[k](S[q, k])))"))) == "softmax[k](S[q, k])"


def test_the_cross_entropy_gradient_prints_in_its_textbook_form():
    grad = simplified(PROG.expr("diff(-t[i] log(softmax[i](z[i])), z[p])"))
    assert text(grad) == "-t[p] + t[i] softmax[p](z[p]) delta[i]"


# --------------------------------------------------------------------------- property

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIRED: collections.Counter = collections.Counter()

SOFTMAX_ARGS = (
    "S[q, k]",
    "S[k, q]",
    "S[q, k] + x[q] delta[k: n]",
    "causal[q, k](S[q, k])",
    "A[q, j] B[j, k]",
    "2 * S[q, k] - A[k, q]",
    "exp(S[q, k])",
)
SOFTMAX_OUTSIDE = (
    " delta[k]",
    " delta[q]",
    " x[k]",
    " delta[k] delta[q]",
    " x[q] delta[k]",
    " A[q, k]",
    " keep[k](S[q, k])",
    " delta[k] y[q]",
)


@st.composite
def softmax_sums(draw) -> str:
    inner = draw(st.sampled_from(SOFTMAX_ARGS))
    outside = draw(st.sampled_from(SOFTMAX_OUTSIDE))
    factor = draw(st.sampled_from(("", "2 * ", "-1/2 * ")))
    return f"{factor}softmax[k]({inner}){outside}"


@PROPERTY
@given(case=st.one_of(products(), softmax_sums()), seed=st.integers(0, 2**31 - 1))
def test_every_site_keeps_the_value(case: str, seed: int):
    rules = {name: registered()[name] for name in RULES}
    problems = check_sites(PROG.expr(case), rules, seed, FIRED)
    assert not problems, case + "\n" + "\n".join(problems)


FIRING = {
    "exp_product": "keep[i, j](exp(A[i, j]) exp(x[i]) exp(B[j, i]))",
    "log_exp": "keep[i](log(exp(x[i] + y[i])) exp(log(w[i])))",
    "softmax_sum": "softmax[k](causal[q, k](S[q, k])) delta[k]",
}


@pytest.mark.parametrize("name", RULES)
def test_each_rule_fires_and_keeps_the_value_on_its_example(name):
    counts: collections.Counter = collections.Counter()
    assert not check_sites(PROG.expr(FIRING[name]), {name: registered()[name]}, 0, counts)
    assert counts[name] > 0


class SloppyExp(ExpProductRule):
    """Merges exp bubbles on the same edges, renaming the second one's labels by position
    instead of through the edges they sit on (a transpose lost)."""

    def rewrite(self, diagram, site):
        if site.data != "merge":
            return super().rewrite(diagram, site)
        first, *rest = site.nodes
        from diagalg.model import BubbleOp, Expr, Node
        from diagalg.powers import relabel_expr

        keep = diagram.nodes[first]
        terms = list(keep.op.inner.terms)
        for k in rest:
            other = diagram.nodes[k].op
            terms += relabel_expr(other.inner, dict(zip(other.ports, keep.op.ports))).terms
        merged = BubbleOp("exp", Expr.of(terms, keep.op.inner.free_dims))
        return Edit(remove=tuple(rest), replace=((first, Node(merged, keep.edges)),))


class SloppyLog(LogExpRule):
    """log(exp(E)) -> E without asking for a real E."""

    def match(self, diagram):
        from diagalg.rules.log_exp import _undone

        for i in range(len(diagram.nodes)):
            found = _undone(diagram, i)
            if found is not None:
                yield Site((i,), data=found)


class SloppySoftmax(SoftmaxSumRule):
    """Removes a softmax whose axis is summed against anything (a weighted sum too)."""

    def match(self, diagram):
        from diagalg.model import BubbleOp

        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, BubbleOp) and node.op.kind == "softmax":
                edge = node.edges[node.op.ports.index(node.op.axes[0])]
                if not diagram.edge_labels[edge]:
                    yield Site((i,), ())

    def rewrite(self, diagram, site):
        return Edit(remove=site.nodes)


@pytest.mark.parametrize(
    "rule,example",
    [
        (SloppyExp(), "keep[i, j](exp(A[i, j]) eB[j, i])"),  # eB's legs p, q sit on edges j, i
        (SloppyLog(), "log(exp(10 * zc[i]))"),
        (SloppySoftmax(), "softmax[k](S[q, k]) x[k]"),
    ],
)
def test_a_sloppy_rule_is_caught(rule, example):
    assert check_sites(unfold(PROG.expr(example)), {rule.name: rule}, 0, steps=False), f"{rule.name} not caught"
