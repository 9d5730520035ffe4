"""``exp_product``: ``exp(a) ⊙ exp(b) -> exp(a + b)``; ``exp(0) -> 1``.

Elementwise ``exp`` bubbles on the same edges (each leg on an edge of its own,
the two bubbles on one set of edges: ``keep[i, j](exp(A[i, j]) exp(B[j, i]))``)
are one bubble whose argument is the sum of theirs, each argument's labels renamed
to the first bubble's through the edges they share. An ``exp`` of the empty sum
(an argument that cancelled) is ones. Unconditional: eᵃ eᵇ = e^{a+b} for complex
values too, and the causal mask's −∞ gives 0 on both sides. No property is used.

Termination: the recursive path order of the engine's docstring reads ``exp(a +
b)`` as the product ``exp(a) ⊙ exp(b)``, so the order is unchanged and the number
of ``exp`` bubbles, the next component, drops.
"""

from __future__ import annotations

from typing import Iterator

from ..model import BubbleOp, Diagram, Expr, Node
from ..powers import relabel_expr
from .base import Edit, Site, register


def _is_exp(node: Node) -> bool:
    return isinstance(node.op, BubbleOp) and node.op.kind == "exp" and len(set(node.edges)) == len(node.edges)


@register
class ExpProductRule:
    name = "exp_product"
    description = "exp(a) ⊙ exp(b) -> exp(a + b) on the same edges; exp(0) -> 1"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # e^a e^b = e^(a+b): no property is used
    on_sums = False
    order = 104  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        groups: dict[frozenset[str], list[int]] = {}
        for i, node in enumerate(diagram.nodes):
            if not _is_exp(node):
                continue
            assert isinstance(node.op, BubbleOp)
            if not node.op.inner.terms:
                yield Site((i,), data="zero")
                continue
            groups.setdefault(frozenset(node.edges), []).append(i)
        for members in groups.values():
            if len(members) > 1:
                yield Site(tuple(members), data="merge")

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        if site.data == "zero":
            return Edit(remove=site.nodes)
        first, *rest = site.nodes
        keep = diagram.nodes[first]
        assert isinstance(keep.op, BubbleOp)  # the site's nodes are exp bubbles
        label_at = {e: p for p, e in zip(keep.op.ports, keep.edges)}
        terms = list(keep.op.inner.terms)
        for k in rest:
            other = diagram.nodes[k]
            assert isinstance(other.op, BubbleOp)
            mapping = {p: label_at[e] for p, e in zip(other.op.ports, other.edges)}
            terms.extend(relabel_expr(other.op.inner, mapping).terms)
        merged = BubbleOp("exp", Expr.of(terms, keep.op.inner.free_dims))
        return Edit(remove=tuple(rest), replace=((first, Node(merged, keep.edges)),))
