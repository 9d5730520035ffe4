"""``delta``: copy tensors fuse into their edges; closed loops become dimensions.

A copy tensor says "all these indices are equal", which is what one shared
edge already means: removing the node and merging its edges is exact. This
covers fusion of connected copy tensors, absorption of 2-leg deltas by
relabelling, self-loops (``delta[i, i, j] -> delta[j]``) and loops
(``delta[i, i] -> n``). An edge with no port and no label is a closed loop
(or ones contracted with ones): it becomes its dimension as a coefficient.
"""

from __future__ import annotations

from typing import Iterator

from ..model import CopyTensor, Diagram
from .base import Edit, Site, register


@register
class DeltaRule:
    name = "delta"
    description = "fuse copy tensors into edges; closed loops become their dimension"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 10  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, CopyTensor):
                yield Site((i,), data="copy")
        for edge, ports in diagram.incidence.items():
            if not ports and not diagram.edge_labels[edge]:
                yield Site((), (edge,), data="loop")

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        if site.data == "loop":
            edge = site.edges[0]
            return Edit(drop_edges=(edge,), factor=diagram.dims[edge])
        (i,) = site.nodes
        node = diagram.nodes[i]
        edges = node.edges
        if not edges:  # a copy tensor with no legs is a sum of ones over one index
            assert isinstance(node.op, CopyTensor)
            return Edit(remove=(i,), factor=node.op.dim)
        return Edit(remove=(i,), merge=tuple((e, edges[0]) for e in edges[1:]))
