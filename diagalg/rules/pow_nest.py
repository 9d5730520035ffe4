"""``pow_nest``: a power of a power multiplies the exponents; a power of ``exp`` scales it.

* ``pow(pow(E, a), b) -> pow(E, a b)``,
* ``pow(exp(E), b) -> exp(b E)``,

where the outer argument is the inner bubble alone (coefficient 1, each leg on an
edge of its own carrying one label; ``pow_split`` has taken products and
coefficients apart first).

Domain: for an integer b, (xᵃ)ᵇ = e^{ab Log x} = x^{ab} with principal branches
wherever the left side is defined, and (eᴱ)ᵇ = e^{bE}, complex values included.
For a fractional b the first needs a positive base ((x²)^½ = |x|, not x): E must
be provably positive (:func:`diagalg.powers.positive`, which reads the
``positive`` property, so the rule is not used inside a derivative's argument);
the second a real E (eᴱ > 0 then).

Termination: the outer bubble goes; the result's argument is the inner bubble's
(the recursive path order of the engine's docstring).
"""

from __future__ import annotations

from typing import Iterator, cast

from ..model import BubbleOp, Diagram, Node
from ..powers import bubble_argument, exponent, is_integer, is_natural, is_pow, is_real, positive
from .base import Edit, Site, register


def _inner_bubble(diagram: Diagram, i: int) -> tuple[BubbleOp, tuple[str, ...]] | None:
    """The pow or exp bubble that is the whole argument of ``pow`` node ``i``, with the outer
    edges its ports map to; None when the argument is anything else."""
    return bubble_argument(diagram.nodes[i], ("pow", "exp"))


@register
class PowNestRule:
    name = "pow_nest"
    description = "pow(pow(x, a), b) -> pow(x, a b); pow(exp(x), b) -> exp(b x) (integer b, or x positive / real)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the `positive` property
    on_sums = False
    order = 76  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if not is_pow(node.op) or is_natural(exponent(node.op)):
                continue
            found = _inner_bubble(diagram, i)
            if found is None:
                continue
            inner, edges = found
            b = exponent(node.op)
            if is_integer(b) or (positive(inner.inner) if inner.kind == "pow" else is_real(inner.inner)):
                yield Site((i,), data=(inner, edges))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        inner, edges = cast("tuple[BubbleOp, tuple[str, ...]]", site.data)
        op = diagram.nodes[i].op
        assert isinstance(op, BubbleOp)  # match found a pow bubble here
        b = exponent(op)
        if inner.kind == "pow":
            new = BubbleOp("pow", inner.inner, (), exponent(inner) * b)
        else:
            new = BubbleOp("exp", inner.inner.scaled(b))
        return Edit(replace=((i, Node(new, edges)),))
