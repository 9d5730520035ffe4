"""Sums of diagrams built by hand: the toolkit the bubbles' derivatives are written with.

A derivative table entry (``Bubble.derivative``) returns :data:`Pieces`, a list of
(coefficient, diagram) pairs over one set of free labels; the ``derivative`` rule
(:mod:`diagalg.rules.derivative`) turns them into terms and inlines them in place
of the node. Everything here depends on :mod:`diagalg.model` only, so bubble
modules and the rule can both use it without an import cycle.
"""

from __future__ import annotations

import itertools
from typing import Callable, Mapping, Sequence

import sympy

from ..model import BubbleOp, Diagram, Expr, Node, Op, Term, all_edge_names, inline_diagram, resolve_merges

ONE = sympy.Integer(1)

Pieces = list[tuple[sympy.Expr, Diagram]]  # a sum of diagrams over one set of free labels

#: ``derivative(op, d_inner, dims)``: the bubble's derivative given its argument's
#: derivative ``d_inner`` (non-empty), as pieces over ``dims`` (the node's ports and
#: the derivative labels).
Derivative = Callable[[BubbleOp, Expr, Mapping[str, sympy.Expr]], Pieces]


def ones(labels: Sequence[str], dims: Mapping[str, sympy.Expr]) -> Diagram:
    """The all-ones tensor on ``labels`` (edges carrying a label and no port)."""
    return Diagram.build((), {l: dims[l] for l in labels}, {l: l for l in labels})


def single(op: Op) -> Diagram:
    """One node ``op`` with each port on its own edge, labelled by the port name."""
    return Diagram.build((Node(op, tuple(op.ports)),), {p: op.port_dim(p) for p in op.ports}, {p: p for p in op.ports})


def glue(
    free: Mapping[str, sympy.Expr],
    parts: Sequence[tuple[Diagram, Mapping[str, str]]],
    internal: Mapping[str, sympy.Expr] | None = None,
) -> Diagram:
    """The product of ``parts`` with free labels ``free``: each part's free label L is
    glued to the edge named ``mapping.get(L, L)``, one of ``free`` (an edge carrying
    that label) or of ``internal`` (a summed edge). Labels shared by several parts
    are joined as hyperedges (a Hadamard product on them)."""
    internal = dict(internal or {})
    dims = dict(free)
    dims.update(internal)
    base = Diagram.build((), dims, {l: l for l in free})
    used = all_edge_names(base)
    nodes: list[Node] = []
    merges: list[tuple[str, str]] = []
    for part, mapping in parts:
        ports = {l: mapping.get(l, l) for l in part.labels}
        ns, nd, ms = inline_diagram(base, ports, part, used)
        nodes.extend(ns)
        dims.update(nd)
        merges.extend(ms)
    d = Diagram.build(nodes, dims, {l: l for l in free})
    if merges:
        d = d.rename_edges(resolve_merges(merges))
    return d


def hadamard(free: Mapping[str, sympy.Expr], *factors: Pieces) -> Pieces:
    """Product of sums of diagrams, joined on their shared labels (all in ``free``)."""
    out: Pieces = []
    for combo in itertools.product(*factors):
        coeff = sympy.Mul(*(c for c, _ in combo))
        out.append((coeff, glue(free, [(d, {}) for _, d in combo])))
    return out


def pieces(expr: Expr) -> Pieces:
    """The terms of ``expr`` as pieces."""
    return [(t.coeff, t.diagram) for t in expr.terms]


def bubble(
    kind: str,
    inner: Expr | Pieces,
    labels: Sequence[str],
    dims: Mapping[str, sympy.Expr],
    param: sympy.Expr | None = None,
    axes: tuple[str, ...] = (),
) -> Pieces:
    """One bubble node of ``kind`` around ``inner`` (an expression, or pieces over ``labels``)."""
    if not isinstance(inner, Expr):
        inner = Expr.of([Term(c, d) for c, d in inner], {l: dims[l] for l in labels})
    return [(ONE, single(BubbleOp(kind, inner, axes, param)))]


def scaled(p: Pieces, k: sympy.Expr) -> Pieces:
    """Every piece's coefficient times ``k``."""
    return [(c * k, d) for c, d in p]


def square(p: Pieces, labels: Sequence[str], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``pow(p, 2)``."""
    return bubble("pow", p, labels, dims, param=sympy.Integer(2))


def power_of(inner: Expr, k: sympy.Expr, labels: Sequence[str], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``pow(inner, k)``, written as ones for k = 0 and as ``inner`` for k = 1."""
    if k == 0:
        return [(ONE, ones(labels, dims))]
    if k == 1:
        return pieces(inner)
    return bubble("pow", inner, labels, dims, param=k)


def chain(fprime: Callable[[BubbleOp, Mapping[str, sympy.Expr]], Pieces]) -> Derivative:
    """The chain rule for an elementwise bubble: ``f'(E) ⊙ dE``, with
    ``fprime(op, dims)`` giving ``f'(E)`` over the bubble's ports."""

    def rule(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
        fp = fprime(op, {l: dims[l] for l in op.ports})
        return hadamard(dims, fp, pieces(d_inner))

    return rule
