"""Canonical forms of diagrams and sums: equality by canonical labelling.

Equality of diagrams (language spec, section 4) is decided by encoding each
diagram as a vertex-coloured simple graph and computing a canonical labelling
with bliss (``igraph.Graph.canonical_permutation``). Two diagrams get equal keys
exactly when their graphs are isomorphic respecting colours; there is never a
pairwise isomorphism search.

The encoding of a :class:`~diagalg.model.Diagram` at nesting depth ``d`` (all
colours carry ``d``, so inner and outer vertices cannot be confused):

* a *node vertex* per node, coloured by its operation's identity (tensor name,
  conj, parity of inv; copy/shift/reshape parameters; box/bubble/derivative
  parameters);
* a *port vertex* per port, joined to its node vertex and to its edge vertex,
  coloured by (operation identity, port class). Ports in one component of the
  declared leg symmetries (:meth:`~diagalg.model.TensorOp.port_classes`:
  overlapping groups joined, symmetric or antisymmetric) share a class (so
  swapping them is an automorphism); all ports of a copy tensor share one class;
* an *edge vertex* per edge, coloured by its dimension;
* a *label vertex* per free label, coloured by the label name, joined to its
  edge vertex (free label names matter, contracted edge names do not).

A ``pow(E, k)`` node with a non-negative integer k is encoded as what it is, k
copies of E on its legs (ones for k = 0; :func:`diagalg.powers.expand_integer_powers`,
when E is one term with coefficient 1), so ``pow(x[i], 2)`` and
``keep[i](x[i] x[i])`` get one key.

Nested expressions (box, bubble and derivative nodes) are encoded in the same
graph: the operation's port vertices are coloured by their role (bubble axis,
batch, ``@out``, causal q/k, ``@d{i}``, box port); a bubble's consumed axis
(logsumexp, func) is an internal vertex joined to the node vertex only. ``inv`` and
``det`` of an expression join each of their two leg groups to one group vertex
(the two of one colour: the transposed reading is the same value); det's
consumed legs are coloured by their position in the group. The
inner expression is collected (:func:`collect`) and each of its terms gets a
*term vertex* coloured by the term's coefficient, joined to the node vertex and
to every node and edge vertex of the term's diagram, which is encoded at depth
``d + 1`` with its free labels replaced by links to the operation's port vertex
of that label. Inside nested diagrams antisymmetric legs are distinct classes
(exact: some equalities may be missed, none is claimed falsely).

Antisymmetry at depth 0: a term equals ``sign`` times its *canonical
representative* (the same graph with each antisymmetric leg group assigned in
increasing canonical position). ``sign`` is the product over antisymmetric
groups of the sign of the permutation from declared order to canonical order,
and it is 0 when an automorphism permutes antisymmetric legs with odd total
sign (the term vanishes).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping

import igraph
import numpy as np
import sympy

from . import caches
from .bubbles.matrix import MATRIX_KINDS
from .bubbles.matrix import roles as matrix_roles
from .model import (
    FUNC_IN_PREFIX,
    FUNC_OUT_PORT,
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    IndexOp,
    Node,
    Op,
    ReshapeOp,
    ShiftOp,
    TensorOp,
    Term,
    permutation_sign,
)
from .powers import expand_integer_powers

__all__ = ["canonical_term", "canonical_key", "collect", "equal", "expr_key"]

# Splitting heuristic for bliss. The canonical form depends on it, so it is fixed.
_SPLITTING = "fl"

#: A diagram key: (colour runs by canonical position, sorted canonical edge list as bytes).
DiagramKey = tuple[tuple[tuple[str, int], ...], bytes]

_EMPTY_KEY: DiagramKey = ((), b"")

# --------------------------------------------------------------------------- small helpers


_DIM_TEXT: dict[tuple[type, Any], str] = {}


def _dim_str(dim: Any) -> str:
    """The exact (``srepr``) text of a dimension expression (or pow exponent), cached."""
    k = (type(dim), dim)
    s = _DIM_TEXT.get(k)
    if s is None:
        s = sympy.srepr(sympy.sympify(dim))
        _DIM_TEXT[k] = s
    return s


def _coeff_str(coeff: Any) -> str:
    """The canonical text of a coefficient: ``srepr(expand(coeff))``."""
    return sympy.srepr(sympy.expand(sympy.sympify(coeff)))


def _is_zero(coeff: Any, subs: Mapping | None) -> bool:
    """True when ``coeff`` (after ``subs``) is provably zero by expansion (or cancellation)."""
    c = sympy.sympify(coeff)
    if subs:
        c = c.subs(subs)
    e = sympy.expand(c)
    if e == 0:
        return True
    if e.is_number and e.is_zero is not None:
        return bool(e.is_zero)
    try:
        return sympy.cancel(e) == 0
    except (sympy.PolynomialError, TypeError, ValueError):  # pragma: no cover - exotic coefficients
        return False


class _WeakMemo:
    """A cache keyed by object identity that forgets entries when the object dies.

    Model objects are frozen but their dataclass ``__hash__`` is recomputed
    (recursively) on every call, so identity is the cheap key.
    """

    def __init__(self) -> None:
        self._data: dict[int, tuple[weakref.ref, Any]] = {}

    def get(self, obj: Any, compute: Callable[[], Any]) -> Any:
        k = id(obj)
        hit = self._data.get(k)
        if hit is not None and hit[0]() is obj:
            return hit[1]
        value = compute()
        data = self._data

        def drop(ref: weakref.ref, k: int = k) -> None:
            cur = data.get(k)
            if cur is not None and cur[0] is ref:
                del data[k]

        try:
            data[k] = (weakref.ref(obj, drop), value)
        except TypeError:  # pragma: no cover - not weak-referenceable: do not cache
            pass
        return value

    def clear(self) -> None:
        self._data.clear()


_term_memo = _WeakMemo()  # Diagram -> (key, sign)
_inner_memo = _WeakMemo()  # Expr (nested) -> tuple[(coeff text, Diagram), ...]


def clear_caches() -> None:
    """Forget memoised keys (they are also dropped when their diagrams die)."""
    _term_memo.clear()
    _inner_memo.clear()


caches.register(clear_caches)


# --------------------------------------------------------------------------- bliss conventions


def _detect_perm_is_order() -> bool:
    """Which way ``canonical_permutation`` reads, on the installed igraph.

    Returns True when ``perm[k]`` is the original vertex placed at canonical
    position ``k`` (python-igraph 1.0), False when ``perm[i]`` is the canonical
    position of original vertex ``i`` (the documented 0.x reading). Decided by
    canonicalising a small asymmetric graph and a relabelled copy of it.
    """
    edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    colours = [1, 2, 3, 0, 2]
    relabel = [2, 4, 1, 0, 3]  # vertex i -> relabel[i]
    g = igraph.Graph(n=5, edges=edges)
    h = igraph.Graph(n=5, edges=[(relabel[u], relabel[v]) for u, v in edges])
    hcol = [0] * 5
    for i, c in enumerate(colours):
        hcol[relabel[i]] = c

    def form(graph: igraph.Graph, col: list[int], as_order: bool) -> tuple:
        p = graph.canonical_permutation(sh=_SPLITTING, color=col)
        pos = [0] * 5
        if as_order:
            for k, v in enumerate(p):
                pos[v] = k
        else:
            pos = list(p)
        cols = [0] * 5
        for v in range(5):
            cols[pos[v]] = col[v]
        return tuple(cols), sorted(tuple(sorted((pos[u], pos[v]))) for u, v in graph.get_edgelist())

    as_order = form(g, colours, True) == form(h, hcol, True)
    as_pos = form(g, colours, False) == form(h, hcol, False)
    if as_order == as_pos:  # pragma: no cover - would mean a broken igraph
        raise RuntimeError("cannot determine igraph canonical_permutation convention")
    return as_order


_PERM_IS_ORDER: bool | None = None


def _canonical_positions(graph: igraph.Graph, colour: list[int]) -> np.ndarray:
    """``pos[v]`` = canonical position of vertex ``v``."""
    global _PERM_IS_ORDER
    if _PERM_IS_ORDER is None:
        _PERM_IS_ORDER = _detect_perm_is_order()
    perm = np.asarray(graph.canonical_permutation(sh=_SPLITTING, color=colour), dtype=np.int64)
    if not _PERM_IS_ORDER:
        return perm
    pos = np.empty_like(perm)
    pos[perm] = np.arange(len(perm), dtype=np.int64)
    return pos


# --------------------------------------------------------------------------- operation identities


@dataclass
class _OpInfo:
    """What the encoder needs of one operation at one depth."""

    node_colour: str
    port_colours: list[str] = field(default_factory=list)
    antisym: list[list[int]] = field(default_factory=list)  # shared groups: port indices, port order
    nested: "_NestedInfo | None" = None
    #: every port is interchangeable (a copy tensor, a fully symmetric tensor, a vector):
    #: its edges can join the node vertex directly, without port vertices
    uniform: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.uniform = len(set(self.port_colours)) <= 1 and not self.antisym and self.nested is None


@dataclass
class _NestedInfo:
    roles: list[str]  # per port
    consumed: frozenset[str]  # inner labels consumed by the op (internal axis vertex)
    axis_colour: str
    inner: Expr
    #: ``inv``/``det`` of an expression: its two leg groups, each one vertex (of one colour,
    #: so swapping the groups is an automorphism: the reading as the transposed map has the
    #: same value) joined to the vertices of its labels; ``ordered``: a label's position in
    #: its group is part of its colour (det: reordering rows may change the sign)
    groups: tuple[tuple[str, ...], ...] = ()
    ordered: bool = False


def _tensor_ident(op: TensorOp) -> tuple:
    return ("T", op.decl.name, bool(op.conj), op.inv % 2)


def _nested_info(op: BoxOp | BubbleOp | DerivOp, depth: int) -> tuple[tuple, _NestedInfo]:
    """Identity and port roles of an operation holding a nested expression."""
    ports = op.ports
    consumed: frozenset[str] = frozenset()
    if isinstance(op, BoxOp):
        ident: tuple = ("box", op.name)
        roles = ["box-port"] * len(ports)
    elif isinstance(op, BubbleOp) and op.kind in MATRIX_KINDS:
        ins, outs = matrix_roles(op)
        ident = ("bubble", op.kind)
        axis_colour = repr((depth, "axis", ident))
        consumed = frozenset(op.axes) if op.kind == "det" else frozenset()
        return ident, _NestedInfo(["m"] * len(ports), consumed, axis_colour, op.inner, (ins, outs), op.kind == "det")
    elif isinstance(op, BubbleOp):
        param = None if op.param is None else _dim_str(op.param)
        fname = None if op.func is None else op.func.name
        ident = ("bubble", op.kind, param, fname)
        roles = []
        axes = tuple(op.axes)
        for p in ports:
            if op.kind == "func" and p == FUNC_OUT_PORT:
                roles.append("out")
            elif op.kind == "func" and p.startswith(FUNC_IN_PREFIX):
                roles.append("in")  # f's derivative legs: one role, mixed partials of a smooth f commute
            elif op.kind == "causal" and p in axes:
                roles.append("q" if p == axes[0] else "k")
            elif op.kind in ("softmax", "layernorm") and p in axes:
                roles.append("axis")
            else:
                roles.append("batch")
        if op.kind in ("logsumexp", "func"):
            consumed = frozenset(axes)
    elif isinstance(op, DerivOp):
        ident = ("deriv", _tensor_ident(op.wrt))
        inner_labels = set(op.inner.labels)
        roles = ["inner" if p in inner_labels else "d:" + p for p in ports]
    else:  # pragma: no cover
        raise TypeError(op)
    axis_colour = repr((depth, "axis", ident))
    return ident, _NestedInfo(roles, consumed, axis_colour, op.inner)


def _op_info(op: Op, depth: int) -> _OpInfo:
    """Colours (and sign-carrying groups at depth 0) of one operation."""
    if isinstance(op, TensorOp):
        ident: tuple = _tensor_ident(op)
        classes, anti = op.port_classes(share_antisym=depth == 0)
        return _OpInfo(
            repr((depth, "node", ident)), [repr((depth, "port", ident, c)) for c in classes], [list(g) for g in anti]
        )
    if isinstance(op, CopyTensor):
        ident = ("copy", _dim_str(op.dim))
        pc = repr((depth, "port", ident, "*"))
        return _OpInfo(repr((depth, "node", ident)), [pc] * op.arity)
    if isinstance(op, ShiftOp):
        # shift(o)[a, b] is shift(-o)[b, a]: one orientation (o >= 0), ports swapped for o < 0
        o = int(op.offset)
        ident = ("shift", abs(o), _dim_str(op.dim))
        roles = ("a", "b") if o >= 0 else ("b", "a")
        return _OpInfo(repr((depth, "node", ident)), [repr((depth, "port", ident, r)) for r in roles])
    elif isinstance(op, IndexOp):
        ident = ("index", int(op.value), _dim_str(op.dim))
    elif isinstance(op, ReshapeOp):
        ident = ("reshape", tuple(_dim_str(d) for d in op.part_dims))
    elif isinstance(op, (BoxOp, BubbleOp, DerivOp)):
        ident, nested = _nested_info(op, depth)
        return _OpInfo(
            repr((depth, "node", ident)), [repr((depth, "port", ident, r)) for r in nested.roles], nested=nested
        )
    else:
        raise TypeError(f"unknown operation {op!r}")
    return _OpInfo(repr((depth, "node", ident)), [repr((depth, "port", ident, p)) for p in op.ports])


# --------------------------------------------------------------------------- encoding


class _Encoder:
    """Builds the coloured graph of one diagram (and everything nested in it) in linear time."""

    def __init__(self) -> None:
        self.colours: list[str] = []
        self.src: list[int] = []
        self.dst: list[int] = []
        self.antisym: list[list[int]] = []  # depth-0 sign-carrying port vertex groups
        self._infos: dict[tuple[int, int], tuple[Op, _OpInfo]] = {}
        self._edge_colours: dict[tuple[int, str], str] = {}

    def info(self, op: Op, depth: int) -> _OpInfo:
        """The operation's colours, cached per call by identity (tensor occurrences by
        declaration identity, since parsers make a fresh TensorOp per occurrence)."""
        if isinstance(op, TensorOp):
            k: tuple = (id(op.decl), op.conj, op.inv % 2, depth)
        else:
            k = (id(op), depth)
        hit = self._infos.get(k)
        if hit is None:
            hit = (op, _op_info(op, depth))  # keeps op (and its decl) alive: ids are not reused
            self._infos[k] = hit
        return hit[1]

    def diagram(self, d: Diagram, depth: int, targets: Mapping[str, int] | None, term: int | None) -> None:
        """Encode ``d``; its free labels become label vertices (``targets`` None) or links
        to the given vertices; every node and edge vertex is joined to ``term`` if given."""
        d = expand_integer_powers(d)  # pow(E, k) and k copies of E are one diagram (diagalg.powers)
        colours, src, dst = self.colours, self.src, self.dst
        edge_v: dict[str, int] = {}
        ec = self._edge_colours
        for e, dim in d.edge_dims:
            ds = _dim_str(dim)
            c = ec.get((depth, ds))
            if c is None:
                c = ec[(depth, ds)] = repr((depth, "edge", ds))
            v = len(colours)
            colours.append(c)
            edge_v[e] = v
            if term is not None:
                src.append(term)
                dst.append(v)
        for label, e in d.free:
            if targets is None:
                v = len(colours)
                colours.append(repr((depth, "free", label)))
                src.append(v)
                dst.append(edge_v[e])
            else:
                src.append(edge_v[e])
                dst.append(targets[label])
        for node in d.nodes:
            info = self.info(node.op, depth)
            nv = len(colours)
            colours.append(info.node_colour)
            if term is not None:
                src.append(term)
                dst.append(nv)
            if info.uniform and len(set(node.edges)) == len(node.edges):
                # interchangeable ports on distinct edges: the edges join the node itself
                # (half the vertices for copy tensors and symmetric tensors; bliss is faster)
                for e in node.edges:
                    src.append(nv)
                    dst.append(edge_v[e])
                continue
            first_port = nv + 1
            for pc, e in zip(info.port_colours, node.edges):
                pv = len(colours)
                colours.append(pc)
                src.append(nv)
                dst.append(pv)
                src.append(pv)
                dst.append(edge_v[e])
            if info.antisym:
                for grp in info.antisym:
                    self.antisym.append([first_port + i for i in grp])
            if info.nested is not None:
                self.nested(node, info.nested, nv, first_port, depth)

    def nested(self, node: Node, nested: _NestedInfo, nv: int, first_port: int, depth: int) -> None:
        """Encode a nested expression below op vertex ``nv`` (its ports start at ``first_port``)."""
        colours, src, dst = self.colours, self.src, self.dst
        port_index = {p: first_port + i for i, p in enumerate(node.op.ports)}
        targets: dict[str, int] = {}
        for label in nested.inner.labels:
            if label in port_index and label not in nested.consumed:
                targets[label] = port_index[label]
                continue
            v = len(colours)
            if label in nested.consumed and nested.ordered:
                pos = next(g.index(label) for g in nested.groups if label in g)
                colours.append(nested.axis_colour + f":{pos}")
            elif label in nested.consumed:
                colours.append(nested.axis_colour)
            else:  # a free inner label the op does not expose (not expected): keep it exact
                colours.append(repr((depth, "unbound", node.op.__class__.__name__, label)))
            src.append(nv)
            dst.append(v)
            targets[label] = v
        for group in nested.groups:  # inv/det: one vertex per leg group (see _NestedInfo)
            gv = len(colours)
            colours.append(repr((depth, "group", nested.axis_colour)))
            src.append(nv)
            dst.append(gv)
            for label in group:
                src.append(gv)
                dst.append(targets[label])
        for cstr, inner_diagram in _collected_inner(nested.inner):
            tv = len(colours)
            colours.append(repr((depth + 1, "term", cstr)))
            src.append(nv)
            dst.append(tv)
            self.diagram(inner_diagram, depth + 1, targets, tv)


def _collected_inner(inner: Expr) -> tuple[tuple[str, Diagram], ...]:
    """The collected terms of a nested expression as (coefficient text, diagram), memoised.

    Each coefficient is relative to its own (first representative) diagram, so
    the pairs denote the expression exactly.
    """

    def compute() -> tuple[tuple[str, Diagram], ...]:
        return tuple((_coeff_str(t.coeff), t.diagram) for t in collect(inner).terms)

    return _inner_memo.get(inner, compute)


def _encode(diagram: Diagram) -> _Encoder:
    enc = _Encoder()
    enc.diagram(diagram, 0, None, None)
    return enc


def _colour_ranks(colours: list[str]) -> list[int]:
    """Colours as integers by rank among the sorted distinct colour strings."""
    rank = {c: i for i, c in enumerate(sorted(set(colours)))}
    return [rank[c] for c in colours]


def _odd_automorphism(graph: igraph.Graph, colour: list[int], groups: list[list[int]]) -> bool:
    """True when some automorphism permutes the sign-carrying ports with odd total sign."""
    slot: dict[int, tuple[int, int]] = {}
    for gi, grp in enumerate(groups):
        for k, v in enumerate(grp):
            slot[v] = (gi, k)
    for gen in graph.automorphism_group(sh=_SPLITTING, color=colour):
        sign = 1
        for grp in groups:
            images = [slot[gen[v]] for v in grp]
            sign *= permutation_sign([k for _, k in images])
        if sign < 0:
            return True
    return False


def _split_onehots(diagram: Diagram) -> Diagram:
    """``diagram`` with every onehot on a summed edge of more than one other port
    replaced by one onehot per port (each on its own edge): ``e_v[h] A[h] B[h]``
    summed over h is ``A[v] B[v]``, whatever A and B are. This is the one form keys
    are taken of, so that ``W[h=1, a, f] V[h=1, b, f]`` (a selection per leg) and
    ``onehot(1)[g] W[g, a, f] V[g, b, f]`` (one onehot on a hyperedge) are one key."""
    inc = None
    nodes = list(diagram.nodes)
    dims = dict(diagram.dims)
    drop: set[int] = set()
    for k, node in enumerate(diagram.nodes):
        if not isinstance(node.op, IndexOp):
            continue
        if inc is None:
            inc = diagram.incidence
        edge = node.edges[0]
        others = [(j, p) for j, p in inc[edge] if j != k]
        if len(others) < 2 or diagram.edge_labels[edge]:
            continue
        if any(isinstance(diagram.nodes[j].op, IndexOp) for j, _ in others):
            continue
        drop.add(k)
        for n, (j, p) in enumerate(others):
            fresh = f"{edge}~sel{n}"
            while fresh in dims:
                fresh += "'"
            dims[fresh] = dims[edge]
            old = nodes[j]
            nodes[j] = Node(old.op, old.edges[:p] + (fresh,) + old.edges[p + 1 :])
            nodes.append(Node(node.op, (fresh,)))
        del dims[edge]  # every port moved to its own edge: the old one would be a closed loop
    if not drop:
        return diagram
    return Diagram.build([n for k, n in enumerate(nodes) if k not in drop], dims, diagram.free_map)


def _compute_term(diagram: Diagram) -> tuple[DiagramKey, int]:
    enc = _encode(_split_onehots(diagram))
    n = len(enc.colours)
    if n == 0:
        return _EMPTY_KEY, 1
    colour = _colour_ranks(enc.colours)
    graph = igraph.Graph(n=n, edges=list(zip(enc.src, enc.dst)))
    edges = np.empty((len(enc.src), 2), dtype=np.int64)
    edges[:, 0] = enc.src
    edges[:, 1] = enc.dst
    pos = _canonical_positions(graph, colour)
    # colour runs by canonical position
    cols = enc.colours
    by_pos = [cols[v] for v in np.argsort(pos).tolist()]
    runs = tuple((c, sum(1 for _ in grp)) for c, grp in itertools.groupby(by_pos))
    # canonical edge list, each edge (low, high), sorted
    ce = pos[edges]
    ce.sort(axis=1)
    ce = ce[np.lexsort((ce[:, 1], ce[:, 0]))]
    key: DiagramKey = (runs, ce.astype("<i4").tobytes())
    sign = 1
    if enc.antisym:
        if _odd_automorphism(graph, colour, enc.antisym):
            return key, 0
        for grp in enc.antisym:
            sign *= permutation_sign([int(pos[v]) for v in grp])
    return key, sign


# --------------------------------------------------------------------------- public API


def canonical_term(diagram: Diagram) -> tuple[DiagramKey, int]:
    """The canonical key of ``diagram`` and its sign.

    Promise: two diagrams have equal keys iff they are isomorphic (same
    operations, same wiring up to each tensor's declared leg symmetries, same
    free labels on the same legs, same dimensions; contracted edge names and
    node order are irrelevant). The sign is +1 or -1: the diagram equals sign
    times the canonical representative of its key (antisymmetric legs put in
    canonical order), or 0 when the diagram vanishes because an automorphism
    permutes antisymmetric legs with odd sign. Keys are hashable and totally
    ordered (comparable across diagrams). Results are memoised per diagram.
    """
    return _term_memo.get(diagram, lambda: _compute_term(diagram))


def canonical_key(diagram: Diagram) -> Hashable:
    """The canonical key of ``diagram`` (see :func:`canonical_term`), without the sign."""
    return canonical_term(diagram)[0]


@dataclass
class _Entry:
    parts: list[sympy.Expr]  # coefficients relative to the canonical representative
    term: Term  # the first term with this key
    sign: int  # its sign relative to the canonical representative

    def total(self) -> sympy.Expr:
        return sympy.Add(*self.parts)


def _entries(expr: Expr) -> dict[DiagramKey, _Entry]:
    """Terms grouped by key (in first-appearance order); vanishing terms are skipped."""
    out: dict[DiagramKey, _Entry] = {}
    for t in expr.terms:
        key, sign = canonical_term(t.diagram)
        if sign == 0:
            continue
        c = sympy.sympify(t.coeff) * sign
        e = out.get(key)
        if e is None:
            out[key] = _Entry([c], t, sign)
        else:
            e.parts.append(c)
    return out


def collect(expr: Expr, subs: Mapping | None = None) -> Expr:
    """Combine the terms of ``expr`` whose diagrams are equal.

    Promise: the result denotes the same tensor as ``expr``. It has one term per
    distinct key, holding the first diagram (and the tags of the first term) of
    that key and the summed coefficient, re-expressed relative to that diagram
    (antisymmetry signs applied); terms vanishing by antisymmetry and terms whose
    coefficient expands to 0 after ``subs`` (concrete dimension values) are
    dropped. Terms are ordered by key, so the result is deterministic for equal
    inputs up to the choice of representatives.
    """
    entries = _entries(expr)
    terms: list[Term] = []
    for key in sorted(entries):
        e = entries[key]
        total = e.total()
        if _is_zero(total, subs):
            continue
        coeff = e.term.coeff if len(e.parts) == 1 else total * e.sign
        if subs and getattr(coeff, "free_symbols", None) and coeff.free_symbols & set(subs):
            coeff = sympy.expand(sympy.sympify(coeff).subs(subs))  # concrete dimensions: their values
        terms.append(Term(coeff, e.term.diagram, e.term.tags))
    return Expr(tuple(terms), expr.free)


def equal(a: Expr, b: Expr, subs: Mapping | None = None) -> bool:
    """True when ``a`` and ``b`` are equal as sums of diagrams (spec section 4).

    Promise: same free labels, and for every canonical key the coefficients of
    ``a`` and ``b`` (summed, relative to the key's canonical representative)
    differ by something that expands to 0 after ``subs``. Sound: True only if
    the two expressions denote the same tensor.
    """
    if set(a.labels) != set(b.labels):
        return False
    ea, eb = _entries(a), _entries(b)
    for key in set(ea) | set(eb):
        ca = ea[key].total() if key in ea else sympy.Integer(0)
        cb = eb[key].total() if key in eb else sympy.Integer(0)
        if not _is_zero(ca - cb, subs):
            return False
    return True


def expr_key(expr: Expr, subs: Mapping | None = None) -> Hashable:
    """A canonical key of a whole sum: (free labels, sorted ((term key, coefficient text), ...)).

    Coefficients are relative to each key's canonical representative, after
    ``subs``, as ``srepr(expand(...))``; zero terms are dropped. Equal keys imply
    equal expressions; equal expressions have equal keys whenever their
    coefficients expand to the same normal form (polynomial coefficients do).
    """
    items = []
    for key, e in _entries(expr).items():
        total = e.total()
        if _is_zero(total, subs):
            continue
        c = sympy.sympify(total)
        if subs:
            c = c.subs(subs)
        items.append((key, _coeff_str(c)))
    items.sort()
    return (tuple(sorted(expr.labels)), tuple(items))
