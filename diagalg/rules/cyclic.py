"""``cyclic``: trace cyclicity.

Equality in diagalg is decided on canonical forms, which ignore factor order:
sliding a tensor around a closed loop never changes a diagram, so a ``calc``
step that only reorders a loop is reachable with any rules. This rule exists so
that such a step can say why (``= C[k, i] A[i, j] B[j, k]  by cyclic``); it has
no site to rewrite, because there is nothing to change in the hypergraph.
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram
from .base import Edit, Site, register


@register
class CyclicRule:
    name = "cyclic"
    description = "trace cyclicity (built into equality: reordering a loop changes nothing)"
    default = False  # used by `assert` when no rule is named
    inside_derivative = False  # sound inside a derivative's argument
    on_sums = False
    order = 200  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        return iter(())

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:  # pragma: no cover - never matched
        raise AssertionError("cyclic has no sites")
