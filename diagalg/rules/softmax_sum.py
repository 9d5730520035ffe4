"""``softmax_sum``: a softmax summed over its own axis is one.

``softmax[k](E)`` whose ``k`` leg sits on an edge that nothing else touches and
that carries no label (the axis is summed against ones: ``softmax[k](S[q, k])
delta[k]``, or ``k`` used once more in a product) is removed together with that
edge: Σₖ e^{Eₖ} / Σⱼ e^{Eⱼ} = 1 for every value of its other legs, which stay
where they were (ones on a free leg, a closed loop, the dimension, on a leg
summed nowhere else). Under a causal mask the masked entries are 0 and the first
key is never masked, so the rows still sum to one. Unconditional (complex
arguments too, where defined); no property is used.

Termination: a node goes (the engine's measure).
"""

from __future__ import annotations

from typing import Iterator

from ..model import BubbleOp, Diagram
from .base import Edit, Site, register


@register
class SoftmaxSumRule:
    name = "softmax_sum"
    description = "softmax[k](E) summed over k -> 1"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # no property is used
    on_sums = False
    order = 85  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or op.kind != "softmax":
                continue
            (axis,) = op.axes
            port = op.ports.index(axis)
            edge = node.edges[port]
            if diagram.incidence[edge] == [(i, port)] and not diagram.edge_labels[edge]:
                yield Site((i,), (edge,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        return Edit(remove=site.nodes, drop_edges=site.edges)
