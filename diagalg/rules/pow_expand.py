"""``pow_expand``: a non-negative integer power is written out as copies.

``pow(E, k)`` with k a non-negative integer is the k-fold elementwise product
``E ⊙ … ⊙ E``. In a diagram that product is k copies of E's diagram glued on the
bubble's legs (each copy with its own summed edges), so the rewrite is

* ``pow(c E, k) -> c^k · E ⊙ … ⊙ E`` for one term ``c E`` (``pow(E, 1) -> E``),
* ``pow(E₁ + E₂ + …, k) ->`` k parenthesised copies of the sum on the legs (which
  ``distribute`` then multiplies out),
* ``pow(E, 0) ->`` ones (the node is removed; 0⁰ = 1, as numpy, torch and the
  polynomial x⁰ read it), and ``pow(0, k) -> 0`` for k ≥ 1.

This is the normal form of :mod:`diagalg.powers`: ``pow(x[i], 2)`` and
``keep[i](x[i] x[i])`` become one diagram, drawn as the paper draws an
elementwise square, and ``pow`` is left for negative and fractional exponents.
Exact and unconditional (it is the definition of an integer power), so it is
used inside derivatives too.

Termination: the copies are of a proper part of the bubble, which ranks below
``pow`` in the recursive path order of the engine's docstring (the diagram may
grow: ``pow(x, 5)`` is five nodes).
"""

from __future__ import annotations

from typing import Iterator

import sympy

from ..model import BoxOp, BubbleOp, Diagram, Node
from ..powers import copies, exponent, is_natural, is_pow
from .base import Edit, Site, register


@register
class PowExpandRule:
    name = "pow_expand"
    description = "pow(E, k) for an integer k >= 0 -> k copies of E on the bubble's legs (ones for k = 0)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # the definition of an integer power: no property is used
    on_sums = False
    order = 72  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if is_pow(node.op) and is_natural(exponent(node.op)):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        assert isinstance(node.op, BubbleOp)  # match found a pow bubble here
        k = int(exponent(node.op))
        inner = node.op.inner
        if k == 0:
            return Edit(remove=(i,))
        if not inner.terms:  # pow(0, k) = 0
            return Edit(remove=(i,), factor=sympy.Integer(0))
        if len(inner.terms) == 1:
            (term,) = inner.terms
            nodes, dims, merges = copies(diagram, node, term.diagram, k, tag=f"pw{i}")
            return Edit(
                remove=(i,),
                add=tuple(nodes),
                new_edges=tuple(dims.items()),
                merge=tuple(merges),
                factor=sympy.sympify(term.coeff) ** k,
            )
        box = Node(BoxOp(inner, node.op.ports), node.edges)
        return Edit(remove=(i,), add=(box,) * k)
