"""``inverse_expr``: ``inv`` of an expression that is one declared tensor, or one inverse.

* ``inv[k -> i](c X[...])`` with X declared invertible, unitary or posdef and the
  roles the declared ones (inputs and outputs, either way round: the inverse of
  the transposed map is the same labelled tensor) -> ``(1/c) inv(X)`` on the
  same edges (each leg of ``inv(X)`` where the label of that leg was); an inner
  ``inv(X)`` gives ``X`` (``inv(inv(X)) = X``).
* ``inv(c inv(M))`` with the same two leg groups -> ``(1/c) M``.

The argument must be that one node (coefficient c ≠ 0), each port on an edge of
its own carrying one label. Domain: none beyond the expression's own: an
``inv(...)`` is only meaningful for an invertible argument, and where the left
side is defined so is the right (X is declared invertible; ``inv(M)`` exists, so
M is invertible). Termination: a bubble goes (the node count falls).
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..bubbles.matrix import roles
from ..model import BoxOp, BubbleOp, Diagram, Node, TensorOp
from ..powers import single_term
from .base import Edit, Site, register


def bare_argument(op: BubbleOp) -> tuple[sympy.Expr, Node, dict[str, str]] | None:
    """(c, node, port -> label) when ``op``'s argument is c times one node whose ports
    sit on distinct edges, each carrying one label (and nothing else in the term)."""
    term = single_term(op.inner)
    if term is None or term.coeff == 0 or len(term.diagram.nodes) != 1:
        return None
    d = term.diagram
    (node,) = d.nodes
    if len(set(node.edges)) != len(node.edges) or set(node.edges) != set(d.dims):
        return None
    labels = d.edge_labels
    if any(len(labels[e]) != 1 for e in node.edges):
        return None
    return sympy.sympify(term.coeff), node, {p: labels[e][0] for p, e in zip(node.op.ports, node.edges)}


def same_split(groups: tuple[tuple[str, ...], tuple[str, ...]], other: tuple[tuple[str, ...], ...]) -> bool:
    """True when the two leg groups are ``other``'s two groups (as sets, either way round)."""
    a, b = frozenset(groups[0]), frozenset(groups[1])
    return {a, b} == {frozenset(other[0]), frozenset(other[1])}


@register
class InverseExprRule:
    name = "inverse_expr"
    description = "inv(c X) -> inv(X)/c for a declared invertible X; inv(c inv(M)) -> M/c"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # reads no property but invertibility, which inv(X) itself asserts
    on_sums = False
    order = 31  # the engine's sequence (lower first): right after inverse

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or op.kind != "inv":
                continue
            found = bare_argument(op)
            if found is None:
                continue
            c, inner, label_of = found
            ins, outs = roles(op)
            legs = {l: p for p, l in label_of.items()}
            split = (tuple(legs[l] for l in ins), tuple(legs[l] for l in outs))
            if (
                isinstance(inner.op, TensorOp)
                and inner.op.decl.invertible
                and same_split(split, (inner.op.decl.inputs, inner.op.decl.outputs))
            ):
                yield Site((i,), data=("tensor", c, inner, label_of))
            elif isinstance(inner.op, BubbleOp) and inner.op.kind == "inv" and same_split(split, roles(inner.op)):
                yield Site((i,), data=("inverse", c, inner, label_of))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        how, c, inner, label_of = cast("tuple[str, sympy.Expr, Node, dict[str, str]]", site.data)
        outer = dict(zip(node.op.ports, node.edges))
        if how == "tensor":
            op = cast(TensorOp, inner.op)
            new = TensorOp(op.decl, op.conj, op.inv - 1 if op.inv else 1)
            edges = tuple(outer[label_of[leg]] for leg in new.ports)
            return Edit(replace=((i, Node(new, edges)),), factor=1 / c)
        bubble = cast(BubbleOp, inner.op)
        edges = tuple(outer[label_of[p]] for p in bubble.ports)
        return Edit(replace=((i, Node(BoxOp(bubble.inner, bubble.ports), edges)),), factor=1 / c)
