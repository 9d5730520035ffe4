"""Named rewrite rules, one module each (matcher + rewriter), registered by name.

The registry (:mod:`.base`) is the only source of rule names and rule sets: each
rule class declares ``default``, ``inside_derivative``, ``on_sums`` and ``order``,
and the sets below are computed from those attributes, in ``order`` (the order
the engine tries rules in). Adding a rule is one module imported here.
"""

from __future__ import annotations

from . import cyclic, delta, derivative, distribute, gauge, inverse, isometry, reshape, shift, symmetry  # noqa: F401
from . import collect, layernorm_shift, softmax_shift  # noqa: F401
from . import exp_product, log_exp, pow_collect, pow_expand, pow_nest, pow_split, softmax_sum  # noqa: F401
from . import distribution_sum, elementwise_reshape, log_softmax, pow_sum, softmax_fold  # noqa: F401
from . import det_inverse, det_product, inverse_cancel, inverse_expr, inverse_product  # noqa: F401
from . import inverse_transposed, softmax_reshape, unitary_inverse  # noqa: F401  (issue 14)

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

__all__ = ["Edit", "Rule", "Site", "all_rules", "get_rule", "registered", "implemented_rules", "DEFAULT_RULES",
           "SUM_RULES", "DERIVATIVE_INNER_RULES"]
