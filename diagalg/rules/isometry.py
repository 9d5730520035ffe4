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
from .base import Edit, Site, exclusive_edge, register


def _joined(diagram: Diagram, i: int, j: int, legs: tuple[str, ...]) -> bool:
    a, b = diagram.nodes[i], diagram.nodes[j]
    pa, pb = a.op.ports, b.op.ports
    for leg in legs:
        ka, kb = pa.index(leg), pb.index(leg)
        if a.edges[ka] != b.edges[kb] or not exclusive_edge(diagram, a.edges[ka], (i, ka), (j, kb)):
            return False
    return True


def _partner_candidates(diagram: Diagram, i: int, leg: str) -> list[int]:
    node = diagram.nodes[i]
    edge = node.edges[node.op.ports.index(leg)]
    return [n for n, _ in diagram.incidence[edge] if n != i]


@register
class IsometryRule:
    name = "isometry"
    description = "V[a, b] conj(V)[a, c] -> delta[b, c]; unitaries both ways"

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or op.inv or op.decl.structure not in ("isometry", "unitary"):
                continue
            groups = [(op.decl.outputs, op.decl.inputs)]
            if op.decl.structure == "unitary":
                groups.append((op.decl.inputs, op.decl.outputs))
            for joined, kept in groups:
                for j in _partner_candidates(diagram, i, joined[0]):
                    other = diagram.nodes[j].op
                    if j <= i or not isinstance(other, TensorOp) or other.decl != op.decl or other.inv:
                        continue
                    # one of the pair is the conjugate (for real tensors conj is dropped)
                    if op.decl.is_complex and other.conj == op.conj:
                        continue
                    if _joined(diagram, i, j, joined):
                        yield Site((i, j), data=kept)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        i, j = site.nodes
        a, b = diagram.nodes[i], diagram.nodes[j]
        kept: tuple[str, ...] = site.data  # type: ignore[assignment]
        merges = tuple((b.edges[b.op.ports.index(l)], a.edges[a.op.ports.index(l)]) for l in kept)
        joined = [a.edges[a.op.ports.index(l)] for l in a.op.ports if l not in kept]
        return Edit(remove=(i, j), merge=merges, drop_edges=tuple(joined))
