"""``inverse``: ``X[i, j] inv(X)[j, k] -> delta[i, k]`` (both orders), ``inv(inv(X)) -> X``.

Legs are matched by name: X's input legs joined to the same-named legs of
inv(X) (X X⁻¹) or its output legs (X⁻¹ X); the other group becomes identities.
The transposed pairing of a real symmetric matrix is :mod:`.inverse_transposed`'s
(it reads a declared symmetry, which does not hold inside a derivative).
Termination: two nodes or two ``inv`` levels go.
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram, Node, TensorOp
from .base import Edit, Site, cancel_pair, legs_joined, neighbours_on_leg, register


def pairs(diagram: Diagram, i: int) -> Iterator[Site]:
    """The X inv(X) pairs whose first node is ``i`` (legs matched by name)."""
    op = diagram.nodes[i].op
    assert isinstance(op, TensorOp)  # the caller checked
    for joined, kept in ((op.decl.inputs, op.decl.outputs), (op.decl.outputs, op.decl.inputs)):
        for j in neighbours_on_leg(diagram, i, joined[0]):
            other = diagram.nodes[j].op
            if j == i or not isinstance(other, TensorOp) or other.decl != op.decl:
                continue
            if other.conj != op.conj or abs(other.inv - op.inv) != 1:
                continue
            if legs_joined(diagram, i, j, joined):
                yield Site((i, j), data=kept)


@register
class InverseRule:
    name = "inverse"
    description = "X inv(X) -> identity (both orders); inv(inv(X)) -> X"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 30  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or not op.decl.invertible:
                continue
            if op.inv >= 2:
                yield Site((i,), data="double")
                continue
            for site in pairs(diagram, i):
                if site.nodes[1] > i:
                    yield site

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        if site.data == "double":
            (i,) = site.nodes
            node = diagram.nodes[i]
            op = node.op
            assert isinstance(op, TensorOp)  # match found a double inverse here
            new = Node(TensorOp(op.decl, op.conj, op.inv - 2), node.edges)
            return Edit(replace=((i, new),))
        i, j = site.nodes
        return cancel_pair(diagram, i, j, site.data)  # type: ignore[arg-type]
