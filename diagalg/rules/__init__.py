"""Named rewrite rules, one module each (matcher + rewriter), registered by name."""

from __future__ import annotations

from . import cyclic, delta, distribute, gauge, inverse, isometry  # noqa: F401  (registration)
from .base import Edit, Rule, Site, get_rule, registered

#: Rules working on whole sums rather than on one diagram.
SUM_RULES = ("collect",)

#: What `assert` uses when no rule is named (spec section 7: every rule but gauge).
DEFAULT_RULES = ("delta", "isometry", "inverse", "distribute", "collect")


def implemented_rules() -> tuple[str, ...]:
    """Every rule name usable after `by`."""
    return tuple(sorted(set(registered()) | set(SUM_RULES)))


__all__ = ["Edit", "Rule", "Site", "get_rule", "registered", "implemented_rules", "DEFAULT_RULES", "SUM_RULES"]
