"""``det_inverse``: ``det(inv(M)) -> pow(det(M), -1)`` for a two-leg M.

A site is a ``det`` of two free labels whose argument is one node (coefficient 1,
each leg on an edge of its own with one label): an ``inv`` of an expression, or
``inv(X)`` of a declared tensor. The result is ``pow(det(M), -1)``, a scalar.
Domain: M invertible, which the left side presupposes (its inverse exists), so
``det M ≠ 0`` and the power is defined. Termination: the inverse goes (the
``pow`` of a scalar is not rewritten back by any rule).
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..bubbles.matrix import matrix_op
from ..model import BubbleOp, Diagram, Expr, Node, TensorOp
from .base import Edit, Site, register
from .inverse_expr import bare_argument


def _undone(op: BubbleOp) -> Expr | None:
    """The M of ``det(inv(M))`` (two legs), as an expression over two labels."""
    found = bare_argument(op)
    if found is None or found[0] != 1:
        return None
    _, node, _ = found
    inner = node.op
    if isinstance(inner, BubbleOp) and inner.kind == "inv" and len(inner.axes) == 2:
        return inner.inner
    if isinstance(inner, TensorOp) and inner.inv % 2 == 1 and len(inner.ports) == 2:
        plain = TensorOp(inner.decl, inner.conj, inner.inv - 1)
        a, b = plain.ports
        d = Diagram.build((Node(plain, (a, b)),), {a: plain.port_dim(a), b: plain.port_dim(b)}, {a: a, b: b})
        return Expr.single(d)
    return None


@register
class DetInverseRule:
    name = "det_inverse"
    description = "det(inv(M)) -> pow(det(M), -1)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # reads no declared property
    on_sums = False
    order = 34  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, BubbleOp) and op.kind == "det" and len(op.axes) == 2 and _undone(op) is not None:
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        m = cast(Expr, _undone(cast(BubbleOp, diagram.nodes[i].op)))
        a, b = m.labels
        det = Diagram.build((Node(matrix_op("det", m, (b,), (a,)), ()),), {}, {})
        return Edit(replace=((i, Node(BubbleOp("pow", Expr.single(det), (), sympy.Integer(-1)), ())),))
