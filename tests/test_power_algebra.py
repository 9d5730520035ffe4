"""The power algebra (issue 14, first part): the rules ``pow_expand``, ``pow_split``,
``pow_nest`` and ``pow_collect`` and the normal form of :mod:`diagalg.powers`.

* every identity below is a ``.diag`` statement that ``diagalg check`` proves
  symbolically (checked mode: each rewrite is also verified on its site) and
  confirms numerically;
* near misses (a wrong exponent, a missing transpose, a dropped sign, another base
  or another edge, a fractional power without positivity) are not proved, and the
  numeric oracle refutes them;
* the normal form: ``keep[i](x[i] x[i])``, ``pow(x[i], 2)`` and the rules' output
  have one canonical key (before any rule runs) and print as one text;
* domains: fractional powers are split and nested only for bases known positive;
  ``positive`` is a property that cannot be combined with complex, antisymmetric
  or map structures, is sampled positive and checked on bound arrays;
* property: on random elementwise products (:func:`elementwise_cases.products`)
  every site of every power rule keeps the value on the numeric oracle, and
  simplification keeps the value and is idempotent; each rule fires on its
  examples, and deliberately sloppy versions of the rules are caught by the same
  check, so the property can fail.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.canonical import canonical_key
from diagalg.canonical import equal as canonical_equal
from diagalg.model import Node
from diagalg.numeric.check import compare
from diagalg.numeric.sample import sample_tensor
from diagalg.powers import positive
from diagalg.rules import registered
from diagalg.rules.base import Edit
from diagalg.rules.pow_collect import PowCollectRule
from diagalg.rules.pow_expand import PowExpandRule
from diagalg.rules.pow_nest import PowNestRule
from diagalg.rules.pow_split import PowSplitRule
from diagalg.weights import property_violation
from elementwise_cases import (
    ENV,
    PROG,
    SUBS,
    assert_all_proved,
    assert_near_miss,
    check_sites,
    products,
    run,
    simplified,
    text,
)

POWER_RULES = ("pow_expand", "pow_split", "pow_nest", "pow_collect")

IDENTITIES = """
assert keep[i](x[i] pow(x[i], -1)) == delta[i: n]                      # x x⁻¹ = 1 through a hyperedge
assert x[i] pow(x[i], -1) == n                                          # ... summed: n ones
assert keep[i](x[i] x[i] x[i]) == pow(x[i], 3)                          # x x x = x³
assert keep[i](pow(x[i], 2) pow(x[i], 3)) == pow(x[i], 5)               # x² x³ = x⁵
assert keep[i](pow(x[i], -2) pow(x[i], 3)) == x[i]
assert pow(pow(x[i], -1), -1) == x[i]                                   # 1/(1/x) = x
assert keep[i](a[i] pow(b[i], -1) pow(keep[i](c[i] pow(b[i], -1)), -1)) == keep[i](a[i] pow(c[i], -1))
assert keep[i](x[i] pow(y[i], -1) y[i] pow(x[i], -1)) == delta[i: n]   # (x/y)(y/x) = 1
assert T3[a, b, c] T3[a, b, c] == pow(T3[a, b, c], 2) delta[a] delta[b] delta[c]
assert keep[i](pow(pow(x[i], 2), -1) x[i]) == pow(x[i], -1)             # the log Jacobian's leftover
assert pow(keep[i](x[i] y[i]), -1) == keep[i](pow(x[i], -1) pow(y[i], -1))
assert pow(2 * x[i], -1) == 1/2 * pow(x[i], -1)
assert pow(-2 * x[i], -1) == -1/2 * pow(x[i], -1)
assert pow(x[i], 0) == delta[i: n]
assert keep[i, j](A[i, j] pow(A[i, j], -1)) == delta[i: n] delta[j: n]
assert keep[i](A[i, j] x[j] A[i, k] x[k]) == pow(A[i, j] x[j], 2)       # a copy of a contraction
assert keep[i](pow(A[i, j] x[j], -1) A[i, k] x[k]) == delta[i: n]
assert pow(pow(w[i], 2), 1/2) == w[i]                                   # w is declared positive
assert pow(keep[i](w[i] v[i]), 1/2) == keep[i](pow(w[i], 1/2) pow(v[i], 1/2))
assert keep[i](pow(w[i], 1/2) pow(w[i], 1/2)) == w[i]
assert keep[i](pow(w[i], 3/2) pow(w[i], -1/2)) == w[i]
assert pow(keep[i, j](P[i, j] P[j, i]), 1/2) == P[i, j]                 # positive and symmetric
assert diff(log(pow(x[i], 2)), x[p]) == 2 * keep[i](pow(x[i], -1) delta[i, p])
assert diff(diff(log(x[i]), x[p]), x[q]) == -keep[i](pow(x[i], -2) delta[i, p] delta[i, q])
assert diff(pow(x[i], 3), x[p]) == 3 * keep[i](x[i] x[i] delta[i, p])
calc keep[i](pow(x[i], 2) pow(x[i], -3))
  = keep[i](x[i] x[i] pow(x[i], -3))        by pow_expand
  = pow(x[i], -1)                           by pow_collect
"""

#: (left, right, what is wrong): never proved, and numerically different
NEAR_MISSES = [
    ("keep[i](x[i] pow(x[i], -2))", "delta[i: n]", "a wrong exponent"),
    ("keep[i](pow(x[i], 2) pow(x[i], 3))", "pow(x[i], 6)", "a wrong exponent"),
    ("keep[i](x[i] pow(y[i], -1))", "delta[i: n]", "another base"),
    ("keep[i, j](x[i] pow(x[j], -1))", "delta[i: n] delta[j: n]", "the same tensor on another edge"),
    ("keep[i, j](A[i, j] pow(A[j, i], -1))", "delta[i: n] delta[j: n]", "a missing transpose"),
    ("keep[i](pow(A[i, j] x[j], -1) A[k, i] x[k])", "delta[i: n]", "a transposed contraction"),
    ("T3[a, b, c] T3[b, a, c]", "pow(T3[a, b, c], 2) delta[a] delta[b] delta[c]", "a missing transpose"),
    ("pow(pow(x[i], 2), 1/2)", "x[i]", "|x| is not x: x is not positive"),
    ("pow(keep[i](x[i] x[i]), 1/2)", "x[i]", "|x| is not x: x is not positive"),
    ("pow(-2 * x[i], -1)", "1/2 * pow(x[i], -1)", "a dropped sign"),
    ("pow(pow(x[i], -1), -1)", "-x[i]", "a dropped sign"),
    (
        "keep[i](a[i] pow(b[i], -1) pow(keep[i](c[i] pow(b[i], -1)), -1))",
        "keep[i](c[i] pow(a[i], -1))",
        "the quotient upside down",
    ),
    ("x[i] pow(x[i], -1)", "1", "a sum of n ones is not 1"),
]


# --------------------------------------------------------------------------- identities


def test_every_identity_is_proved_and_confirmed():
    assert_all_proved(IDENTITIES, extra=2, how=("symbolic", "step"))


@pytest.mark.parametrize("lhs,rhs,why", NEAR_MISSES)
def test_near_misses_are_not_proved(lhs, rhs, why):
    assert_near_miss(lhs, rhs, why)


def test_near_misses_as_diag_statements_are_refuted():
    results = run("\n".join(f"assert {lhs} != {rhs}" for lhs, rhs, _ in NEAR_MISSES) + "\n")
    assert [r.status for r in results] == ["ok"] * len(NEAR_MISSES), [r.line() for r in results]


# --------------------------------------------------------------------------- the normal form


def test_hand_written_square_pow_and_rule_output_are_one_thing():
    hand, power = PROG.expr("keep[i](x[i] x[i])"), PROG.expr("pow(x[i], 2)")
    # the canonical key sees through pow(E, k) before any rule runs
    assert canonical_key(hand.terms[0].diagram) == canonical_key(power.terms[0].diagram)
    assert canonical_key(PROG.expr("exp(keep[i](x[i] x[i]))").terms[0].diagram) == canonical_key(
        PROG.expr("exp(pow(x[i], 2))").terms[0].diagram
    )
    assert text(simplified(hand)) == text(simplified(power)) == "keep[i](x[i] x[i])"
    # the derivative rule emits pow(x, 2); simplified it prints as the product
    grad = simplified(PROG.expr("diff(pow(x[i], 3), x[p])"))
    assert text(grad) == "3 * keep[i](x[i] x[i] delta[i, p])"
    assert canonical_key(PROG.expr("keep[i](x[i] x[i] x[i])").terms[0].diagram) != canonical_key(power.terms[0].diagram)


def test_show_prints_positive_integer_powers_as_products_and_keeps_negative_ones():
    results = run("show pow(x[i], 3)\nshow keep[i](pow(x[i], -2) pow(x[i], 1/2))\nshow pow(keep[i](x[i] y[i]), -1)\n")
    assert [r.output for r in results] == [
        ["keep[i](x[i] x[i] x[i])"],
        ["pow(x[i], -3/2)"],
        ["keep[i](pow(x[i], -1) pow(y[i], -1))"],
    ]


def test_a_calc_step_by_delta_alone_sees_pow_and_its_product_as_equal():
    (step,) = run("calc pow(x[i], 2)\n  = keep[i](x[i] x[i])    by delta\n")
    assert step.status == "ok", step.line()


# --------------------------------------------------------------------------- domains and `positive`


def test_fractional_powers_need_positive_bases():
    assert text(simplified(PROG.expr("pow(pow(x[i], 2), 1/2)"))) == "pow(keep[i](x[i] x[i]), 1/2)"
    assert text(simplified(PROG.expr("pow(keep[i](x[i] w[i]), 1/2)"))) == "keep[i](pow(x[i], 1/2) pow(w[i], 1/2))"
    assert text(simplified(PROG.expr("pow(keep[i](x[i] y[i]), 1/2)"))) == "pow(keep[i](x[i] y[i]), 1/2)"
    assert text(simplified(PROG.expr("pow(-2 * w[i], 1/2)"))) == "pow(-2 * w[i], 1/2)"
    assert positive(PROG.expr("keep[i](w[i] exp(x[i]) sigmoid(y[i]) pow(v[i], -1/3))"))
    assert not positive(PROG.expr("keep[i](w[i] exp(x[i]) sigmoid(y[i]) pow(v[i], -1/3))"), declared=False)
    for expr in (
        "keep[i](w[i] x[i])",
        "exp(zc[i])",
        "softmax[k](causal[q, k](S[q, k]))",
        "-w[i]",
        "delta[i: n, j] w[j]",
    ):
        assert not positive(PROG.expr(expr)), expr


@pytest.mark.parametrize(
    "decl,message",
    [
        ("tensor q[i: n] positive, complex", "cannot be combined with 'complex'"),
        ("tensor q[i: n, j: n] positive, antisymmetric(i, j)", "cannot be 'positive'"),
        ("tensor q[i: n, j: n] positive, unitary", "cannot be combined with 'unitary'"),
        ("tensor q[i: n] positive(i)", "takes no legs"),
        ("tensor q[i: n] positive, positive", "given twice"),
    ],
)
def test_positive_refuses_what_contradicts_it(decl, message):
    with pytest.raises(diagalg.SourceError, match=message):
        diagalg.parse("dim n\n" + decl + "\n")


def test_positive_tensors_are_sampled_positive_and_checked_when_bound():
    rng = np.random.default_rng(0)
    sizes = {sym: 5 for sym in PROG.tensors["P"].dims[0].free_symbols}
    arr = sample_tensor(PROG.tensors["P"], sizes, rng)
    assert np.all(arr > 0) and np.allclose(arr, arr.T)
    assert property_violation(PROG.tensors["w"], np.ones(3)) == ""
    assert "positive" in property_violation(PROG.tensors["w"], np.array([1.0, -1.0, 2.0]))


# --------------------------------------------------------------------------- property: every site is sound

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIRED: collections.Counter = collections.Counter()


@PROPERTY
@given(case=products(), seed=st.integers(0, 2**31 - 1))
def test_every_power_rule_site_keeps_the_value(case: str, seed: int):
    rules = {name: registered()[name] for name in POWER_RULES}
    problems = check_sites(PROG.expr(case), rules, seed, FIRED)
    assert not problems, case + "\n" + "\n".join(problems)


@PROPERTY
@given(case=products(), seed=st.integers(0, 2**31 - 1))
def test_simplify_keeps_the_value_and_is_idempotent(case: str, seed: int):
    expr = PROG.expr(case)
    once = simplified(expr)
    res = compare(expr, once, ENV, seed=seed)
    assert res.status == "equal", f"{case}\n  simplified: {text(once)}\n  {res.status} {res.max_error:.3g}"
    assert canonical_equal(once, simplified(once), SUBS), f"not idempotent: {case} -> {text(once)}"


#: an expression on which each rule fires (the property above is not vacuous)
FIRING = {
    "pow_expand": "pow(keep[i](x[i] A[i, j] y[j]), 2)",
    "pow_split": "pow(3 * keep[i](x[i] A[i, j] y[j]), -1)",
    "pow_nest": "pow(pow(w[i], -2), 1/2)",
    "pow_collect": "keep[i](P[i, j] w[j] pow(P[i, k] w[k], -1/2) pow(P[i, l] w[l], 3/2))",
}


@pytest.mark.parametrize("name", POWER_RULES)
def test_each_rule_fires_and_keeps_the_value_on_its_example(name):
    expr = PROG.expr(FIRING[name])
    counts: collections.Counter = collections.Counter()
    assert not check_sites(expr, {name: registered()[name]}, 0, counts, steps=False)
    assert counts[name] > 0, f"{name} does not fire on {FIRING[name]}"


# --------------------------------------------------------------------------- the property can fail


class SloppyNest(PowNestRule):
    """pow(pow(x, a), b) -> pow(x, a b) without asking for an integer b or a positive x."""

    def match(self, diagram):
        from diagalg.rules.base import Site
        from diagalg.rules.pow_nest import _inner_bubble

        for i, node in enumerate(diagram.nodes):
            if node.op.__class__.__name__ == "BubbleOp" and node.op.kind == "pow":
                found = _inner_bubble(diagram, i)
                if found is not None:
                    yield Site((i,), data=found)


class SloppySplit(PowSplitRule):
    """Splits the product but forgets the coefficient's power."""

    def rewrite(self, diagram, site):
        edit = super().rewrite(diagram, site)
        return Edit(remove=edit.remove, add=edit.add)


class SloppyCollect(PowCollectRule):
    """Counts every base's copies, but adds the exponents with the wrong sign."""

    def rewrite(self, diagram, site):
        first, total, inside = site.data
        bubble = sum(1 for k in site.nodes if diagram.nodes[k].op.__class__.__name__ == "BubbleOp")
        copies = len(site.nodes) - bubble
        from dataclasses import replace

        wrong = total - 2 * copies
        keep = diagram.nodes[first]
        return Edit(
            remove=tuple(k for k in site.nodes if k != first),
            replace=((first, Node(replace(keep.op, param=wrong), keep.edges)),),
            drop_edges=inside,
        )


class SloppyExpand(PowExpandRule):
    """Writes pow(E, k) out with one copy too few."""

    def rewrite(self, diagram, site):
        node = diagram.nodes[site.nodes[0]]
        from dataclasses import replace

        shorter = Node(replace(node.op, param=node.op.param - 1), node.edges)
        return super().rewrite(
            diagram.with_nodes([shorter if k == site.nodes[0] else n for k, n in enumerate(diagram.nodes)]), site
        )


@pytest.mark.parametrize(
    "rule,example",
    [
        (SloppyNest(), "pow(pow(x[i], 2), 1/2)"),
        (SloppySplit(), "pow(-2 * x[i], -1)"),
        (SloppyCollect(), "keep[i](x[i] pow(x[i], -3))"),
        (SloppyExpand(), "pow(x[i], 3)"),
    ],
)
def test_a_sloppy_rule_is_caught(rule, example):
    assert check_sites(PROG.expr(example), {rule.name: rule}, 0, steps=False), f"{rule.name} not caught"
