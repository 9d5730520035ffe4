"""``gauge``: a gauge pair ``X inv(X)`` on a bond cancels (and unitary pairs ``U U†``).

Inserting a gauge pair on a bond, or absorbing one into neighbours, does not
change a network. A ``calc`` step ``by gauge`` is checked by normalising both
sides with this rule (plus the clean-ups ``delta`` and ``collect``): the step
holds when they agree once gauge pairs cancel. Absorbing ``X`` into a neighbour
as a new named tensor is written with a ``let`` (``let B[s, c] = A[s, a] X[a, c]``),
which proofs unfold. Not a default rule (spec section 7).
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram, TensorOp
from .base import Edit, Site, cancel_pair, register
from .inverse import InverseRule
from .isometry import IsometryRule


@register
class GaugeRule:
    name = "gauge"
    description = "gauge pairs X inv(X) (and unitary U U†) on a bond cancel"
    default = False  # used by `assert` when no rule is named
    inside_derivative = False  # sound inside a derivative's argument
    on_sums = False
    order = 210  # the engine's sequence (lower first)

    def __init__(self) -> None:
        self._inverse = InverseRule()
        self._isometry = IsometryRule()

    def match(self, diagram: Diagram) -> Iterator[Site]:
        yield from self._inverse.match(diagram)
        for site in self._isometry.match(diagram):
            op = diagram.nodes[site.nodes[0]].op
            assert isinstance(op, TensorOp)  # isometry's sites are tensors
            if op.decl.structure == "unitary":
                yield site

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        if site.data == "double":
            return self._inverse.rewrite(diagram, site)
        i, j = site.nodes
        return cancel_pair(diagram, i, j, site.data)  # type: ignore[arg-type]
