"""``softmax_fold``: ``exp(E) ⊙ pow(Σₖ exp(E), a) -> softmax[k](E) ⊙ pow(Σₖ exp(E), a + 1)``.

softmax written out as exp over its normaliser N = Σₖ exp(E): an ``exp(E)``
node and a ``pow(N, a)`` bubble (a a negative integer) whose argument is the same
``exp(E)`` alone (coefficient 1) with one leg, the axis k, summed inside the
bubble and its other legs on the edges the outer exp's legs sit on. The exp
becomes ``softmax[k](E)`` on its own edges and the exponent goes up by one (the
bubble goes at a = −1): ``exp(E) pow(N, -1)`` is softmax, and the derivative's
``exp(zᵢ) pow(N, -2) exp(zₚ)`` is ``softmax(z)ᵢ softmax(z)ₚ``. The outer axis
edge may carry anything else (the identity holds entrywise along k). The arguments are compared by canonical key after
matching their legs (the axis to the axis, the other legs through the edges
they share), so ``keep[q, k](exp(S[q, k]) pow(exp(S[q, j]) delta[j], -1))`` folds.

The same rule folds ``exp(E − logsumexp[k](E) 1[k]) -> softmax[k](E)`` (what
``log_softmax`` makes of ``exp(log(softmax(E)))`` from the inside out, so that it
meets ``log_exp``'s answer): an exp whose argument has one term ``−logsumexp[k](F)``
on a ones leg k, the other terms being F.

Domain: softmax[k](E) is exp(Eₖ)/Σⱼ exp(Eⱼ) by definition, and N^a = N^(a+1)/N,
wherever the normaliser is nonzero (the left side needs it too); complex E as
well. No
property is used, but the canonical comparison reads declared leg symmetries,
so the rule is not used inside a derivative's argument.

Termination: an ``exp`` becomes a ``softmax`` (lower in the recursive path order
of the engine's docstring) and the negative exponent rises towards 0, where the
``pow`` goes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator, cast

from ..model import BubbleOp, Diagram, Expr, Node
from ..powers import exponent, is_pow, relabel_expr, single_term
from .base import Edit, Site, register


def _normaliser(diagram: Diagram, j: int) -> tuple[BubbleOp, str, dict[str, str]] | None:
    """For ``pow(Σₖ exp(E), a)`` (a negative integer a) at node ``j``: the inner exp bubble, its summed axis port,
    and its other ports -> the outer edges they meet. None for anything else."""
    node = diagram.nodes[j]
    op = node.op
    if not is_pow(op):
        return None
    a = exponent(op)
    if a is None or not (a.is_integer and a.is_negative) or len(set(node.edges)) != len(node.edges):
        return None
    term = single_term(op.inner)
    if term is None or term.coeff != 1 or len(term.diagram.nodes) != 1:
        return None
    d = term.diagram
    (inner,) = d.nodes
    if not isinstance(inner.op, BubbleOp) or inner.op.kind != "exp" or len(set(inner.edges)) != len(inner.edges):
        return None
    labels = d.edge_labels
    outer = dict(zip(node.op.ports, node.edges))
    axis = [p for p, e in zip(inner.op.ports, inner.edges) if not labels[e]]
    if len(axis) != 1 or any(len(labels[e]) != 1 for e in inner.edges if labels[e]):
        return None
    if set(d.dims) != set(inner.edges):
        return None
    rest = {p: outer[labels[e][0]] for p, e in zip(inner.op.ports, inner.edges) if labels[e]}
    return inner.op, axis[0], rest


def _same_argument(a: BubbleOp, mapping: dict[str, str], b: BubbleOp) -> bool:
    from ..canonical import canonical_key

    moved = relabel_expr(a.inner, mapping)
    if set(moved.labels) != set(b.inner.labels) or len(moved.terms) != len(b.inner.terms):
        return False
    keys = sorted((str(t.coeff), repr(canonical_key(t.diagram))) for t in moved.terms)
    return keys == sorted((str(t.coeff), repr(canonical_key(t.diagram))) for t in b.inner.terms)


def _minus_logsumexp(arg: Expr) -> tuple[Expr, str] | None:
    """For ``arg = F − logsumexp[k](F) 1[k]`` (F one or more terms): (F, k); else None."""
    for t, term in enumerate(arg.terms):
        d = term.diagram
        if term.coeff != -1 or len(d.nodes) != 1 or len(arg.terms) < 2:
            continue
        (node,) = d.nodes
        op = node.op
        if not isinstance(op, BubbleOp) or op.kind != "logsumexp" or len(set(node.edges)) != len(node.edges):
            continue
        labels = d.edge_labels
        if any(len(labels[e]) != 1 for e in node.edges):
            continue
        ones = [e for e, inc in d.incidence.items() if not inc]
        if len(ones) != 1 or len(labels[ones[0]]) != 1 or set(d.dims) != set(node.edges) | set(ones):
            continue
        k = labels[ones[0]][0]
        mapping = {p: labels[e][0] for p, e in zip(op.ports, node.edges)}
        mapping[op.axes[0]] = k
        rest = Expr.of([x for s, x in enumerate(arg.terms) if s != t], arg.free_dims)
        if _same_argument(op, mapping, BubbleOp("exp", rest)):
            return rest, k
    return None


@register
class SoftmaxFoldRule:
    name = "softmax_fold"
    description = "exp(E) ⊙ pow(Σ_k exp(E), a) -> softmax[k](E) ⊙ pow(Σ_k exp(E), a + 1) (a a negative integer)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # the canonical comparison reads declared leg symmetries
    on_sums = False
    order = 103  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for m, node in enumerate(diagram.nodes):
            if isinstance(node.op, BubbleOp) and node.op.kind == "exp":
                found = _minus_logsumexp(node.op.inner)
                if found is not None:
                    yield Site((m,), data=found)
        for j in range(len(diagram.nodes)):
            normaliser = _normaliser(diagram, j)
            if normaliser is None:
                continue
            inner, axis, rest = normaliser
            for m, node in enumerate(diagram.nodes):
                op = node.op
                if m == j or not isinstance(op, BubbleOp) or op.kind != "exp" or len(op.ports) != len(inner.ports):
                    continue
                port_on = dict(zip(node.edges, op.ports))
                if len(port_on) != len(node.edges) or not all(e in port_on for e in rest.values()):
                    continue
                mapping = {p: port_on[e] for p, e in rest.items()}
                free = [p for p in op.ports if p not in mapping.values()]
                if len(free) != 1:
                    continue
                mapping[axis] = free[0]
                if _same_argument(inner, mapping, op):
                    yield Site((j, m), data=free[0])
                    break  # one exp per pass: the exponent changes

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        if len(site.nodes) == 1:  # exp(F - logsumexp[k](F)) -> softmax[k](F)
            (m,) = site.nodes
            node = diagram.nodes[m]
            rest, axis = cast("tuple[Expr, str]", site.data)  # match's first kind of site
            return Edit(replace=((m, Node(BubbleOp("softmax", rest, axes=(axis,)), node.edges)),))
        j, m = site.nodes
        node = diagram.nodes[m]
        exp_op, pw_op = node.op, diagram.nodes[j].op
        assert isinstance(exp_op, BubbleOp) and is_pow(pw_op)  # the exp and the pow match found
        softmax = BubbleOp("softmax", exp_op.inner, axes=(cast(str, site.data),))
        pw = diagram.nodes[j]
        a = exponent(pw_op) + 1
        if a == 0:
            return Edit(remove=(j,), replace=((m, Node(softmax, node.edges)),))
        return Edit(replace=((m, Node(softmax, node.edges)), (j, Node(replace(pw.op, param=a), pw.edges))))


__all__ = ["SoftmaxFoldRule"]
