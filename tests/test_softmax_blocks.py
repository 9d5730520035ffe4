"""Softmax over a partitioned axis (issue 14, the matmul-visualisation seed's blockwise
softmax): the rule softmax_reshape.

What is true: softmax over the whole axis g = (b, k) is exp over each block
normalised by the sum of every block's normaliser; the per-block softmax over k is
a different tensor (a near-miss). The identities prove, every site keeps the value
on random arguments (hypothesis), and a sloppy rule (the per-block softmax) is caught.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.checker import Checker, Options
from diagalg.model import BubbleOp, Expr, Node, Term
from diagalg.numeric.check import compare
from diagalg.rules.base import Edit, apply_edits
from diagalg.rules.softmax_reshape import SoftmaxReshapeRule

DECLS = """\
dim p, q
tensor y[b: p, k: q]
tensor z[b: p, k: q]
tensor x[g: p*q]
tensor w[s: p, g: p*q]
let Z[b] = exp(y[b, k]) delta[k]
"""
PROG = diagalg.parse(DECLS)

IDENTITIES = """\
assert split[g -> (b: p, k: q)](softmax[g](group[(b, k) -> g](y[b, k]))) == \\
    exp(y[b, k]) pow(exp(y[c, l]) delta[c] delta[l], -1)
assert softmax[g](group[(b, k) -> g](y[b, k])) delta[g] == 1
assert split[g -> (b: p, k: q)](softmax[g](group[(b, k) -> g](y[b, k] + 2 z[b, k]))) == \\
    exp(y[b, k] + 2 z[b, k]) pow(exp(y[c, l] + 2 z[c, l]) delta[c] delta[l], -1)
"""

NEAR_MISSES = """\
assert split[g -> (b: p, k: q)](softmax[g](group[(b, k) -> g](y[b, k]))) != softmax[k](y[b, k])
assert split[g -> (b: p, k: q)](softmax[g](group[(b, k) -> g](y[b, k]))) != keep[b](exp(y[b, k]) pow(Z[b], -1))
assert softmax[k](split[g -> (b: p, k: q)](x[g])) != split[g -> (b: p, k: q)](softmax[g](x[g]))
"""


def test_identities_prove_and_near_misses_are_refuted():
    res = Checker(diagalg.parse(DECLS + IDENTITIES + NEAR_MISSES), Options()).run()
    assert [r.status for r in res] == ["ok"] * len(res)
    assert all("symbolic" in r.detail for r in res[:3]), [r.detail for r in res[:3]]


def _keeps_value(rule, text: str, seed: int) -> tuple[int, list[str]]:
    expr = PROG.expr(text)
    fired, problems = 0, []
    for term in expr.terms:
        for site in rule.match(term.diagram):
            edit = rule.rewrite(term.diagram, site)
            factor, d2 = apply_edits(term.diagram, [edit])
            after = Expr.of([Term(term.coeff * factor, d2)], expr.free_dims)
            fired += 1
            res = compare(Expr.of([term], expr.free_dims), after, PROG.env, seed=seed)
            if res.status != "equal":
                problems.append(f"{text}: {res.status}")
    return fired, problems


_ARGS = [
    "group[(b, k) -> g](y[b, k])",
    "group[(k, b) -> g](z[b, k])",
    "group[(b, k) -> g](y[b, k] - z[b, k])",
    "group[(b, k) -> g](y[b, k]) + x[g]",
    "w[s, g] + delta[s: p] group[(b, k) -> g](y[b, k])",
    "group[(b, k) -> g](delta[s: p] y[b, k] + w[s, g2] x[g2] delta[b: p] delta[k: q])",
    "x[g]",
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_ARGS), st.sampled_from(["", " x[g]", " delta[g]"]), st.integers(0, 3))
def test_every_site_keeps_the_value(arg, outside, seed):
    _, problems = _keeps_value(SoftmaxReshapeRule(), f"softmax[g]({arg}){outside}", seed)
    assert not problems, problems


def test_the_rule_fires_where_the_axis_is_partitioned_only():
    assert _keeps_value(SoftmaxReshapeRule(), "softmax[g](group[(b, k) -> g](y[b, k]))", 0) == (1, [])
    assert _keeps_value(SoftmaxReshapeRule(), "softmax[g](x[g])", 0)[0] == 0
    assert _keeps_value(SoftmaxReshapeRule(), "softmax[k](y[b, k])", 0)[0] == 0


class PerBlockSoftmax(SoftmaxReshapeRule):
    """The tempting mistake: softmax over g of a grouped argument -> the softmax over g
    of the per-block softmax ... written here as the argument's per-block normaliser only
    (``exp(A) pow(Σ_k exp(A), -1)`` with k one part), which is not the whole axis."""

    def rewrite(self, diagram, site):
        edit = super().rewrite(diagram, site)
        ((i, e_node),) = edit.replace
        (norm_node,) = edit.add
        return Edit(replace=((i, e_node),), add=(Node(BubbleOp("pow", e_node.op.inner, (), -1), e_node.edges),))


def test_a_sloppy_rule_is_caught():
    fired, problems = _keeps_value(PerBlockSoftmax(), "softmax[g](group[(b, k) -> g](y[b, k]))", 0)
    assert fired and problems
