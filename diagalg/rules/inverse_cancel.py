"""``inverse_cancel``: ``E[i, j] inv(E[k, j]) -> delta[i, k]`` for any expression E.

The inverse of an expression keeps E's labels (docs/language.md, ``inv`` of an
expression): contracted with E on all of its inputs it is the identity on its
outputs, and on all of its outputs the identity on its inputs. This rule cancels
such a pair when it sits in one product: an ``inv`` bubble V of E and a node N
whose value is E, or r⁻¹·E for a scalar r ≠ 0, once each port of N is named by
the leg of V it stands for. N is a parenthesised sum ``(X + A)[i, j]`` (its
contents are compared), a folded ``let`` (itself, or its definition) or any other
node (``A[i, j] inv(A[k, j])`` for an undeclared A). The legs of one group of V
(its inputs, or its outputs) must each share an edge with the same leg of N and
with nothing else, no label on it; the legs of the other group become identities
between N's and V's edges (edge merges), and the product is ``1/r``.

Which port of N stands for which leg is read off the wiring for the joined group;
the other group's legs are tried in every assignment to N's remaining ports of
their dimension (at most :data:`MAX_FREE_LEGS` legs), and a match needs E with
those names to equal V's argument up to the factor r (:func:`diagalg.canonical.equal`:
structural, so a transposed E — ``E[i, j] inv(E[j, k])`` — is not a match).

Domain: E square and invertible. Square is the bubble's own condition (an
``inv`` of a non-square map is refused where it is written); invertibility is
what ``inv(E)`` asserts: the identity holds wherever the left side is defined,
and the numeric oracle samples inverses only where they exist (a singular draw
is NaN on the float path and has no exact value). The comparison is the
canonical form, which reads declared leg symmetries (``S[i, j]`` and ``S[j, i]``
are one tensor for a symmetric S); inside a derivative by S its entries are
independent, so, like ``collect``, the rule is not used there. Termination: two nodes go
(the bubble with its whole argument) and no node is added; edges only merge or
go, so the engine's measure falls. It runs before ``distribute`` (order 39), so
``(X + A) inv(X + A)`` is cancelled while the sum is still one box.
"""

from __future__ import annotations

from itertools import permutations
from typing import Iterator, cast

import sympy

from ..bubbles.matrix import roles
from ..canonical import canonical_term, equal
from ..model import BoxOp, BubbleOp, Diagram, Expr, Node
from ..powers import relabel_expr
from .base import Edit, Site, exclusive_edge, register

#: The most legs the unjoined group may have (their assignments are tried in turn).
MAX_FREE_LEGS = 4


def node_values(node: Node) -> list[Expr]:
    """The expressions ``node`` denotes with its ports as free labels: the node alone,
    and for a box (a parenthesised sum or a folded ``let``) also its contents."""
    op = node.op
    dims = {p: op.port_dim(p) for p in op.ports}
    alone = Expr.single(Diagram.build([Node(op, tuple(op.ports))], dims, {p: p for p in op.ports}))
    return [alone, op.inner] if isinstance(op, BoxOp) else [alone]


def ratio(value: Expr, target: Expr) -> sympy.Expr | None:
    """r ≠ 0 with ``target == r · value`` as sums of diagrams (canonical equality), else None."""
    if set(value.labels) != set(target.labels) or not value.terms or not target.terms:
        return None
    first, sign = canonical_term(value.terms[0].diagram)
    for t in target.terms:
        key, tsign = canonical_term(t.diagram)
        if key == first and sign and tsign:
            r = sympy.simplify(sympy.sympify(t.coeff) * tsign / (sympy.sympify(value.terms[0].coeff) * sign))
            if r != 0 and equal(target, value.scaled(r)):
                return cast(sympy.Expr, r)
            return None
    return None


def _match_pair(
    diagram: Diagram, v: int, n: int, joined: tuple[str, ...], kept: tuple[str, ...]
) -> tuple[dict[str, str], sympy.Expr] | None:
    """(leg of V -> port of N, r) when node ``n`` is r⁻¹·(V's argument) joined to the
    bubble ``v`` on the legs ``joined`` only, else None."""
    bubble, other = diagram.nodes[v], diagram.nodes[n]
    op = cast(BubbleOp, bubble.op)
    v_edge = dict(zip(op.ports, bubble.edges))
    leg_of: dict[str, str] = {}
    for leg in joined:
        e = v_edge[leg]
        at = [k for k, edge in enumerate(other.edges) if edge == e]
        if len(at) != 1 or not exclusive_edge(diagram, e, (v, op.ports.index(leg)), (n, at[0])):
            return None
        leg_of[leg] = other.op.ports[at[0]]
    rest = [p for p in other.op.ports if p not in leg_of.values()]
    if len(rest) != len(kept) or len(kept) > MAX_FREE_LEGS:
        return None
    values = node_values(other)
    for perm in permutations(rest):
        full = {**leg_of, **dict(zip(kept, perm))}
        if any(sympy.simplify(op.port_dim(l) - other.op.port_dim(p)) != 0 for l, p in full.items()):
            continue
        back = {p: l for l, p in full.items()}
        for value in values:
            r = ratio(relabel_expr(value, back), op.inner)
            if r is not None:
                return full, r
    return None


@register
class InverseCancelRule:
    name = "inverse_cancel"
    description = "E inv(E) -> identity for any expression E wired as a product (either group joined)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # the canonical comparison reads declared leg symmetries
    on_sums = False
    order = 39  # the engine's sequence (lower first): before distribute splits the box of E
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for v, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or op.kind != "inv":
                continue
            ins, outs = roles(op)
            edge = dict(zip(op.ports, node.edges))
            for joined, kept in ((ins, outs), (outs, ins)):
                for n in sorted({k for k, _ in diagram.incidence[edge[joined[0]]]} - {v}):
                    found = _match_pair(diagram, v, n, joined, kept)
                    if found is not None:
                        yield Site((v, n), data=(found, joined, kept))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        v, n = site.nodes
        (leg_of, r), joined, kept = cast(
            "tuple[tuple[dict[str, str], sympy.Expr], tuple[str, ...], tuple[str, ...]]", site.data
        )
        bubble, other = diagram.nodes[v], diagram.nodes[n]
        v_edge = dict(zip(bubble.op.ports, bubble.edges))
        n_edge = dict(zip(other.op.ports, other.edges))
        merges = tuple((v_edge[leg], n_edge[leg_of[leg]]) for leg in kept)
        return Edit(remove=(v, n), merge=merges, drop_edges=tuple(v_edge[leg] for leg in joined), factor=1 / r)
