"""``pow_collect``: the powers of one base on the same legs add up.

In one term, every ``pow(D, a)`` bubble whose argument is one term ``D``
(coefficient 1, each leg on an edge of its own) names a *base*: D on the edges
its legs sit on. Its other occurrences in the term are the bubbles ``pow(D, a')``
on the same edges and the *copies* of D: pieces of the diagram that are D itself,
meeting the rest only on those edges (:func:`diagalg.powers.boundary_components`
relative to the bubble's edges, compared by canonical key with D's free labels
named by the edges they sit on). All of them are replaced by one ``pow(D, e)``,
e = Σ a + (number of copies); nothing for e = 0 (ones: ``keep[i](x[i] pow(x[i],
-1)) -> delta[i]``; a summed edge left bare is a closed loop, its dimension).
``pow(D, e)`` for a positive integer e is written out by ``pow_expand`` next.

Domain: xᵃ xᵇ = e^{(a+b) Log x} = x^{a+b} with principal branches, wherever the
left side is defined (a negative power needs x ≠ 0; a fractional one of a real
needs x ≥ 0). No property is used, so the rule also works inside derivatives.

Cost: one canonical key per pow bubble and, per distinct set of bubble edges,
one pass over the term and a key per piece with as many nodes as the base.
Termination: the occurrences removed include a bubble and at least one more, and
what is added is one bubble with the same argument, or copies of a proper part
(the recursive path order of the engine's docstring).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Hashable, Iterator, cast

import sympy

from ..model import BubbleOp, Diagram, Node
from ..powers import boundary_components, exponent, is_pow, single_term
from .base import Edit, Site, register

#: The prefix of an outer free label in a piece's key: never an edge name, so a piece that
#: carries a free label of the term never matches a base.
_OUTER_LABEL = "\x00"


def _pow_op(diagram: Diagram, i: int) -> BubbleOp:
    """The op of node ``i``, a pow bubble that :func:`_base_key` named a base of."""
    op = diagram.nodes[i].op
    assert isinstance(op, BubbleOp)
    return op


def _base_key(diagram: Diagram, i: int) -> tuple[Hashable, frozenset[str]] | None:
    """The key of node ``i``'s base (its argument with free labels named by the outer edges
    they sit on) and those edges; None when node ``i`` names no base."""
    from ..canonical import canonical_key

    node = diagram.nodes[i]
    if not is_pow(node.op) or len(set(node.edges)) != len(node.edges):
        return None
    term = single_term(node.op.inner)
    if term is None or term.coeff != 1 or not term.diagram.nodes:
        return None
    outer = dict(zip(node.op.ports, node.edges))
    d = term.diagram
    named = Diagram.build(d.nodes, d.dims, {outer[label]: e for label, e in d.free})
    return canonical_key(named), frozenset(node.edges)


def _piece_key(diagram: Diagram, nodes: list[int], boundary: frozenset[str]) -> Hashable:
    """The key of a piece: its nodes, boundary edges labelled by their own names, other
    labelled edges by their outer labels (marked), the rest summed."""
    from ..canonical import canonical_key

    chosen = [diagram.nodes[k] for k in nodes]
    edges = {e for n in chosen for e in n.edges}
    free = {e: e for e in edges if e in boundary}
    for e in edges - boundary:
        for label in diagram.edge_labels[e]:
            free[_OUTER_LABEL + label] = e
    return canonical_key(Diagram.build(chosen, {e: diagram.dims[e] for e in edges}, free))


@register
class PowCollectRule:
    name = "pow_collect"
    description = "x^a ⊙ x^b -> x^(a+b) for one base on the same legs (copies of x count 1): x ⊙ pow(x, -1) -> 1"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # exponent arithmetic: no property is used
    on_sums = False
    order = 78  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        bases: dict[tuple[Hashable, frozenset[str]], list[int]] = {}
        boundary_of: dict[tuple[Hashable, frozenset[str]], frozenset[str]] = {}
        for i in range(len(diagram.nodes)):
            found = _base_key(diagram, i)
            if found is not None:
                bases.setdefault(found, []).append(i)
                boundary_of[found] = found[1]
        if not bases:
            return
        pieces_by_boundary: dict[frozenset[str], list[list[int]]] = {}
        used: set[int] = set(i for members in bases.values() for i in members)
        for base, bubbles in bases.items():
            boundary = boundary_of[base]
            if boundary not in pieces_by_boundary:
                pieces_by_boundary[boundary] = boundary_components(diagram, boundary)
            size = len(_pow_op(diagram, bubbles[0]).inner.terms[0].diagram.nodes)
            copies: list[list[int]] = []
            for piece in pieces_by_boundary[boundary]:
                if len(piece) != size or used.intersection(piece):
                    continue
                if _piece_key(diagram, piece, boundary) == base[0]:
                    copies.append(piece)
                    used.update(piece)
            if len(bubbles) + len(copies) < 2:
                continue
            total = sum((exponent(_pow_op(diagram, b)) for b in bubbles), sympy.Integer(0)) + len(copies)
            inside = tuple(sorted({e for piece in copies for k in piece for e in diagram.nodes[k].edges} - boundary))
            yield Site(tuple(bubbles) + tuple(k for piece in copies for k in piece), data=(bubbles[0], total, inside))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        first, total, inside = cast("tuple[int, sympy.Expr, tuple[str, ...]]", site.data)
        keep = diagram.nodes[first]
        removed = tuple(k for k in site.nodes if k != first or total == 0)
        replaced = () if total == 0 else ((first, Node(replace(keep.op, param=total), keep.edges)),)
        return Edit(remove=removed, replace=replaced, drop_edges=inside)
