"""``det_product``: ``det(A[i, k] B[k, j]) -> det(A[i, k]) det(B[k, j])`` — the
determinant of a chain of square matrices is the product of their determinants.

A site is a ``det`` of two free labels whose argument is one term (coefficient 1)
whose nodes are two-leg nodes joined in one path (see
:func:`diagalg.rules.inverse_product.matrix_chain`), each square (its two legs of
one dimension). Which way each factor is read does not matter (det Aᵀ = det A).
Domain: square factors, checked; no invertibility is needed (det(AB) = det A det B
for all square A, B). A coefficient c ≠ 1 is left alone (det(cM) = cⁿ det M
needs n). Termination: one det node of k factors becomes k det nodes of one
factor each, a strictly smaller argument (the path order of the engine's
docstring); a det of one node is no site.
"""

from __future__ import annotations

from typing import Iterator, cast

from ..bubbles.matrix import matrix_op
from ..model import BubbleOp, Diagram, Expr, Node, Term
from ..powers import single_term
from .base import Edit, Site, register
from .inverse_product import matrix_chain


def _det_of(node: Node, dims: dict[str, object]) -> Node:
    """``det`` of the one node ``node`` (its two legs as the matrix)."""
    a, b = "a", "b"
    d = Diagram.build(
        (Node(node.op, (a, b)),),
        {a: node.op.port_dim(node.op.ports[0]), b: node.op.port_dim(node.op.ports[1])},
        {a: a, b: b},
    )
    return Node(matrix_op("det", Expr.single(d), (b,), (a,)), ())


@register
class DetProductRule:
    name = "det_product"
    description = "det(A B ...) -> det(A) det(B) ... for a chain of square matrices"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # reads no declared property: squareness is in the dimensions
    on_sums = False
    order = 33  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or op.kind != "det" or len(op.axes) != 2:
                continue
            term = single_term(op.inner)
            if term is None or term.coeff != 1 or len(term.diagram.nodes) < 2:
                continue
            if matrix_chain(term, square=True):
                yield Site((i,), data=term)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        term = cast(Term, site.data)
        return Edit(remove=(i,), add=tuple(_det_of(n, {}) for n in term.diagram.nodes))
