"""``distribute``: a product containing a parenthesised sum becomes a sum of products.

The sum sits in an unnamed box node; each of its terms is inlined in turn
(its internal edges renamed apart from the rest of the diagram). Named boxes
(folded ``let`` definitions) are left alone: unfolding is a separate step.
"""

from __future__ import annotations

from typing import Iterator

from ..model import BoxOp, Diagram, replace_node
from .base import Site, register


@register
class DistributeRule:
    name = "distribute"
    description = "expand products over sums"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 40  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, BoxOp) and node.op.name is None:
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> list:
        (i,) = site.nodes
        box = diagram.nodes[i].op
        assert isinstance(box, BoxOp)  # the site is an unnamed box
        return [(term.coeff, replace_node(diagram, i, term.diagram)) for term in box.inner.terms]
