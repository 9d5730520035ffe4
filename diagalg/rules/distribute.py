"""``distribute``: a product containing a parenthesised sum becomes a sum of products.

The sum sits in an unnamed box node; each of its terms is inlined in turn
(its internal edges renamed apart from the rest of the diagram). Named boxes
(folded ``let`` definitions) are left alone: unfolding is a separate step.
"""

from __future__ import annotations

from typing import Iterator

from ..model import BoxOp, Diagram, Node, inline_diagram, resolve_merges
from .base import Site, register


@register
class DistributeRule:
    name = "distribute"
    description = "expand products over sums"

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, BoxOp) and node.op.name is None:
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> list:
        (i,) = site.nodes
        box = diagram.nodes[i]
        rest = tuple(n for k, n in enumerate(diagram.nodes) if k != i)
        ports = dict(zip(box.op.ports, box.edges))
        out = []
        for term in box.op.inner.terms:
            nodes, new_dims, merges = inline_diagram(diagram, ports, term.diagram)
            dims = dict(diagram.dims)
            dims.update(new_dims)
            d = Diagram.build(rest + tuple(nodes), dims, diagram.free_map)
            if merges:
                d = d.rename_edges(resolve_merges(merges))
            out.append((term.coeff, d))
        return out
