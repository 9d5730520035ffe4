"""``shift``: compose shifts, ``shift(0) -> delta``, and shifts that are zero.

``shift(o)[a, b]`` (dimension n) is 1 where ``a == b + o`` with ``a, b`` in
``0 .. n-1``. The rule rewrites:

* **composition** ``shift(o1)[a, b] shift(o2)[b, c] -> shift(o1 + o2)[a, c]``
  when the middle edge joins exactly port ``b`` of the first and port ``a`` of
  the second (no other port, no free label) and ``o1 * o2 >= 0`` (same sign,
  or one of them 0). Sound: the left side is ``sum_b [a = b + o1][b = c + o2]
  = [a = c + o1 + o2] * [0 <= c + o2 <= n - 1]``, the right side lacks only
  the range condition on the middle index ``b = c + o2 = a - o1``. If
  ``o1, o2 >= 0`` then ``b = c + o2 >= 0`` and ``b = a - o1 <= n - 1``; if
  ``o1, o2 <= 0`` then ``b = c + o2 <= n - 1`` and ``b = a - o1 >= 0``: the
  condition always holds. With opposite signs it does not (``shift(1)
  shift(-1)`` is the identity without its first diagonal entry), so the rule
  never fires then. A middle edge that is a hyperedge or carries a free label
  is read unshifted elsewhere, so it does not fire there either.
* **identity** ``shift(0)[a, b] -> delta[a, b]``: the node is removed and its
  two edges merged (``shift(0)`` is the identity matrix; on a single edge,
  ``shift(0)[a, a]``, it leaves a closed loop, which ``delta`` turns into n).
* **zero** a shift that is the zero tensor makes the term zero: a trace
  ``shift(o)[a, a]`` with ``o != 0`` (``a == a + o`` never holds), and a shift
  whose dimension is an integer literal with ``|o| >= n``. The node is removed
  and the term's coefficient multiplied by 0 (the engine drops it). Shifts
  over symbolic (or named concrete) dimensions are never assumed out of range.

* **orient** ``shift(-o)[a, b] -> shift(o)[b, a]`` for ``o > 0``: the same
  matrix (``a == b - o`` is ``b == a + o``), written with a non-negative
  offset, so that shifts written either way round compose and compare equal.

Every rewrite but orient removes a node; orient removes a negative offset and
no rewrite creates one (composing non-negative offsets gives a non-negative
one), so the rule terminates.
"""

from __future__ import annotations

from typing import Iterator

import sympy

from ..model import Diagram, Node, ShiftOp
from .base import Edit, Site, exclusive_edge, register


def _is_zero_shift(op: ShiftOp, edges: tuple[str, ...]) -> bool:
    if op.offset != 0 and edges[0] == edges[1]:
        return True
    dim = sympy.sympify(op.dim)
    return bool(dim.is_Integer) and abs(op.offset) >= int(dim)


@register
class ShiftRule:
    name = "shift"
    description = "shift(o1) shift(o2) -> shift(o1 + o2) (same signs); shift(0) -> delta; zero shifts"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 50  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, ShiftOp):
                continue
            if _is_zero_shift(op, node.edges):
                yield Site((i,), data=("zero",))
                continue
            if op.offset == 0:
                yield Site((i,), data=("identity",))
            if op.offset < 0:
                yield Site((i,), data=("orient",))
                continue
            mid = node.edges[1]
            for j, port in diagram.incidence[mid]:
                other = diagram.nodes[j].op
                if j == i or port != 0 or not isinstance(other, ShiftOp) or other.dim != op.dim:
                    continue
                if op.offset * other.offset < 0:
                    continue  # opposite signs: the finite middle edge breaks composition
                if exclusive_edge(diagram, mid, (i, 1), (j, 0)):
                    yield Site((i, j), (mid,), data=("compose",))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        kind = site.data[0]  # type: ignore[index]
        if kind == "zero":
            return Edit(remove=site.nodes, factor=sympy.Integer(0))
        if kind == "orient":  # shift(-o)[a, b] is shift(o)[b, a]
            (i,) = site.nodes
            node = diagram.nodes[i]
            assert isinstance(node.op, ShiftOp)
            flipped = Node(ShiftOp(-node.op.offset, node.op.dim), (node.edges[1], node.edges[0]))
            return Edit(replace=((i, flipped),))
        if kind == "identity":
            (i,) = site.nodes
            a, b = diagram.nodes[i].edges
            return Edit(remove=(i,), merge=((a, b),))
        i, j = site.nodes
        first, second = diagram.nodes[i], diagram.nodes[j]
        op = ShiftOp(first.op.offset + second.op.offset, first.op.dim)  # type: ignore[union-attr]
        new = Node(op, (first.edges[0], second.edges[1]))
        return Edit(remove=(j,), replace=((i, new),), drop_edges=site.edges)
