"""Named rewrite rules, one module each (matcher + rewriter), registered by name.

The registry (:mod:`.base`) is the only source of rule names and rule sets: each
rule class declares ``default``, ``inside_derivative``, ``on_sums`` and ``order``,
and the sets below are computed from those attributes, in ``order`` (the order
the engine tries rules in). Adding a rule is one module imported here.
"""

from __future__ import annotations

from . import (  # noqa: F401  (each module registers its rule on import)
    collect,
    cyclic,
    delta,
    derivative,
    det_inverse,
    det_product,
    distribute,
    distribution_sum,
    elementwise_reshape,
    exp_product,
    gauge,
    inverse,
    inverse_cancel,
    inverse_expr,
    inverse_product,
    inverse_transposed,
    isometry,
    layernorm_shift,
    log_exp,
    log_softmax,
    pow_collect,
    pow_expand,
    pow_nest,
    pow_split,
    pow_sum,
    reshape,
    shift,
    softmax_fold,
    softmax_reshape,
    softmax_shift,
    softmax_sum,
    symmetry,
    unitary_inverse,
)
from .base import Edit, Rule, Site, all_rules, get_rule, registered


def _names_where(attr: str) -> tuple[str, ...]:
    """The registered rule names whose class sets ``attr`` true, in the engine's order."""
    return tuple(name for name, rule in all_rules().items() if getattr(rule, attr))


#: Rules working on whole sums rather than on one diagram.
SUM_RULES = _names_where("on_sums")

#: What `assert` uses when no rule is named (spec section 7: every rule but gauge and cyclic).
DEFAULT_RULES = _names_where("default")

#: Rules used inside a derivative's argument: there the entries of the variable are
#: independent, so no rule may use declared properties (symmetry, isometry, collect's
#: canonical leg symmetries); inv(X) X = I holds for any X. The engine keeps its own
#: order for them (it filters its rule list by this set).
DERIVATIVE_INNER_RULES = _names_where("inside_derivative")


def implemented_rules() -> tuple[str, ...]:
    """Every rule name usable after `by`, sorted."""
    return tuple(sorted(all_rules()))


__all__ = [
    "Edit",
    "Rule",
    "Site",
    "all_rules",
    "get_rule",
    "registered",
    "implemented_rules",
    "DEFAULT_RULES",
    "SUM_RULES",
    "DERIVATIVE_INNER_RULES",
]
