"""``pow_split``: a power of an elementwise product is the product of the powers.

``pow(c · F₁ ⊙ … ⊙ Fₘ, b) -> c^b · pow(F₁, b) ⊙ … ⊙ pow(Fₘ, b)`` for an exponent b
that is not a non-negative integer (those are ``pow_expand``'s). The factors Fⱼ
are the connected pieces of the bubble's one-term argument, joined by its summed
edges (:func:`diagalg.powers.factor_components`): in ``pow(keep[i](x[i] A[i, j]
y[j]), -1)`` they are ``x[i]`` and ``A[i, j] y[j]``. A factor on no leg of the
bubble is a scalar and gets a bubble without legs; ``pow(c · ones, b)`` is
``c^b`` ones.

Domain: for an integer b, (c u v)^b = c^b u^b v^b wherever the left side is
defined (for b < 0 that needs u v ≠ 0, hence u ≠ 0 and v ≠ 0), for complex values
too. For a fractional b it fails for negative reals ((−1 · −1)^½ = 1, but
(−1)^½ is not real), so the rule then needs c > 0 and every factor but one
provably positive (:func:`diagalg.powers.positive`: a tensor declared
``positive``, exp/sigmoid/softmax of a real argument, ...): Log(p w) = Log p +
Log w for p > 0. Because it reads the ``positive`` property, the rule is not used
inside a derivative's argument.

Termination: the factors are proper parts of the argument (the recursive path
order of the engine's docstring, with ``pow`` above products).
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..model import BubbleOp, Diagram, Expr, Node
from ..powers import exponent, factor_components, is_integer, is_natural, is_pow, positive, single_term, sub_diagram
from .base import Edit, Site, register


def _split(diagram: Diagram, i: int) -> list[list[int]] | None:
    """The factors to split node ``i``'s argument into, or None when the rule does not apply."""
    op = diagram.nodes[i].op
    if not is_pow(op) or is_natural(exponent(op)):
        return None
    term = single_term(op.inner)
    if term is None:
        return None
    coeff = sympy.sympify(term.coeff)
    parts = factor_components(term.diagram)
    if parts is None or coeff == 0 or (coeff == 1 and len(parts) == 1):
        return None
    if not is_integer(exponent(op)):
        if not coeff.is_positive:
            return None
        unknown = sum(1 for p in parts if not positive(Expr.single(sub_diagram(term.diagram, p))))
        if unknown > 1:
            return None
    return parts


@register
class PowSplitRule:
    name = "pow_split"
    description = "pow(c x ⊙ y, b) -> c^b pow(x, b) ⊙ pow(y, b) (integer b, or c > 0 and positive factors)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the `positive` property
    on_sums = False
    order = 74  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i in range(len(diagram.nodes)):
            parts = _split(diagram, i)
            if parts is not None:
                yield Site((i,), data=parts)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        op = node.op
        assert isinstance(op, BubbleOp)  # match found a pow bubble here
        b = exponent(op)
        (term,) = op.inner.terms
        outer = dict(zip(op.ports, node.edges))  # the argument's label -> the outer edge
        added = []
        for part in cast("list[list[int]]", site.data):  # match stored factor_components
            piece = sub_diagram(term.diagram, part)
            inner = Expr.single(piece)
            new = BubbleOp("pow", inner, (), b)
            added.append(Node(new, tuple(outer[label] for label in new.ports)))
        return Edit(remove=(i,), add=tuple(added), factor=sympy.sympify(term.coeff) ** b)
