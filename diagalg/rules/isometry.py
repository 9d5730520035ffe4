"""``isometry``: ``V[a, b] conj(V)[a, c] -> delta[b, c]`` (V†V = I on the input legs).

Fires only when *every* output leg of V is joined to the same leg of its
conjugate by an edge that nothing else touches. For a unitary it also fires
with the input legs joined (U U† = I). It never derives V V† = I for an
isometry: that is a projector unless V is square, and only `unitary` says so.
For a real tensor conj(V) is V itself, so the pair is two occurrences of V.
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram, TensorOp
from .base import Edit, Site, cancel_pair, legs_joined, neighbours_on_leg, register


@register
class IsometryRule:
    name = "isometry"
    description = "V[a, b] conj(V)[a, c] -> delta[b, c]; unitaries both ways"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # sound inside a derivative's argument
    on_sums = False
    order = 20  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or op.inv or op.decl.structure not in ("isometry", "unitary"):
                continue
            groups = [(op.decl.outputs, op.decl.inputs)]
            if op.decl.structure == "unitary":
                groups.append((op.decl.inputs, op.decl.outputs))
            for joined, kept in groups:
                for j in neighbours_on_leg(diagram, i, joined[0]):
                    other = diagram.nodes[j].op
                    if j <= i or not isinstance(other, TensorOp) or other.decl != op.decl or other.inv:
                        continue
                    # one of the pair is the conjugate (for real tensors conj is dropped)
                    if op.decl.is_complex and other.conj == op.conj:
                        continue
                    if legs_joined(diagram, i, j, joined):
                        yield Site((i, j), data=kept)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        i, j = site.nodes
        return cancel_pair(diagram, i, j, site.data)  # type: ignore[arg-type]
