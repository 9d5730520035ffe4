"""``derivative``: rewrite ``diff(E, X[p, ...])`` into a sum of diagrams without ``diff``.

Sites are derivative nodes whose argument holds no other derivative (so nested
derivatives, Hessians, are taken innermost first). The derivative of the
argument is built term by term and node by node (the product rule), as an
expression whose free labels are the derivative node's ports (the argument's
labels, then one label per leg of X); its terms are then inlined in place of the
node, as ``distribute`` inlines a box.

The derivative of one node is an expression over the node's ports plus the
derivative labels, inlined in place of the node (edge merges, union-find):

* ``X`` itself: identities joining each port to its derivative label. Two legs
  of X on one edge (a trace), or a leg on a free edge, come out right because
  inlining merges edges: ``diff(X[i, i], X[p, q]) == delta[p, q]``.
* ``conj(X)`` (complex X): zero, the Wirtinger convention of the numeric
  evaluator (X and conj(X) are independent). ``inv(X)`` with X mapping inputs to
  outputs: ``d inv(X)[a, b] / d X[o, i] = -inv(X)[a, o] inv(X)[i, b]`` (a the
  input legs, b the output legs, as multi-indices). Even ``inv`` depth is X.
* boxes (sums, folded lets): linear, the derivative of the inner expression.
* elementwise bubbles, the chain rule ``f'(E) ⊙ dE`` (a Hadamard product: the
  pieces share the bubble's label edges, hyperedges):
  exp → exp(E); log → pow(E, -1); tanh → 1 − pow(tanh(E), 2);
  sigmoid → sigmoid(E) − pow(sigmoid(E), 2); pow(E, k) → k pow(E, k − 1)
  (E for k = 2, ones for k = 1); relu → relu(E) ⊙ pow(E, −1) (exact wherever
  relu is differentiable, E ≠ 0); gelu (the tanh form the evaluator uses) →
  its derivative written with tanh and pow bubbles.
* ``softmax[k](E)``: ``s ⊙ (dE − Σ_k' s dE)``; ``logsumexp[k](E)``:
  ``Σ_k softmax[k](E) dE``; ``causal[q, k](E)``: the mask
  ``exp(causal[q, k](0))`` ⊙ dE; ``layernorm[d](E)`` (y = c pow(v, −1/2),
  c = E − mean_d E, v = mean_d c² + eps): ``pow(v, −1/2) ⊙ (dc − y ⊙ mean_d(y ⊙ dc))``
  (real arguments only: for complex ones the evaluator uses |c|²).
* a node not depending on X contributes nothing; user functions depending on
  X are not differentiated: the derivative node is left as it is (the rule does
  not fire), and so is every derivative around it.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Iterator, Mapping, Sequence

import sympy

from ..model import (
    BoxOp,
    BubbleOp,
    DerivOp,
    Diagram,
    Expr,
    Node,
    Op,
    Term,
    TensorOp,
    all_edge_names,
    fresh_name,
    inline_diagram,
    nested_exprs,
    replace_node,
    resolve_merges,
    tensor_decls_in,
)
from .base import Site, register

_ONE = sympy.Integer(1)
#: gelu(x) = x/2 (1 + tanh(c (x + a x³))), the form the numeric evaluator uses; c = sqrt(2/π)
#: as the rational of its float (a .diag coefficient cannot name π)
GELU_C = sympy.Rational(repr(math.sqrt(2 / math.pi)))
GELU_A = sympy.Rational("0.044715")
#: layernorm's epsilon (the value ``diagalg.numeric.bubbles.LAYERNORM_EPS``)
LAYERNORM_EPS = sympy.Rational(1, 10**5)

Pieces = list[tuple[sympy.Expr, Diagram]]  # a sum of diagrams over one set of free labels


# --------------------------------------------------------------------------- feasibility


def depends_on(op: Op, wrt: TensorOp) -> bool:
    """True when ``op`` (or anything nested in it) is an occurrence of ``wrt``'s tensor."""
    if isinstance(op, TensorOp):
        return op.decl == wrt.decl
    if isinstance(op, DerivOp) and op.wrt.decl == wrt.decl:
        return True
    return any(depends_on(n.op, wrt) for e in nested_exprs(op) for t in e.terms for n in t.diagram.nodes)


def contains_deriv(expr: Expr) -> bool:
    for t in expr.terms:
        for n in t.diagram.nodes:
            if isinstance(n.op, DerivOp) or any(contains_deriv(e) for e in nested_exprs(n.op)):
                return True
    return False


def differentiable(expr: Expr, wrt: TensorOp) -> bool:
    """True when the rule can differentiate ``expr`` by ``wrt`` (no derivative inside,
    no user function or layernorm around an occurrence of ``wrt``)."""
    for t in expr.terms:
        for n in t.diagram.nodes:
            op = n.op
            if isinstance(op, DerivOp):
                return False
            if not depends_on(op, wrt):
                continue
            if isinstance(op, BoxOp):
                if set(op.ports) != set(op.inner.labels) or not differentiable(op.inner, wrt):
                    return False
            elif isinstance(op, BubbleOp):
                if op.kind not in _CHAIN or not differentiable(op.inner, wrt):
                    return False
                if op.kind == "layernorm" and any(d.is_complex for d in tensor_decls_in(op.inner).values()):
                    return False  # complex layernorm uses |c|², not holomorphic
    return True


# --------------------------------------------------------------------------- diagram building


def _ones(labels: Sequence[str], dims: Mapping[str, sympy.Expr]) -> Diagram:
    """The all-ones tensor on ``labels`` (edges carrying a label and no port)."""
    return Diagram.build((), {l: dims[l] for l in labels}, {l: l for l in labels})


def _single(op: Op) -> Diagram:
    """One node ``op`` with each port on its own edge, labelled by the port name."""
    return Diagram.build((Node(op, tuple(op.ports)),), {p: op.port_dim(p) for p in op.ports},
                         {p: p for p in op.ports})


def glue(free: Mapping[str, sympy.Expr], parts: Sequence[tuple[Diagram, Mapping[str, str]]],
         internal: Mapping[str, sympy.Expr] | None = None) -> Diagram:
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


def _hadamard(free: Mapping[str, sympy.Expr], *factors: Pieces) -> Pieces:
    """Product of sums of diagrams, joined on their shared labels (all in ``free``)."""
    out: Pieces = []
    for combo in itertools.product(*factors):
        coeff = sympy.Mul(*(c for c, _ in combo))
        out.append((coeff, glue(free, [(d, {}) for _, d in combo])))
    return out


def _pieces(expr: Expr) -> Pieces:
    return [(t.coeff, t.diagram) for t in expr.terms]


def _bubble(kind: str, inner: Expr | Pieces, labels: Sequence[str], dims: Mapping[str, sympy.Expr],
            param: sympy.Expr | None = None, axes: tuple[str, ...] = ()) -> Pieces:
    if not isinstance(inner, Expr):
        inner = Expr.of([Term(c, d) for c, d in inner], {l: dims[l] for l in labels})
    return [(_ONE, _single(BubbleOp(kind, inner, axes, param)))]


def _scaled(p: Pieces, k: sympy.Expr) -> Pieces:
    return [(c * k, d) for c, d in p]


# --------------------------------------------------------------------------- the derivative


def derivative_expr(expr: Expr, wrt: TensorOp, dlabels: Sequence[str]) -> Expr:
    """∂expr/∂wrt with free labels ``expr.labels + dlabels`` (``dlabels``: one per port of
    ``wrt``, new to ``expr``). Requires ``differentiable(expr, wrt)``."""
    dlabels = tuple(dlabels)
    if set(dlabels) & set(expr.labels) or len(dlabels) != len(wrt.ports):
        raise ValueError(f"derivative labels {dlabels} clash with {expr.labels}")
    ddims = {l: wrt.port_dim(p) for l, p in zip(dlabels, wrt.ports)}
    free = dict(expr.free_dims)
    free.update(ddims)
    out: list[Term] = []
    for term in expr.terms:
        for c, d in _derivative_diagram(term.diagram, wrt, dlabels, ddims):
            out.append(Term(term.coeff * c, d, term.tags))
    return Expr.of(out, free)


def _derivative_diagram(d: Diagram, wrt: TensorOp, dlabels: tuple[str, ...],
                        ddims: Mapping[str, sympy.Expr]) -> Pieces:
    """The product rule on one diagram: one summand per term of each dependent node's derivative."""
    out: Pieces = []
    for i, node in enumerate(d.nodes):
        if not depends_on(node.op, wrt):
            continue
        dn = _derivative_node(node.op, wrt, dlabels)
        if not dn.terms:
            continue
        used = all_edge_names(d)
        hole = {l: fresh_name("d" + l.lstrip("@"), used) for l in dlabels}
        dims = dict(d.dims)
        dims.update({hole[l]: ddims[l] for l in dlabels})
        free = dict(d.free_map)
        free.update({l: hole[l] for l in dlabels})
        rest = tuple(n for k, n in enumerate(d.nodes) if k != i)
        base = Diagram.build(rest, dims, free)
        ports = dict(zip(node.op.ports, node.edges))
        ports.update(hole)
        for t in dn.terms:
            nodes, new_dims, merges = inline_diagram(base, ports, t.diagram, set(used))
            dims2 = dict(dims)
            dims2.update(new_dims)
            nd = Diagram.build(rest + tuple(nodes), dims2, free)
            if merges:
                nd = nd.rename_edges(resolve_merges(merges))
            out.append((t.coeff, nd))
    return out


def _derivative_node(op: Op, wrt: TensorOp, dl: tuple[str, ...]) -> Expr:
    """The derivative of one node as an expression over ``op.ports + dl``."""
    dims = {p: op.port_dim(p) for p in op.ports}
    dims.update({l: wrt.port_dim(p) for l, p in zip(dl, wrt.ports)})
    free = dict(dims)
    if isinstance(op, TensorOp):
        pieces = _derivative_tensor(op, wrt, dl)
    elif isinstance(op, BoxOp):
        return derivative_expr(op.inner, wrt, dl)
    elif isinstance(op, BubbleOp):
        pieces = _CHAIN[op.kind](op, wrt, dl, dims)
    else:  # pragma: no cover - excluded by differentiable()
        raise ValueError(f"cannot differentiate {op}")
    return Expr.of([Term(c, d) for c, d in pieces], free)


def _derivative_tensor(op: TensorOp, wrt: TensorOp, dl: tuple[str, ...]) -> Pieces:
    decl = op.decl
    if op.conj:
        return []  # Wirtinger: conj(X) is independent of X
    dlabel = dict(zip(wrt.ports, dl))  # declared leg -> derivative label (wrt has no inv: ports are legs)
    if op.inv % 2 == 0:
        # identities: each port of X joined to its derivative label
        dims = {f"e{k}": decl.leg_dim(leg) for k, leg in enumerate(decl.legs)}
        free = {}
        for k, leg in enumerate(decl.legs):
            free[leg] = f"e{k}"
            free[dlabel[leg]] = f"e{k}"
        return [(_ONE, Diagram.build((), dims, free))]
    # inv(X)[in.., out..]: d inv(X)[a, b] / dX[o, i] = -inv(X)[a, o] inv(X)[i, b]
    ins, outs = decl.inputs, decl.outputs
    e1 = tuple(f"a_{l}" for l in ins) + tuple(f"o_{l}" for l in outs)
    e2 = tuple(f"i_{l}" for l in ins) + tuple(f"b_{l}" for l in outs)
    dims = {e: decl.leg_dim(e.split("_", 1)[1]) for e in e1 + e2}
    free = {l: f"a_{l}" for l in ins}
    free.update({l: f"b_{l}" for l in outs})
    free.update({dlabel[l]: f"o_{l}" for l in outs})
    free.update({dlabel[l]: f"i_{l}" for l in ins})
    return [(-_ONE, Diagram.build((Node(op, e1), Node(op, e2)), dims, free))]


def _chain(fprime):
    """Chain rule for an elementwise bubble: ``f'(E) ⊙ dE`` with ``fprime(op, dims) -> Pieces``."""

    def rule(op: BubbleOp, wrt: TensorOp, dl: tuple[str, ...], dims: Mapping[str, sympy.Expr]) -> Pieces:
        d_inner = derivative_expr(op.inner, wrt, dl)
        if not d_inner.terms:
            return []
        fp = fprime(op, {l: dims[l] for l in op.ports})
        return _hadamard(dims, fp, _pieces(d_inner))

    return rule


def _fp_exp(op: BubbleOp, dims) -> Pieces:
    return [(_ONE, _single(op))]


def _fp_log(op: BubbleOp, dims) -> Pieces:
    return _bubble("pow", op.inner, op.ports, dims, param=sympy.Integer(-1))


def _square(p: Pieces, labels, dims) -> Pieces:
    return _bubble("pow", p, labels, dims, param=sympy.Integer(2))


def _fp_tanh(op: BubbleOp, dims) -> Pieces:
    t = [(_ONE, _single(op))]
    return [(_ONE, _ones(op.ports, dims))] + _scaled(_square(t, op.ports, dims), -_ONE)


def _fp_sigmoid(op: BubbleOp, dims) -> Pieces:
    s = [(_ONE, _single(op))]
    return s + _scaled(_square(s, op.ports, dims), -_ONE)


def _power_of(inner: Expr, k: sympy.Expr, labels, dims) -> Pieces:
    """``pow(inner, k)``, written as ones for k = 0 and as ``inner`` for k = 1."""
    if k == 0:
        return [(_ONE, _ones(labels, dims))]
    if k == 1:
        return _pieces(inner)
    return _bubble("pow", inner, labels, dims, param=k)


def _fp_pow(op: BubbleOp, dims) -> Pieces:
    k = sympy.sympify(op.param)
    if k == 0:
        return []
    return _scaled(_power_of(op.inner, k - 1, op.ports, dims), k)


def _fp_relu(op: BubbleOp, dims) -> Pieces:
    # relu'(x) = relu(x) / x for x != 0 (relu is not differentiable at 0)
    return _hadamard(dims, [(_ONE, _single(op))],
                     _bubble("pow", op.inner, op.ports, dims, param=sympy.Integer(-1)))


def _fp_gelu(op: BubbleOp, dims) -> Pieces:
    # gelu = x/2 (1 + t), t = tanh(u), u = c (x + a x³):
    # gelu' = 1/2 + t/2 + (c/2) x + (3ac/2) x³ − (c/2) x t² − (3ac/2) x³ t²
    labels = op.ports
    x = _pieces(op.inner)
    x3 = _power_of(op.inner, sympy.Integer(3), labels, dims)
    u = _scaled(x, GELU_C) + _scaled(x3, GELU_C * GELU_A)
    t = _bubble("tanh", u, labels, dims)
    t2 = _square(t, labels, dims)
    half = sympy.Rational(1, 2)
    c, a = GELU_C, GELU_A
    return ([(half, _ones(labels, dims))] + _scaled(t, half) + _scaled(x, c * half)
            + _scaled(x3, 3 * a * c * half) + _scaled(_hadamard(dims, x, t2), -c * half)
            + _scaled(_hadamard(dims, x3, t2), -3 * a * c * half))


def _d_softmax(op: BubbleOp, wrt: TensorOp, dl: tuple[str, ...], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``s ⊙ dE − s ⊙ Σ_k' s[k'] dE[k']`` along the axis k."""
    d_inner = derivative_expr(op.inner, wrt, dl)
    if not d_inner.terms:
        return []
    (k,) = op.axes
    s = _single(op)
    out = _hadamard(dims, [(_ONE, s)], _pieces(d_inner))
    kk = fresh_name("@k", set(dims))
    for c, dE in _pieces(d_inner):
        out.append((-c, glue(dims, [(s, {}), (s, {k: kk}), (dE, {k: kk})], {kk: dims[k]})))
    return out


def _d_logsumexp(op: BubbleOp, wrt: TensorOp, dl: tuple[str, ...], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``Σ_k softmax[k](E) dE``."""
    d_inner = derivative_expr(op.inner, wrt, dl)
    (k,) = op.axes
    s = _single(BubbleOp("softmax", op.inner, op.axes))
    kk = fresh_name("@k", set(dims))
    kdim = op.inner.free_dims[k]
    return [(c, glue(dims, [(s, {k: kk}), (dE, {k: kk})], {kk: kdim})) for c, dE in _pieces(d_inner)]


def _d_causal(op: BubbleOp, wrt: TensorOp, dl: tuple[str, ...], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``exp(causal[q, k](0)) ⊙ dE``: 1 where the entry is kept, 0 where it is masked."""
    d_inner = derivative_expr(op.inner, wrt, dl)
    if not d_inner.terms:
        return []
    labels = op.ports
    zero = Expr.of([], {l: dims[l] for l in labels})
    mask = _bubble("exp", _bubble("causal", zero, labels, dims, axes=op.axes), labels, dims)
    return _hadamard(dims, mask, _pieces(d_inner))


def _d_layernorm(op: BubbleOp, wrt: TensorOp, dl: tuple[str, ...], dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``y = c pow(v, -1/2)`` with ``c = E − mean_d E`` and ``v = mean_d(c ⊙ c) + eps``:
    ``dy = pow(v, -1/2) ⊙ (dc − y ⊙ mean_d(y ⊙ dc))``, ``dc = dE − mean_d dE``."""
    d_inner = derivative_expr(op.inner, wrt, dl)
    if not d_inner.terms:
        return []
    (d,) = op.axes
    n = op.inner.free_dims[d]
    labels = op.ports
    others = tuple(l for l in labels if l != d)
    pdims = {l: dims[l] for l in labels}
    dd = fresh_name("@k", set(dims))
    internal = {dd: n}

    def centred(pieces: Pieces, free: Mapping[str, sympy.Expr]) -> Pieces:
        return pieces + [(-c / n, glue(free, [(p, {d: dd})], internal)) for c, p in pieces]

    c = centred(_pieces(op.inner), pdims)
    qdims = {l: dims[l] for l in others}
    v = [(ci * cj / n, glue(qdims, [(pi, {d: dd}), (pj, {d: dd})], internal)) for ci, pi in c for cj, pj in c]
    v.append((LAYERNORM_EPS, _ones(others, qdims)))
    r = _single(BubbleOp("pow", Expr.of([Term(k, p) for k, p in v], qdims), (), sympy.Rational(-1, 2)))
    y = _single(op)
    dc = centred(_pieces(d_inner), dims)
    out = _hadamard(dims, [(_ONE, r)], dc)
    out += [(-k / n, glue(dims, [(r, {}), (y, {}), (y, {d: dd}), (p, {d: dd})], internal)) for k, p in dc]
    return out


_CHAIN = {
    "exp": _chain(_fp_exp),
    "log": _chain(_fp_log),
    "tanh": _chain(_fp_tanh),
    "sigmoid": _chain(_fp_sigmoid),
    "pow": _chain(_fp_pow),
    "relu": _chain(_fp_relu),
    "gelu": _chain(_fp_gelu),
    "softmax": _d_softmax,
    "logsumexp": _d_logsumexp,
    "causal": _d_causal,
    "layernorm": _d_layernorm,
}


# --------------------------------------------------------------------------- the rule


@lru_cache(maxsize=512)
def _derivative_of(op: DerivOp) -> Expr:
    """The node's derivative as an expression over its ports."""
    return derivative_expr(op.inner, op.wrt, op.ports[len(op.inner.labels):])


@lru_cache(maxsize=2048)
def _fires(op: DerivOp) -> bool:
    return not contains_deriv(op.inner) and differentiable(op.inner, op.wrt)


@register
class DerivativeRule:
    name = "derivative"
    description = "product rule, chain rule, derivative of a tensor with respect to itself"

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, DerivOp) and _fires(node.op):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> list:
        (i,) = site.nodes
        return [(term.coeff, replace_node(diagram, i, term.diagram)) for term in _derivative_of(diagram.nodes[i].op).terms]
