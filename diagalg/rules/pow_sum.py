"""``pow_sum``: a power of a sum absorbs the sum where it divides the cofactor.

``pow(S, a)`` of a sum S (two or more terms) times S itself does not reach
``pow_collect``: the product S ⊙ pow(S, a) is distributed into one term per
summand of S before any rule sees it as a copy of the base, and the chain rule
produces it already distributed (binary cross-entropy's
``pow(1 − σ, −1) ⊙ (σ − σ ⊙ σ)``). So this rule works on the whole sum:

1. the terms holding a ``pow(S, a)`` bubble of the same S, the same exponent and
   the same wiring of its legs (each leg on an edge of its own, carrying the same
   free labels in every term) form a group; each group term is c · pow(S, a) ⊙ R,
   and the cofactor Q = Σ c R is a polynomial whose variables are the *pieces*
   of R: its nodes joined by summed edges other than the bubble's (compared by
   canonical key, the bubble's edges named by its legs, free labels by name);
2. the summands of S are products of pieces in the same variables; when S divides
   Q as polynomials (sympy, coefficients rational functions of the dimensions),
   Q = S ⊙ Q' and the group is replaced by ``pow(S, a + 1) ⊙ Q'`` (no bubble when
   a + 1 = 0; ``pow_expand`` writes out a positive integer power).

Soundness: treating the pieces as independent variables only forgets relations
between them, so a polynomial identity Q = S Q' in those variables holds for
every value they take, and S^a ⊙ S = S^(a+1) wherever the left side is defined
(principal branches, as ``pow_collect``: a negative a needs S ≠ 0). A group
whose terms share a summed bubble edge is summed over it on both sides alike.
No property is used, so the rule also works inside derivatives.

Termination: deg Q' = deg Q − deg S < deg Q (S has a summand that is not a
constant: it has two or more distinct summands), so a group cannot be
rewritten forever; the engine re-simplifies the new terms and applies sum
rules again at most :data:`diagalg.engine.MAX_SUM_PASSES` times per sum.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Hashable, Mapping

import sympy

from ..model import Diagram, Expr, Node, Term, all_edge_names
from ..powers import boundary_components, exponent, is_pow
from .base import register

_LEG = "\x01"  # prefix of a bubble leg's name in a piece's key
_LABEL = "\x00"  # prefix of an outer free label in a piece's key


class _Atoms:
    """The pieces met so far: key -> sympy symbol, and one representative of each (its
    nodes, with each edge's role: a bubble leg, a free label, or summed inside)."""

    def __init__(self) -> None:
        self.symbol: dict[Hashable, sympy.Symbol] = {}
        self.example: dict[sympy.Symbol, tuple[list[Node], dict[str, tuple[str, str]], dict[str, sympy.Expr]]] = {}

    def monomial(self, d: Diagram, leg_of: Mapping[str, str], skip: int | None) -> sympy.Expr | None:
        """The product of the pieces of ``d`` (cut at the edges of ``leg_of``, edge -> leg,
        and at labelled edges), leaving out node ``skip``; None when ``d`` has an identity
        (an edge with two labels) or a closed loop."""
        from ..canonical import canonical_key

        labels = d.edge_labels
        for e, inc in d.incidence.items():
            if len(labels[e]) > 1 or (not inc and not labels[e] and e not in leg_of):
                return None
        cut = frozenset(leg_of) | frozenset(e for e in d.dims if labels[e])
        out = sympy.Integer(1)
        for piece in boundary_components(d, cut):
            if skip in piece:
                continue
            nodes = [d.nodes[k] for k in piece]
            edges = {e for n in nodes for e in n.edges}
            role = {
                e: (("leg", leg_of[e]) if e in leg_of else ("label", labels[e][0]) if labels[e] else ("sum", e))
                for e in edges
            }
            free = {(_LEG + r[1] if r[0] == "leg" else _LABEL + r[1]): e for e, r in role.items() if r[0] != "sum"}
            key = canonical_key(Diagram.build(nodes, {e: d.dims[e] for e in edges}, free))
            if key not in self.symbol:
                sym = sympy.Dummy(f"piece{len(self.symbol)}")
                self.symbol[key] = sym
                self.example[sym] = (nodes, role, {e: d.dims[e] for e in edges})
            out = out * self.symbol[key]
        return out


def _group_key(d: Diagram, i: int) -> Hashable | None:
    """What a group shares: the bubble's argument, exponent and, per leg, the free labels
    on its edge; None unless node ``i`` is ``pow`` of a sum on distinct edges."""
    node = d.nodes[i]
    op = node.op
    if not is_pow(op) or len(op.inner.terms) < 2 or len(set(node.edges)) != len(node.edges):
        return None
    labels = d.edge_labels
    return op, tuple((port, tuple(sorted(labels[e]))) for port, e in zip(op.ports, node.edges))


def _rebuild(template: Diagram, i: int, power: sympy.Expr, monomial: sympy.Expr, atoms: _Atoms) -> Diagram:
    """``template``'s bubble (node ``i``) raised to ``power`` (left out for 0), its free
    labels, and the pieces of ``monomial`` glued on (each copy with fresh summed edges)."""
    node = template.nodes[i]
    edge_of_leg = dict(zip(node.op.ports, node.edges))
    edge_of_label = template.free_map
    dims = {e: template.dims[e] for e in set(node.edges) | set(edge_of_label.values())}
    nodes = [] if power == 0 else [Node(replace(node.op, param=power), node.edges)]
    used = all_edge_names(template)
    count = 0
    for sym, k in monomial.as_powers_dict().items():
        if sym == 1:
            continue
        pieces, role, piece_dims = atoms.example[sym]
        for _ in range(int(k)):
            rename: dict[str, str] = {}
            for e, (kind, name) in role.items():
                if kind == "leg":
                    rename[e] = edge_of_leg[name]
                elif kind == "label":
                    rename[e] = edge_of_label[name]
                else:
                    while f"ps{count}" in used:
                        count += 1
                    rename[e] = f"ps{count}"
                    used.add(rename[e])
                    dims[rename[e]] = piece_dims[e]
            nodes.extend(Node(n.op, tuple(rename[e] for e in n.edges)) for n in pieces)
    return Diagram.build(nodes, dims, edge_of_label)


def _split(poly: sympy.Expr, gens: list[sympy.Symbol]) -> list[tuple[sympy.Expr, sympy.Expr]]:
    """(coefficient, monomial) pairs of the polynomial ``poly`` in ``gens``."""
    p = sympy.Poly(poly, *gens)
    return [(c, sympy.Mul(*(g**k for g, k in zip(gens, m)))) for m, c in p.terms()]


@register
class PowSumRule:
    name = "pow_sum"
    description = "pow(S, a) ⊙ Q -> pow(S, a + 1) ⊙ Q/S for a sum S dividing the cofactor Q (summed over terms)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # polynomial division: no property is used
    on_sums = True
    order = 115  # sum rules: before collect
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False
    #: the engine simplifies the terms this rule produces again (and checks them in checked mode)
    resimplify = True

    def rewrites(self, expr: Expr, subs: Mapping | None = None) -> list[tuple[list[int], list[Term]]]:
        """The groups to replace: (indices of the terms of ``expr``, the terms replacing them)."""
        groups: dict[Hashable, list[tuple[int, int]]] = {}
        for t, term in enumerate(expr.terms):
            for i in range(len(term.diagram.nodes)):
                key = _group_key(term.diagram, i)
                if key is not None:
                    groups.setdefault(key, []).append((t, i))
        out: list[tuple[list[int], list[Term]]] = []
        taken: set[int] = set()
        for members in groups.values():
            members = [(t, i) for t, i in members if t not in taken]
            if not members or len({t for t, _ in members}) != len(members):
                continue  # a term with two such bubbles on the same legs: pow_collect's to merge
            found = self._divide(expr, members)
            if found is not None:
                out.append(([t for t, _ in members], found))
                taken.update(t for t, _ in members)
        return out

    def _divide(self, expr: Expr, members: list[tuple[int, int]]) -> list[Term] | None:
        atoms = _Atoms()
        q = sympy.Integer(0)
        for t, i in members:
            d = expr.terms[t].diagram
            m = atoms.monomial(d, {e: p for p, e in zip(d.nodes[i].op.ports, d.nodes[i].edges)}, skip=i)
            if m is None:
                return None
            q += sympy.sympify(expr.terms[t].coeff) * m
        t0, i0 = members[0]
        op = expr.terms[t0].diagram.nodes[i0].op
        assert is_pow(op)  # the members are the pow bubbles the grouping found
        s = sympy.Integer(0)
        for term in op.inner.terms:
            d = term.diagram
            m = atoms.monomial(d, {e: label for label, e in d.free}, skip=None)
            if m is None:
                return None
            s += sympy.sympify(term.coeff) * m
        gens = list(atoms.example)
        if not gens or not (s.free_symbols & set(gens)):
            return None
        try:
            quotient, rest = sympy.div(sympy.expand(q), sympy.expand(s), *gens)
        except (sympy.PolynomialError, sympy.CoercionFailed, NotImplementedError):
            return None
        if sympy.expand(rest) != 0:
            return None
        template = expr.terms[t0].diagram
        power = exponent(op) + 1
        return [
            Term(sympy.cancel(c), _rebuild(template, i0, power, mono, atoms))
            for c, mono in _split(sympy.expand(quotient), gens)
            if c != 0
        ]

    def apply(self, expr: Expr, subs: Mapping | None = None) -> Expr:
        """``expr`` with every group :meth:`rewrites` finds replaced (``expr`` itself when none)."""
        found = self.rewrites(expr, subs)
        if not found:
            return expr
        gone = {t for ts, _ in found for t in ts}
        terms = [term for t, term in enumerate(expr.terms) if t not in gone]
        for _, new in found:
            terms.extend(new)
        return Expr.of(terms, expr.free_dims)
