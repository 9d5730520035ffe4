"""``collect``: combine the terms of a sum whose diagrams are equal.

Like ``pow_sum``, ``collect`` works on a whole sum, not on one diagram: the
engine calls :meth:`CollectRule.apply` on the simplified sum once its terms are
rewritten (``on_sums``). Equality is the canonical form of
:mod:`diagalg.canonical`, which uses the declared leg symmetries (symmetric and
antisymmetric groups, real projectors and posdef matrices); inside a derivative's
argument those properties do not hold for the variable, so the rule is not used
there (``inside_derivative = False``).
"""

from __future__ import annotations

from typing import Mapping

from ..model import Expr
from .base import register


@register
class CollectRule:
    name = "collect"
    description = "combine terms with equal diagrams (canonical form, declared leg symmetries)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # the canonical form uses declared leg symmetries
    on_sums = True
    order = 120  # last: after every diagram rule
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def apply(self, expr: Expr, subs: Mapping | None = None) -> Expr:
        """``expr`` with equal terms combined (:func:`diagalg.canonical.collect`): the
        same tensor, one term per canonical diagram, zero coefficients dropped."""
        from ..canonical import collect

        return collect(expr, subs)
