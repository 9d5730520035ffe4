"""``elementwise_reshape``: an elementwise bubble commutes with ``group``, ``split`` and
(where f(0) = 0) ``shift`` of its legs: ``f(group(E)) -> group(f(E))``.

A site is an elementwise bubble f (``exp``, ``log``, ``pow``, ``relu``, … : the
bubble kinds whose registry entry has no axis) whose argument has, in every term,
the same relabelling node P — a reshape (``group``/``split``: ports p0 … and
``whole``) or a ``shift`` — with one side of P (its *outer* ports: ``whole`` for a
group, the parts for a split, one leg for a shift) on edges that carry a bubble
label and touch nothing else in the term, and the other side (its *inner* ports) on
distinct unlabelled edges of the term. The argument is then E contracted with P
on its inner side, and P only moves entries:

* a reshape is a bijection between the parts' index tuples and the whole index
  (row-major), so ``(E·P)[g] = E[σ(g)]`` and ``f(E·P) = f(E)·P`` for every
  elementwise f, real or complex, with no condition;
* ``shift(o)[a, b]`` is a partial bijection: ``(E·S)[a] = E[a − o]`` where
  ``0 ≤ a − o < n`` and 0 on the rows it leaves empty, where the left side is
  f(0) and the right side 0. So the rule moves a shift out only for an f with
  f(0) = 0: ``relu``, ``tanh``, ``gelu`` and ``pow`` with a positive exponent
  (``exp``, ``sigmoid``, ``log`` and negative powers stay: ``exp(shift(1) x)``
  is 1, not 0, on the first row).

The rewrite removes P from every term of the argument, makes P's inner edges new
labels of the argument (so the bubble gets those ports instead of P's outer ones)
and places one P outside, between the new ports and the edges the old ones were
on. Sums inside the bubble are handled when every term has P on the same labels.
No declared property is used, so the rule also runs inside a derivative.

Termination: in the recursive path order of the engine's docstring,
``f(E ⊙ P) ⊙ Q`` is above ``f(E) ⊙ P ⊙ Q`` (the bubble's argument loses a factor
and P is a proper part of the old bubble), and no rule moves a node into a bubble.
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..bubbles import get_bubble
from ..model import BubbleOp, CopyTensor, Diagram, Expr, Node, ReshapeOp, ShiftOp, Term, fresh_name, with_inner
from .base import Edit, Site, register

#: Elementwise kinds with f(0) = 0 for every argument type (a shift may leave a row empty).
_ZERO_AT_ZERO = ("relu", "tanh", "gelu")

#: (P's op, its outer ports, the labels on them): what must be the same in every term
_Key = tuple[object, tuple[str, ...], tuple[str, ...]]


def zero_at_zero(op: BubbleOp) -> bool:
    """True when the elementwise bubble ``op`` maps 0 to 0 (so a shift may pass it)."""
    if op.kind in _ZERO_AT_ZERO:
        return True
    return op.kind == "pow" and op.param is not None and bool(sympy.sympify(op.param).is_positive)


def _sides(op: object) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The (outer ports, inner ports) orientations of a relabelling node."""
    if isinstance(op, ReshapeOp):
        parts = op.ports[:-1]
        return [(("whole",), parts), (parts, ("whole",))]
    if isinstance(op, ShiftOp):
        return [(("a",), ("b",)), (("b",), ("a",))]
    return []


def _candidates(d: Diagram, shifts: bool) -> Iterator[tuple[_Key, int]]:
    """Each relabelling node of ``d`` that can leave the bubble, with its key."""
    for ni, node in enumerate(d.nodes):
        if isinstance(node.op, ShiftOp) and (not shifts or node.op.offset == 0):
            continue  # a zero shift is the identity (the shift rule makes it a delta)
        edge_of = dict(node.port_edges())
        for outer, inner in _sides(node.op):
            out_edges = [edge_of[p] for p in outer]
            in_edges = [edge_of[p] for p in inner]
            if len(set(out_edges + in_edges)) != len(outer) + len(inner):
                continue  # two legs of P on one edge: not a relabelling of E
            if any(len(d.edge_labels[e]) != 1 or len(d.incidence[e]) != 1 for e in out_edges):
                continue  # an outer leg must be a bubble label that nothing else inside touches
            if any(d.edge_labels[e] for e in in_edges):
                continue  # an inner leg must be contracted with E, not itself a label
            labels = tuple(d.edge_labels[e][0] for e in out_edges)
            yield (node.op, outer, labels), ni


def _ones_on(d: Diagram, labels: tuple[str, ...]) -> tuple[int, ...] | None:
    """Where ``d`` is ones on each of ``labels`` (a label on an edge of its own, bare or
    with one 1-leg copy tensor): the copy tensors' node indices; None when it is not."""
    found: list[int] = []
    for label in labels:
        e = d.free_map[label]
        inc = d.incidence[e]
        if len(d.edge_labels[e]) != 1 or len(inc) > 1:
            return None
        if inc:
            ni = inc[0][0]
            node_op = d.nodes[ni].op
            if not (isinstance(node_op, CopyTensor) and node_op.arity == 1):
                return None
            found.append(ni)
    return tuple(found)


def reshape_site(op: BubbleOp) -> tuple[_Key, tuple[int | tuple[int, ...], ...]] | None:
    """The key and, per term, the node index of its P (or, for a reshape, the ones it
    has on P's outer labels instead: ones on the parts are a split of ones on the
    whole, and the other way round)."""
    terms = op.inner.terms
    if not terms:
        return None
    shifts = zero_at_zero(op)
    per_term = [dict(_candidates(t.diagram, shifts)) for t in terms]
    for key in {k: None for found in per_term for k in found}:
        at: list[int | tuple[int, ...]] = []
        for t, found in zip(terms, per_term):
            ones = _ones_on(t.diagram, key[2]) if isinstance(key[0], ReshapeOp) else None
            if key in found:
                at.append(found[key])
            elif ones is not None:
                at.append(ones)
            else:
                break
        else:
            if any(isinstance(a, int) for a in at):
                return key, tuple(at)
    return None


@register
class ElementwiseReshapeRule:
    name = "elementwise_reshape"
    description = "f(group/split of E) -> group/split of f(E) for an elementwise f; shift too where f(0) = 0"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # P only moves entries: no property is used
    on_sums = False
    order = 71  # the engine's sequence (lower first): after reshape, before the power rules
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or not get_bubble(op.kind).elementwise:
                continue
            found = reshape_site(op)
            if found is not None:
                yield Site((i,), data=found)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        key, positions = cast("tuple[_Key, tuple[int | tuple[int, ...], ...]]", site.data)
        p_op, outer, outer_labels = key
        node = diagram.nodes[i]
        op = cast(BubbleOp, node.op)
        inner_ports = next(inn for out, inn in _sides(p_op) if out == outer)
        port_dim = cast("ReshapeOp | ShiftOp", p_op).port_dim
        # new labels of the argument, one per inner port of P
        kept = [l for l in op.inner.labels if l not in outer_labels]
        used = set(kept)
        ni0, d0 = next((ni, t.diagram) for t, ni in zip(op.inner.terms, positions) if isinstance(ni, int))
        first_edges = dict(d0.nodes[ni0].port_edges())
        new_labels = [fresh_name(first_edges[p], used) for p in inner_ports]
        terms = []
        for term, at in zip(op.inner.terms, positions):
            d = term.diagram
            free = {l: e for l, e in d.free_map.items() if l not in outer_labels}
            nodes = list(d.nodes)
            if isinstance(at, int):  # P itself: its inner edges become the new labels
                edge_of = dict(d.nodes[at].port_edges())
                gone = {edge_of[p] for p in outer}
                free.update({l: edge_of[p] for l, p in zip(new_labels, inner_ports)})
                drop = {at}
            else:  # ones on the outer labels: ones on the new labels instead
                gone = {d.free_map[l] for l in outer_labels}
                drop = set(at)
                taken = set(d.dims)
                for l in new_labels:
                    free[l] = fresh_name(l, taken)  # a bare labelled edge: ones
            dims = {e: dim for e, dim in d.dims.items() if e not in gone}
            dims.update({free[l]: port_dim(p) for l, p in zip(new_labels, inner_ports)})
            nodes = [n for k, n in enumerate(nodes) if k not in drop]
            terms.append(Term(term.coeff, Diagram.build(nodes, dims, free), term.tags))
        free_dims = {l: op.inner.free_dims[l] for l in kept}
        free_dims.update({l: port_dim(p) for l, p in zip(new_labels, inner_ports)})
        new_op = with_inner(op, Expr.of(terms, free_dims))
        # outside: the bubble's new ports on fresh edges, P between them and the old edges
        outer_edge = dict(zip(op.ports, node.edges))
        used_edges = set(diagram.dims)
        fresh = {l: fresh_name(l, used_edges) for l in new_labels}
        edges = tuple(fresh[p] if p in fresh else outer_edge[p] for p in new_op.ports)
        p_edges = {p: outer_edge[l] for p, l in zip(outer, outer_labels)}
        p_edges.update({p: fresh[l] for p, l in zip(inner_ports, new_labels)})
        relabel = cast("ReshapeOp | ShiftOp", p_op)
        p_node = Node(relabel, tuple(p_edges[p] for p in relabel.ports))
        return Edit(
            replace=((i, Node(new_op, edges)),),
            add=(p_node,),
            new_edges=tuple((fresh[l], free_dims[l]) for l in new_labels),
        )
