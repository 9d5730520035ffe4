"""Elementwise products and powers: the normal form the power rules keep, and what they know.

An elementwise (Hadamard) product is not an operation of its own in a diagram:
``keep[i](x[i] y[i])`` is two nodes on one edge, and ``t[a, b, c] t[a, b, c]``
is two nodes sharing three summed edges. So the natural power of a factor is a
*multiplicity*: ``x ⊙ x ⊙ x`` is three occurrences of x on the same edges, the
way the paper draws it (the factors on one copy tensor).

**The normal form.** The power rules (``pow_expand``, ``pow_split``,
``pow_nest``, ``pow_collect``, ``exp_product``, ``log_exp``) rewrite every term
to this form:

* a non-negative integer power is written out: ``pow(E, k)`` becomes k copies
  of E on the bubble's legs (ones for k = 0), so ``pow(x[i], 2)``,
  ``keep[i](x[i] x[i])`` and the rules' own output are one diagram. Positive
  integer powers stay polynomial (the exact path decides them) and need no
  exponent arithmetic: a copy is just a node;
* ``pow`` remains only for negative and fractional exponents, with a base that
  is one connected factor (a tensor, a bubble, or a contraction) and no
  coefficient, and never around another ``pow`` (or ``exp``) when the exponents
  may be multiplied;
* one power per base and legs: the copies of a base and its ``pow`` bubbles
  on the same edges are collected into one exponent, so ``x ⊙ pow(x, -1)`` is
  ones and ``pow(x, -2) ⊙ x`` is ``pow(x, -1)``;
* ``exp`` absorbs products and powers: ``exp(a) ⊙ exp(b)`` is ``exp(a + b)``.

Why copies rather than ``pow`` for positive integers: a product the user
writes by hand (``x[i] x[i]``, ``A[i, j] x[j] A[i, k] x[k]``) is already
copies, while recognising repeated sub-diagrams of an arbitrary product as one
``pow`` would need a search for isomorphic pieces. The other direction is
local: expanding ``pow(E, k)`` glues k copies of E's diagram in place. Negative
exponents are the only powers that need a base found again, and that search is
anchored at the ``pow`` bubble's own edges (:func:`boundary_components`).

**Domains.** An identity holds where its left side is defined, with principal
branches for complex values: ``x ⊙ pow(x, -1) = 1`` assumes x ≠ 0, which
``pow(x, -1)`` already needs. ``pow(x, 0)`` is ones with 0⁰ = 1 (numpy, torch
and the polynomial x⁰ of the exact path agree). Collecting exponents of one
base is unconditional: xᵃ xᵇ = e^{(a+b) Log x}. Splitting ``pow(x ⊙ y, b)``
and nesting ``pow(pow(x, a), b)`` are unconditional for integer b; for a
fractional b they need positive bases (``(x²)^½ = |x|``): a base is known
positive by :func:`positive` (a ``positive`` tensor, ``exp``, ``sigmoid``
and ``softmax`` of real arguments, products, sums and powers of positives).
``log(exp(E)) = E`` needs a real E (complex logs are defined modulo 2πi), and
``exp(log(E)) = E`` a positive E.

This module depends on :mod:`diagalg.model` only (the canonical form uses
:func:`expand_integer_powers` too).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence, TypeGuard

import sympy

from .model import (
    BoxOp,
    BubbleOp,
    DerivOp,
    Diagram,
    Expr,
    Node,
    TensorOp,
    Term,
    all_edge_names,
    inline_diagram,
    resolve_merges,
    walk_nodes,
)

ONE = sympy.Integer(1)


# --------------------------------------------------------------------------- exponents


def is_pow(op: object) -> TypeGuard[BubbleOp]:
    """True for a ``pow`` bubble."""
    return isinstance(op, BubbleOp) and op.kind == "pow"


def exponent(op: BubbleOp) -> sympy.Expr:
    """The exponent of a ``pow`` bubble, as an exact sympy number."""
    return sympy.sympify(op.param)


def is_integer(p: sympy.Expr) -> bool:
    """True when ``p`` is provably an integer."""
    return bool(sympy.sympify(p).is_integer)


def is_natural(p: sympy.Expr) -> bool:
    """True when ``p`` is provably a non-negative integer (a polynomial power)."""
    p = sympy.sympify(p)
    return bool(p.is_integer) and bool(p.is_nonnegative)


# --------------------------------------------------------------------------- pieces of diagrams


def single_term(expr: Expr) -> Term | None:
    """The one term of ``expr``, or None when it has none or several."""
    return expr.terms[0] if len(expr.terms) == 1 else None


def distinct_edges(node: Node) -> bool:
    """True when every port of ``node`` sits on an edge of its own."""
    return len(set(node.edges)) == len(node.edges)


def port_edges(node: Node) -> dict[str, str]:
    """Port name -> the edge it is attached to."""
    return dict(zip(node.op.ports, node.edges))


def relabel(d: Diagram, mapping: Mapping[str, str]) -> Diagram:
    """``d`` with its free labels renamed by ``mapping`` (labels not in it are kept)."""
    return Diagram.build(d.nodes, d.dims, {mapping.get(label, label): e for label, e in d.free})


def relabel_expr(expr: Expr, mapping: Mapping[str, str]) -> Expr:
    """``expr`` with its free labels renamed by ``mapping`` (a bijection onto new labels)."""
    terms = [Term(t.coeff, relabel(t.diagram, mapping), t.tags) for t in expr.terms]
    return Expr.of(terms, {mapping.get(label, label): dim for label, dim in expr.free})


def copies(
    outer: Diagram, node: Node, inner: Diagram, k: int, tag: str
) -> tuple[list[Node], dict[str, sympy.Expr], list[tuple[str, str]]]:
    """``k`` copies of ``inner`` glued where ``node`` (whose ports are inner's labels) sits in
    ``outer``: (nodes, new edges with dimensions, edge merges). Each copy's summed edges get
    fresh names derived from ``tag`` (distinct tags never invent the same name)."""
    used = all_edge_names(outer)
    ports = port_edges(node)
    nodes: list[Node] = []
    dims: dict[str, sympy.Expr] = {}
    merges: list[tuple[str, str]] = []
    for c in range(k):
        ns, nd, ms = inline_diagram(outer, ports, inner, used, tag=f"{tag}c{c}")
        nodes.extend(ns)
        dims.update(nd)
        merges.extend(ms)
    return nodes, dims, merges


def factor_components(d: Diagram) -> list[list[int]] | None:
    """The factors of the elementwise product ``d``: its nodes grouped into the connected
    pieces that summed (unlabelled) edges join, in node order. None when ``d`` is not a
    plain elementwise product: an edge with two labels (an identity) or a closed loop."""
    for e, inc in d.incidence.items():
        labels = d.edge_labels[e]
        if len(labels) > 1 or (not inc and not labels):
            return None
    return boundary_components(d, frozenset(e for e in d.incidence if d.edge_labels[e]))


def sub_diagram(d: Diagram, nodes: Sequence[int]) -> Diagram:
    """The nodes ``nodes`` of ``d`` as a diagram of their own, keeping d's free labels on the
    edges they touch (the other touched edges are summed: they must not reach other nodes)."""
    chosen = [d.nodes[i] for i in nodes]
    edges = {e for n in chosen for e in n.edges}
    free = {label: e for label, e in d.free if e in edges}
    return Diagram.build(chosen, {e: d.dims[e] for e in edges}, free)


def boundary_components(d: Diagram, boundary: frozenset[str]) -> list[list[int]]:
    """The nodes of ``d`` grouped into pieces joined by edges outside ``boundary``: each
    piece meets the rest of the diagram only on boundary edges (and on free labels)."""
    parent = list(range(len(d.nodes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e, inc in d.incidence.items():
        if e in boundary:
            continue
        for (a, _), (b, _) in zip(inc, inc[1:]):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(len(d.nodes)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


# --------------------------------------------------------------------------- the canonical form's part


def expand_integer_powers(d: Diagram) -> Diagram:
    """``d`` with every ``pow(E, k)`` node of a non-negative integer k written out where that
    needs no coefficient: ones for k = 0, k copies of E's diagram when E is one term with
    coefficient 1 (the normal form above). ``d`` itself when there is none. Exact:
    ``pow(E, k)`` is the k-fold elementwise product of E."""
    while True:
        at = next(
            (
                i
                for i, n in enumerate(d.nodes)
                if is_pow(n.op) and is_natural(exponent(n.op)) and (exponent(n.op) == 0 or _unit_term(n.op.inner))
            ),
            None,
        )
        if at is None:
            return d
        node = d.nodes[at]
        assert isinstance(node.op, BubbleOp)  # the pow node just found
        k = int(exponent(node.op))
        rest = [n for i, n in enumerate(d.nodes) if i != at]
        if k == 0:
            d = Diagram.build(rest, d.dims, d.free_map)
            continue
        nodes, dims, merges = copies(d, node, node.op.inner.terms[0].diagram, k, tag="key")
        d = Diagram.build(rest + nodes, {**d.dims, **dims}, d.free_map)
        if merges:
            d = d.rename_edges(resolve_merges(merges))


def _unit_term(inner: Expr) -> bool:
    t = single_term(inner)
    return t is not None and sympy.sympify(t.coeff) == 1


# --------------------------------------------------------------------------- reality and positivity


def is_real(expr: Expr) -> bool:
    """True when ``expr`` is real wherever it is defined: no complex tensor occurs in it
    (every bubble maps real arguments to real values or to NaN, and coefficients are real)."""
    for n in walk_nodes(expr):
        op = n.op
        if isinstance(op, TensorOp) and op.decl.is_complex:
            return False
        if isinstance(op, DerivOp) and op.wrt.decl.is_complex:
            return False
    return all(sympy.sympify(t.coeff).is_real for t in _all_terms(expr))


def _all_terms(expr: Expr) -> Iterable:
    stack = [expr]
    while stack:
        e = stack.pop()
        for t in e.terms:
            yield t
            for n in t.diagram.nodes:
                inner = getattr(n.op, "inner", None)
                if inner is not None:
                    stack.append(inner)


def _masked(expr: Expr) -> bool:
    """True when a causal mask occurs in ``expr`` (its −∞ entries make exp and softmax 0)."""
    return any(isinstance(n.op, BubbleOp) and n.op.kind == "causal" for n in walk_nodes(expr))


#: bubbles whose value is positive for every real, finite argument
POSITIVE_BUBBLES = ("exp", "sigmoid", "softmax")


def positive(expr: Expr, declared: bool = True) -> bool:
    """True when every entry of ``expr`` is provably a positive real number (where defined).

    Positive are: tensors declared ``positive`` (only with ``declared``; inside a
    derivative's argument declared properties are not used), ``exp``, ``sigmoid`` and
    ``softmax`` of a real argument without a causal mask, ``pow`` of a positive base,
    boxes of positive sums, and products of these with positive coefficients, summed over
    any edges. Copy tensors, shifts and reshapes (which have zero entries), an identity (an
    edge with two labels) and every other node are not."""
    if not expr.terms:
        return False
    for t in expr.terms:
        if not sympy.sympify(t.coeff).is_positive:
            return False
        d = t.diagram
        if any(len(labels) > 1 for labels in d.edge_labels.values()):
            return False
        for n in d.nodes:
            if not _positive_node(n.op, declared):
                return False
    return True


def _positive_node(op: object, declared: bool) -> bool:
    if isinstance(op, TensorOp):
        return declared and op.inv == 0 and getattr(op.decl, "positive", False)
    if isinstance(op, BoxOp):
        return positive(op.inner, declared)
    if isinstance(op, BubbleOp):
        if op.kind in POSITIVE_BUBBLES:
            return is_real(op.inner) and not _masked(op.inner)
        if op.kind == "pow":
            return positive(op.inner, declared)
    return False


__all__ = [
    "ONE",
    "POSITIVE_BUBBLES",
    "boundary_components",
    "copies",
    "distinct_edges",
    "expand_integer_powers",
    "exponent",
    "factor_components",
    "is_integer",
    "is_natural",
    "is_pow",
    "is_real",
    "port_edges",
    "positive",
    "relabel",
    "relabel_expr",
    "single_term",
    "sub_diagram",
]


def bubble_argument(node: Node, kinds: tuple[str, ...]) -> tuple[BubbleOp, tuple[str, ...]] | None:
    """When the whole argument of the bubble ``node`` is one bubble of one of ``kinds``
    (coefficient 1, its legs exactly the argument's legs, each leg a distinct free
    label): that inner bubble and the outer edges its ports map to; else None. The
    shape ``log(exp(x))`` and ``pow(pow(x, a), b)`` rewrite from."""
    assert isinstance(node.op, BubbleOp)  # the caller's node is a bubble
    term = single_term(node.op.inner)
    if term is None or term.coeff != 1 or len(term.diagram.nodes) != 1:
        return None
    d = term.diagram
    (inner,) = d.nodes
    if not isinstance(inner.op, BubbleOp) or inner.op.kind not in kinds:
        return None
    if len(set(inner.edges)) != len(inner.edges) or set(inner.edges) != set(d.dims):
        return None
    labels = d.edge_labels
    if any(len(labels[e]) != 1 for e in inner.edges):
        return None
    outer = dict(zip(node.op.ports, node.edges))
    return inner.op, tuple(outer[labels[e][0]] for e in inner.edges)
