"""Named rewrite rules, one module each (matcher + rewriter), registered by name."""

from __future__ import annotations

from . import cyclic, delta, derivative, distribute, gauge, inverse, isometry, reshape, shift, symmetry  # noqa: F401
from . import layernorm_shift, softmax_shift  # noqa: F401
from .base import Edit, Rule, Site, get_rule, registered

#: Rules working on whole sums rather than on one diagram.
SUM_RULES = ("collect",)

#: What `assert` uses when no rule is named (spec section 7: every rule but gauge).
DEFAULT_RULES = ("delta", "isometry", "inverse", "distribute", "shift", "symmetry", "reshape", "softmax_shift",
                 "logsumexp_shift", "layernorm_shift", "derivative", "collect")

#: Rules used inside a derivative's argument: there the entries of the variable are
#: independent, so no rule may use declared properties (symmetry, isometry, collect's
#: canonical leg symmetries); inv(X) X = I holds for any X.
DERIVATIVE_INNER_RULES = ("derivative", "delta", "distribute", "inverse", "shift", "reshape", "softmax_shift",
                          "logsumexp_shift", "layernorm_shift")


def implemented_rules() -> tuple[str, ...]:
    """Every rule name usable after `by`."""
    return tuple(sorted(set(registered()) | set(SUM_RULES)))


__all__ = ["Edit", "Rule", "Site", "get_rule", "registered", "implemented_rules", "DEFAULT_RULES", "SUM_RULES"]
