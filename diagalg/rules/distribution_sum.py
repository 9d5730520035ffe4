"""``distribution_sum``: a tensor declared ``distribution(legs)`` summed over those legs is one.

A node of a tensor declared ``distribution(i, ...)`` (not inverted) whose every
distribution leg sits on an edge that nothing else touches and that carries no
label (``t[i] delta[i]``, or ``t[i]`` with i summed against nothing) is removed
together with those edges: Σᵢ tᵢ = 1 for every value of its other legs, which
stay where they were (as ones). This is what turns the cross-entropy gradient
``softmax(z) Σt − t`` into ``softmax(z) − t`` for a distribution target.

Domain: exactly the declared property (:mod:`diagalg.distribution`); nothing
else (no positivity) is assumed. Because it reads a declared property, the rule
is not used inside a derivative's argument, where the entries of the variable
are independent.

Termination: a node goes (the engine's measure).
"""

from __future__ import annotations

from typing import Iterator

from ..distribution import distribution_legs
from ..model import Diagram, TensorOp
from .base import Edit, Site, register


@register
class DistributionSumRule:
    name = "distribution_sum"
    description = "t summed over its distribution legs -> 1 (t declared distribution)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the `distribution` property
    on_sums = False
    order = 86  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or op.inv % 2:
                continue
            legs = distribution_legs(op.decl)
            if not legs:
                continue
            edges = tuple(node.edges[op.ports.index(leg)] for leg in legs)
            if all(
                diagram.incidence[e] == [(i, op.ports.index(leg))] and not diagram.edge_labels[e]
                for leg, e in zip(legs, edges)
            ):
                yield Site((i,), edges)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        return Edit(remove=site.nodes, drop_edges=site.edges)
