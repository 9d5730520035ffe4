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
* bubbles: the entry ``derivative`` of the bubble's registry module
  (:mod:`diagalg.bubbles`), given the argument's derivative dE. Elementwise
  bubbles use the chain rule ``f'(E) ⊙ dE`` (a Hadamard product: the
  pieces share the bubble's label edges, hyperedges):
  exp → exp(E); log → pow(E, -1); tanh → 1 − pow(tanh(E), 2);
  sigmoid → sigmoid(E) − pow(sigmoid(E), 2); pow(E, k) → k pow(E, k − 1)
  (E for k = 2, ones for k = 1); relu → step(E) and abs → sign(E) (exact
  wherever they are differentiable, E ≠ 0; abs for real E only); sign and step
  → 0 (they are locally constant: 0 almost everywhere, everywhere but at E = 0);
  gelu (the tanh form the evaluator uses) → its derivative written with tanh and
  pow bubbles.
* ``softmax[k](E)``: ``s ⊙ (dE − Σ_k' s dE)``; ``logsumexp[k](E)``:
  ``Σ_k softmax[k](E) dE``; ``causal[q, k](E)``: the mask
  ``exp(causal[q, k](0))`` ⊙ dE; ``layernorm[d](E)`` (y = c pow(v, −1/2),
  c = E − mean_d E, v = mean_d c² + eps): ``pow(v, −1/2) ⊙ (dc − y ⊙ mean_d(y ⊙ dc))``
  (real arguments only: for complex ones the evaluator uses |c|²).
* a user function ``f[a -> b](E)`` (and its derivatives ``f'``, ``f''``, ...): the chain
  rule through an abstract function, ``f'[a -> b, e](E) dE[.., e]`` (e summed), the
  derivative as another opaque function (:mod:`diagalg.bubbles.func`).
* a node not depending on X contributes nothing; a bubble without a derivative
  (a complex ``layernorm``, ``abs`` or ``sign``) leaves the derivative node as it is
  (the rule does not fire), and so is every derivative around it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator, Mapping, Sequence

import sympy

from .. import caches
from ..bubbles import get_bubble
from ..bubbles.gelu import GELU_A, GELU_C  # noqa: F401  (the constants, importable from here as before)
from ..bubbles.layernorm import LAYERNORM_EPS_EXACT as LAYERNORM_EPS  # noqa: F401
from ..bubbles.pieces import ONE as _ONE
from ..bubbles.pieces import Pieces
from ..model import (
    BoxOp,
    BubbleOp,
    DerivOp,
    Diagram,
    Expr,
    Node,
    Op,
    TensorOp,
    Term,
    all_edge_names,
    fresh_name,
    inline_diagram,
    nested_exprs,
    replace_node,
    resolve_merges,
    tensor_decls_in,
)
from .base import Site, register

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
    """True when the rule can differentiate ``expr`` by ``wrt`` (no derivative inside, no
    bubble without a derivative, or real-only one of a complex value, around ``wrt``)."""
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
                bubble = get_bubble(op.kind)
                if bubble.derivative is None or not differentiable(op.inner, wrt):
                    return False
                if bubble.derivative_real_only and any(d.is_complex for d in tensor_decls_in(op.inner).values()):
                    return False  # e.g. complex layernorm uses |c|², not holomorphic
    return True


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


def _derivative_diagram(d: Diagram, wrt: TensorOp, dlabels: tuple[str, ...], ddims: Mapping[str, sympy.Expr]) -> Pieces:
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
        d_inner = derivative_expr(op.inner, wrt, dl)
        if d_inner.terms:
            derive = get_bubble(op.kind).derivative
            assert derive is not None  # differentiable() refuses a bubble without one
            pieces = derive(op, d_inner, dims)
        else:
            pieces = []
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


# --------------------------------------------------------------------------- the rule


@lru_cache(maxsize=512)
def _derivative_of(op: DerivOp) -> Expr:
    """The node's derivative as an expression over its ports."""
    return derivative_expr(op.inner, op.wrt, op.ports[len(op.inner.labels) :])


@lru_cache(maxsize=2048)
def _fires(op: DerivOp) -> bool:
    return not contains_deriv(op.inner) and differentiable(op.inner, op.wrt)


caches.register(_derivative_of.cache_clear)
caches.register(_fires.cache_clear)


@register
class DerivativeRule:
    name = "derivative"
    description = "product rule, chain rule, derivative of a tensor with respect to itself"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 110  # the engine's sequence (lower first)

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, DerivOp) and _fires(node.op):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> list:
        (i,) = site.nodes
        return [
            (term.coeff, replace_node(diagram, i, term.diagram)) for term in _derivative_of(diagram.nodes[i].op).terms
        ]
