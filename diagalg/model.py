"""The diagram model: immutable hypergraphs of tensors, and sums of them.

A :class:`Diagram` is a hypergraph. Its *edges* are indices (named, each with a
dimension). Its *nodes* are tensor occurrences: each node has an operation
(:class:`TensorOp`, :class:`CopyTensor`, :class:`ShiftOp`, :class:`ReshapeOp`,
:class:`BoxOp`, :class:`BubbleOp`, :class:`DerivOp`) whose ports, in order, are
attached to edges. An edge may touch any number of ports (three or more is a
hyperedge: einsum's shared index). *Free labels* name the open legs; each
free label sits on an edge, and two free labels on one edge make an identity
(``delta[i, j]``). An edge touched by no port and no label is a closed loop
(its dimension); an edge with no port but a free label is the all-ones vector.

An :class:`Expr` is a sum of :class:`Term` (sympy coefficient times diagram)
with a fixed set of free labels. Nested expressions live inside box, bubble and
derivative nodes. This module knows nothing of the parser or the CLI.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterable, Mapping, Sequence

import sympy

# --------------------------------------------------------------------------- declarations

STRUCTURE_KINDS = ("isometry", "unitary", "invertible", "projector", "posdef")


@dataclass(frozen=True)
class TensorDecl:
    """A declared tensor: named legs with dimensions, and properties.

    ``structure`` is one of ``STRUCTURE_KINDS`` or None; ``inputs``/``outputs``
    are the leg groups of the map it describes (``isometry(b -> a)``: inputs
    ``('b',)``, outputs ``('a',)``).
    """

    name: str
    legs: tuple[str, ...]
    dims: tuple[sympy.Expr, ...]
    symmetric: tuple[tuple[str, ...], ...] = ()
    antisymmetric: tuple[tuple[str, ...], ...] = ()
    structure: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    is_complex: bool = False
    #: a diagalg.decompose.Decomposition when the tensor is a factor computed from another
    origin: object | None = None

    def leg_dim(self, leg: str) -> sympy.Expr:
        return self.dims[self.legs.index(leg)]

    @property
    def hermitian(self) -> bool:
        return self.structure in ("projector", "posdef")

    @property
    def invertible(self) -> bool:
        """True when ``inv(X)`` is meaningful (square and invertible)."""
        return self.structure in ("invertible", "unitary", "posdef")

    def symmetry_classes(self) -> dict[str, int]:
        """Leg -> class index; legs in one class may be permuted (with sign if antisymmetric)."""
        classes = {leg: i for i, leg in enumerate(self.legs)}
        groups = list(self.symmetric) + list(self.antisymmetric)
        if self.hermitian and not self.is_complex and len(self.inputs) == 1 == len(self.outputs):
            # a real Hermitian matrix is symmetric; for multi-leg maps only the
            # block swap (outputs <-> inputs) is a symmetry, which is not a leg permutation group
            groups.append(tuple(self.outputs + self.inputs))
        for group in groups:
            cid = min(classes[leg] for leg in group)
            for leg in group:
                classes[leg] = cid
        return classes

    def antisymmetric_legs(self) -> frozenset[str]:
        return frozenset(leg for group in self.antisymmetric for leg in group)


@dataclass(frozen=True)
class FuncDecl:
    """``func f[x: n -> y: m]``: an opaque nonlinear map from one leg to another."""

    name: str
    in_leg: str
    in_dim: sympy.Expr
    out_leg: str
    out_dim: sympy.Expr


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class TensorOp:
    """An occurrence of a declared tensor, possibly conjugated and/or inverted.

    ``inv`` counts nested ``inv(...)``; for odd counts the ports are the
    declaration's input legs followed by its output legs. ``conj`` is always
    False for real tensors (conj is the identity there).
    """

    decl: TensorDecl
    conj: bool = False
    inv: int = 0

    @property
    def ports(self) -> tuple[str, ...]:
        if self.inv % 2:
            return self.decl.inputs + self.decl.outputs
        return self.decl.legs

    def port_dim(self, port: str) -> sympy.Expr:
        return self.decl.leg_dim(port)

    @property
    def name(self) -> str:
        return self.decl.name

    def text(self) -> str:
        s = self.decl.name
        for _ in range(self.inv):
            s = f"inv({s})"
        if self.conj:
            s = f"conj({s})"
        return s


def tensor_op(decl: TensorDecl, conj: bool = False, inv: int = 0) -> TensorOp:
    """Build a TensorOp, dropping ``conj`` on real tensors."""
    return TensorOp(decl, conj=bool(conj and decl.is_complex), inv=inv)


@dataclass(frozen=True)
class CopyTensor:
    """The copy (delta) tensor with ``arity`` legs of one dimension."""

    dim: sympy.Expr
    arity: int

    @property
    def ports(self) -> tuple[str, ...]:
        return tuple(f"c{i}" for i in range(self.arity))

    def port_dim(self, port: str) -> sympy.Expr:
        return self.dim


@dataclass(frozen=True)
class ShiftOp:
    """``shift(o)[a, b]``: 1 where ``a == b + o``."""

    offset: int
    dim: sympy.Expr

    ports = ("a", "b")

    def port_dim(self, port: str) -> sympy.Expr:
        return self.dim


@dataclass(frozen=True)
class IndexOp:
    """``onehot(v)[i]``: the basis vector e_v of dimension ``dim`` (1 at index v, 0-based).

    Made by ``expand E over h``: contracting a summed label with e_v fixes it to v
    (one term per head). It has no syntax of its own; it prints as ``onehot(v)[i]``."""

    value: int
    dim: sympy.Expr

    ports = ("i",)

    def port_dim(self, port: str) -> sympy.Expr:
        return self.dim


@dataclass(frozen=True)
class ReshapeOp:
    """The row-major reshaping tensor: ports ``p0 .. p{k-1}`` (the parts) and ``whole``.

    Its entry is 1 where ``whole == p0 * (|p1|...|pk-1|) + ... + p{k-1}``.
    ``group`` contracts the parts with an expression; ``split`` the whole.
    """

    part_dims: tuple[sympy.Expr, ...]

    @property
    def ports(self) -> tuple[str, ...]:
        return tuple(f"p{i}" for i in range(len(self.part_dims))) + ("whole",)

    def port_dim(self, port: str) -> sympy.Expr:
        if port == "whole":
            return sympy.Mul(*self.part_dims)
        return self.part_dims[int(port[1:])]


@dataclass(frozen=True)
class BoxOp:
    """A linear box around an expression: a parenthesised sum, or a folded ``let``.

    The ports are labels free in ``inner``. ``name`` is the let name for a folded
    definition (None for a plain sum); ``tag`` is unused by equality.
    """

    inner: "Expr"
    ports: tuple[str, ...]
    name: str | None = None

    def port_dim(self, port: str) -> sympy.Expr:
        return self.inner.free_dims[port]


ELEMENTWISE_BUBBLES = ("exp", "log", "relu", "gelu", "tanh", "sigmoid", "pow")
AXIS_BUBBLES = ("softmax", "logsumexp", "layernorm", "causal")
FUNC_OUT_PORT = "@out"


@dataclass(frozen=True)
class BubbleOp:
    """A nonlinear function applied to an expression.

    ``kind``: an elementwise name, ``softmax``/``logsumexp``/``layernorm``
    (``axes=(k,)``), ``causal`` (``axes=(q, k)``), or ``func`` (``func`` set,
    ``axes=(input label,)``). ``param`` is pow's exponent. Ports are the inner
    free labels kept by the bubble (all of them, minus the consumed axis of
    logsumexp and func) plus ``FUNC_OUT_PORT`` for a func.
    """

    kind: str
    inner: "Expr"
    axes: tuple[str, ...] = ()
    param: sympy.Expr | None = None
    func: FuncDecl | None = None

    @cached_property
    def ports(self) -> tuple[str, ...]:
        labels = self.inner.labels
        if self.kind == "logsumexp" or self.kind == "func":
            labels = tuple(l for l in labels if l not in self.axes)
        if self.kind == "func":
            labels = labels + (FUNC_OUT_PORT,)
        return labels

    def port_dim(self, port: str) -> sympy.Expr:
        if port == FUNC_OUT_PORT:
            assert self.func is not None
            return self.func.out_dim
        return self.inner.free_dims[port]

    @property
    def linear(self) -> bool:
        return False


@dataclass(frozen=True)
class DerivOp:
    """``diff(inner, X[p, ...])``: the derivative of ``inner`` by the entries of ``wrt``.

    Ports: the inner free labels, then ``@d0, @d1, ...`` for the legs of ``wrt``
    in its port order. Declared properties of ``wrt`` are ignored: its entries
    are independent variables.
    """

    inner: "Expr"
    wrt: TensorOp

    @cached_property
    def ports(self) -> tuple[str, ...]:
        return self.inner.labels + tuple(f"@d{i}" for i in range(len(self.wrt.ports)))

    def port_dim(self, port: str) -> sympy.Expr:
        if port.startswith("@d"):
            return self.wrt.port_dim(self.wrt.ports[int(port[2:])])
        return self.inner.free_dims[port]


Op = TensorOp | CopyTensor | ShiftOp | IndexOp | ReshapeOp | BoxOp | BubbleOp | DerivOp


# --------------------------------------------------------------------------- diagrams


@dataclass(frozen=True)
class Node:
    """One node: an operation with its ports attached to edges, in port order."""

    op: Op
    edges: tuple[str, ...]

    def port_edges(self) -> Iterable[tuple[str, str]]:
        return zip(self.op.ports, self.edges)


@dataclass(frozen=True)
class Diagram:
    """An immutable hypergraph (see the module docstring).

    ``edge_dims``: (edge, dimension) pairs sorted by edge name;
    ``free``: (label, edge) pairs sorted by label.
    """

    nodes: tuple[Node, ...]
    edge_dims: tuple[tuple[str, sympy.Expr], ...]
    free: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def build(nodes: Iterable[Node], dims: Mapping[str, sympy.Expr], free: Mapping[str, str]) -> "Diagram":
        """Make a diagram. Every edge in ``dims`` is kept, including closed loops."""
        nodes = tuple(nodes)
        for node in nodes:
            if len(node.edges) != len(node.op.ports):
                raise ValueError(f"node {node.op} has {len(node.edges)} edges for {len(node.op.ports)} ports")
            for e in node.edges:
                if e not in dims:
                    raise ValueError(f"edge {e!r} has no dimension")
        for label, e in free.items():
            if e not in dims:
                raise ValueError(f"free label {label!r} sits on unknown edge {e!r}")
        return Diagram(nodes, tuple(sorted(dims.items())), tuple(sorted(free.items())))

    @cached_property
    def dims(self) -> dict[str, sympy.Expr]:
        return dict(self.edge_dims)

    @cached_property
    def free_map(self) -> dict[str, str]:
        return dict(self.free)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.free)

    @cached_property
    def incidence(self) -> dict[str, list[tuple[int, int]]]:
        """Edge -> list of (node index, port index) touching it."""
        inc: dict[str, list[tuple[int, int]]] = {e: [] for e, _ in self.edge_dims}
        for ni, node in enumerate(self.nodes):
            for pi, e in enumerate(node.edges):
                inc[e].append((ni, pi))
        return inc

    @cached_property
    def edge_labels(self) -> dict[str, list[str]]:
        """Edge -> free labels on it."""
        out: dict[str, list[str]] = {e: [] for e, _ in self.edge_dims}
        for label, e in self.free:
            out[e].append(label)
        return out

    def is_free_edge(self, edge: str) -> bool:
        return bool(self.edge_labels.get(edge))

    def rename_edges(self, mapping: Mapping[str, str]) -> "Diagram":
        """Rename edges (several edges may map to one: that merges them)."""
        m = lambda e: mapping.get(e, e)  # noqa: E731
        nodes = tuple(Node(n.op, tuple(m(e) for e in n.edges)) for n in self.nodes)
        dims: dict[str, sympy.Expr] = {}
        for e, d in self.edge_dims:
            dims.setdefault(m(e), d)
        free = {label: m(e) for label, e in self.free}
        return Diagram.build(nodes, dims, free)

    def with_nodes(self, nodes: Iterable[Node]) -> "Diagram":
        return Diagram.build(nodes, self.dims, self.free_map)

    def drop_edges(self, edges: Iterable[str]) -> "Diagram":
        gone = set(edges)
        dims = {e: d for e, d in self.edge_dims if e not in gone}
        return Diagram.build(self.nodes, dims, self.free_map)

    @cached_property
    def is_scalar_only(self) -> bool:
        return not self.nodes and not self.free and not self.edge_dims

    # Jupyter display: as the one-term expression it is
    def _repr_svg_(self) -> str:
        return Expr.single(self)._repr_svg_()

    def _repr_html_(self) -> str:
        return Expr.single(self)._repr_html_()

    def _repr_latex_(self) -> str:
        return Expr.single(self)._repr_latex_()


EMPTY_DIAGRAM = Diagram((), (), ())


# --------------------------------------------------------------------------- sums


@dataclass(frozen=True)
class Term:
    """``coeff * diagram``; ``tags`` records which tagged summands produced it."""

    coeff: sympy.Expr
    diagram: Diagram
    tags: tuple[str, ...] = ()

    def scaled(self, factor: sympy.Expr) -> "Term":
        return replace(self, coeff=self.coeff * factor)


@dataclass(frozen=True)
class Expr:
    """A sum of terms over one set of free labels (``free``: (label, dimension), sorted).

    The empty sum is the zero tensor with those labels.
    """

    terms: tuple[Term, ...]
    free: tuple[tuple[str, sympy.Expr], ...]

    @staticmethod
    def of(terms: Iterable[Term], free_dims: Mapping[str, sympy.Expr]) -> "Expr":
        terms = tuple(terms)
        want = set(free_dims)
        for t in terms:
            if set(t.diagram.labels) != want:
                raise ValueError(
                    f"term free labels {sorted(t.diagram.labels)} differ from the sum's {sorted(want)}"
                )
        return Expr(terms, tuple(sorted(free_dims.items())))

    @staticmethod
    def single(diagram: Diagram, coeff: sympy.Expr = sympy.Integer(1)) -> "Expr":
        return Expr.of([Term(sympy.sympify(coeff), diagram)], {l: diagram.dims[e] for l, e in diagram.free})

    @staticmethod
    def scalar(value: sympy.Expr) -> "Expr":
        return Expr.of([Term(sympy.sympify(value), EMPTY_DIAGRAM)], {})

    @cached_property
    def free_dims(self) -> dict[str, sympy.Expr]:
        return dict(self.free)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        return tuple(l for l, _ in self.free)

    def __add__(self, other: "Expr") -> "Expr":
        return Expr.of(self.terms + other.terms, self.free_dims)

    def scaled(self, factor: sympy.Expr) -> "Expr":
        return Expr(tuple(t.scaled(factor) for t in self.terms), self.free)

    def map_terms(self, fn) -> "Expr":
        out: list[Term] = []
        for t in self.terms:
            out.extend(fn(t))
        return Expr.of(out, self.free_dims)

    # Jupyter display (diagalg.render.notebook): the drawing, and index notation
    def _repr_svg_(self) -> str:
        from .render.notebook import expr_svg

        return expr_svg(self)

    def _repr_html_(self) -> str:
        from .render.notebook import expr_html

        return expr_html(self)

    def _repr_latex_(self) -> str:
        from .render.notebook import expr_latex

        return expr_latex(self)


# --------------------------------------------------------------------------- helpers


def permutation_sign(seq: Sequence[int]) -> int:
    """The sign (+1/-1) of the permutation that sorts ``seq`` (distinct values)."""
    order = sorted(range(len(seq)), key=seq.__getitem__)
    seen = [False] * len(seq)
    sign = 1
    for i in range(len(seq)):
        if seen[i]:
            continue
        j, length = i, 0
        while not seen[j]:
            seen[j] = True
            j = order[j]
            length += 1
        if length % 2 == 0:
            sign = -sign
    return sign


def fresh_name(base: str, used: set[str]) -> str:
    """A name not in ``used`` (which is updated), derived from ``base``."""
    base = base.split("~")[0] or "e"
    if base not in used:
        used.add(base)
        return base
    for k in itertools.count(1):
        cand = f"{base}~{k}"
        if cand not in used:
            used.add(cand)
            return cand
    raise AssertionError


def all_edge_names(diagram: Diagram) -> set[str]:
    return set(diagram.dims) | set(diagram.labels)


def _tagged_name(edge: str, tag: str, used: set[str]) -> str:
    base = f"{edge.split('~')[0] or 'e'}~{tag}"
    cand, k = base, 0
    while cand in used:
        k += 1
        cand = f"{base}.{k}"
    used.add(cand)
    return cand


def inline_diagram(outer: Diagram, port_edges: Mapping[str, str], inner: Diagram,
                   used: set[str] | None = None,
                   tag: str | None = None) -> tuple[list[Node], dict[str, sympy.Expr], list[tuple[str, str]]]:
    """Place ``inner`` into ``outer``: inner's free label L is glued to outer edge
    ``port_edges[L]``; inner's other edges get fresh names not used in ``outer``.
    With ``tag``, fresh names are ``base~tag`` (``base~tag.1``, ...): edits computed
    separately against one diagram with different tags never invent the same name.

    Returns (nodes, new edge dims, edge merges) where merges are pairs of outer
    edges that ``inner`` joins (an inner edge carrying two free labels joins two
    outer edges).
    """
    used = all_edge_names(outer) if used is None else used
    rename: dict[str, str] = {}
    merges: list[tuple[str, str]] = []
    for label, e in inner.free:
        target = port_edges[label]
        if e in rename and rename[e] != target:
            merges.append((target, rename[e]))
        else:
            rename[e] = target
    new_dims: dict[str, sympy.Expr] = {}
    for e, d in inner.edge_dims:
        if e not in rename:
            rename[e] = fresh_name(e, used) if tag is None else _tagged_name(e, tag, used)
            new_dims[rename[e]] = d
    nodes = [Node(n.op, tuple(rename[e] for e in n.edges)) for n in inner.nodes]
    return nodes, new_dims, merges


def replace_node(diagram: Diagram, index: int, inner: Diagram,
                 ports: Mapping[str, str] | None = None) -> Diagram:
    """``diagram`` with node ``index`` taken out and ``inner`` put in its place.

    Inner's free label L is glued to ``ports[L]`` (by default the node's edge on its
    port L: the node is a box, bubble or derivative whose ports are inner's labels);
    inner's other edges get fresh names, and edges that inner joins are merged."""
    node = diagram.nodes[index]
    if ports is None:
        ports = dict(zip(node.op.ports, node.edges))
    nodes, new_dims, merges = inline_diagram(diagram, ports, inner)
    rest = tuple(n for k, n in enumerate(diagram.nodes) if k != index)
    d = Diagram.build(rest + tuple(nodes), {**diagram.dims, **new_dims}, diagram.free_map)
    return d.rename_edges(resolve_merges(merges)) if merges else d


def resolve_merges(merges: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """Edge renaming that joins every pair in ``merges`` (union-find; each class is
    named by its smallest edge). Pairs, never a dict keyed by edge: one edge may be
    merged with several others."""
    if isinstance(merges, Mapping):
        merges = list(merges.items())
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in merges:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            parent[hi] = lo
    return {x: find(x) for x in list(parent)}


def nested_exprs(op: Op) -> tuple[Expr, ...]:
    if isinstance(op, (BoxOp, BubbleOp, DerivOp)):
        return (op.inner,)
    return ()


def walk_nodes(expr: Expr) -> Iterable[Node]:
    """Every node of ``expr``, including those inside nested boxes, bubbles and derivatives."""
    stack = [expr]
    while stack:
        e = stack.pop()
        for t in e.terms:
            for n in t.diagram.nodes:
                yield n
                stack.extend(nested_exprs(n.op))


def tensor_decls_in(expr: Expr) -> dict[str, TensorDecl]:
    """Every tensor declaration used anywhere in ``expr`` (including nested ones)."""
    out: dict[str, TensorDecl] = {}
    for n in walk_nodes(expr):
        if isinstance(n.op, TensorOp):
            out[n.op.decl.name] = n.op.decl
        if isinstance(n.op, DerivOp):
            out[n.op.wrt.decl.name] = n.op.wrt.decl
    return out


def funcs_in(expr: Expr) -> dict[str, FuncDecl]:
    """Every user function applied anywhere in ``expr``."""
    return {n.op.func.name: n.op.func for n in walk_nodes(expr)
            if isinstance(n.op, BubbleOp) and n.op.func is not None}


def dim_symbols_in(expr: Expr) -> set[sympy.Symbol]:
    """Every dimension symbol that the expression's sizes or coefficients mention."""
    syms: set[sympy.Symbol] = set()
    stack = [expr]
    for _, d in expr.free:
        syms |= sympy.sympify(d).free_symbols
    while stack:
        e = stack.pop()
        for t in e.terms:
            syms |= sympy.sympify(t.coeff).free_symbols
            for _, d in t.diagram.edge_dims:
                syms |= sympy.sympify(d).free_symbols
            for n in t.diagram.nodes:
                if isinstance(n.op, TensorOp):
                    for d in n.op.decl.dims:
                        syms |= sympy.sympify(d).free_symbols
                stack.extend(nested_exprs(n.op))
    for decl in tensor_decls_in(expr).values():
        for d in decl.dims:
            syms |= sympy.sympify(d).free_symbols
    return syms
