"""``softmax_shift`` and ``logsumexp_shift``: a summand constant along the axis.

A summand of a bubble's argument is **constant along** the label ``k`` when the
edge of ``k`` in its diagram carries no other free label and is touched by
nothing but one-leg copy tensors (``delta[k]``, the ones vector): then the
summand is ``b[...] * 1[k]``, a tensor of the other labels broadcast along
``k`` (``b[q] delta[k]``, ``2 * delta[q] delta[k]``, or, after ``delta`` has
run, a term whose ``k`` edge has no port at all). Any other summand "carries
``k``" and is never dropped, whatever its value (the test is structural).

``softmax_shift`` rewrites a ``softmax[k](E)`` node:

* **direct** ``softmax[k](S + b) -> softmax[k](S)``: every summand of E that is
  constant along ``k`` is dropped, with any coefficient, provided at least one
  summand is left. Sound: ``softmax`` along ``k`` is invariant under adding
  ``c`` constant along ``k``, ``exp(x_k + c) / sum_k' exp(x_k' + c) =
  exp(x_k) / sum_k' exp(x_k')`` (also for complex ``c``: ``e^c`` cancels); the
  evaluator subtracts the real maximum along ``k`` first, which does not change
  that.
* **through the causal mask** ``softmax[k](causal[q, k](S + b)) ->
  softmax[k](causal[q, k](S))``: a summand of E that is a single ``causal``
  node and nothing else (each of its edges carries exactly one free label and
  no other port: a relabelled ``causal[..](F)``), with a coefficient that is
  positive, has the summands of F that are constant along the causal label
  sitting on the softmax's ``k`` edge dropped (again leaving at least one).
  Sound: the mask depends on positions only, so dropping a summand ``c``
  constant along ``k`` changes the unmasked entries of the causal term by ``c``
  and leaves the masked ones at ``-inf`` (times a positive coefficient:
  still ``-inf``). Along ``k`` (every other label fixed) the softmax argument
  is then shifted by one constant on its finite entries, and its non-finite
  entries are unchanged: the softmax is unchanged (a row that is entirely
  masked is NaN on both sides). This holds whichever causal axis, or batch
  label, the softmax's ``k`` is; a negative or symbolic coefficient would turn
  ``-inf`` into ``+inf`` (or leave the sign unknown), so it does not fire.
  Other summands of E, and the direct drop, may be present at the same time.

``logsumexp_shift`` rewrites ``logsumexp[k](S + b) -> logsumexp[k](S) + b``
for every summand ``b`` that is constant along ``k`` **and real** (a real
coefficient, sympy ``is_real``, and no ``complex`` tensor anywhere in it), with
at least one summand left: the term containing the ``logsumexp`` node becomes a
sum of terms, one with the node's argument reduced, and one per dropped summand
with the node replaced by that summand (its ``k`` edge and ones vectors
removed, its other labels glued to the node's edges, with its coefficient).
Sound: ``log sum_k exp(x_k + c) = log(e^c sum_k exp(x_k)) = c + log sum_k
exp(x_k)``, and the rest of the term is linear in the node (a product with
it). For real ``c``, ``e^c > 0`` leaves the argument of the (principal,
complex) logarithm alone, so this holds even when ``x`` is complex; for
complex ``c`` it holds only modulo ``2 pi i`` (the evaluator's principal
branch can differ by ``2 pi i``), so a complex summand is never moved out.
With no summand left it would be ``b + log n``, which is not done.

Termination: ``softmax_shift`` removes at least one term (hence at least its
``k`` edge) from a nested expression, which strictly decreases
:func:`diagalg.engine.diagram_measure`. Each diagram ``logsumexp_shift``
produces is smaller than the one it came from: the first has a smaller nested
expression; in the others the node (counted with its whole argument plus one)
is replaced by the nodes and internal edges of one of its summands.

Neither rule uses declared tensor properties. Both are pure identities of the
bubbles, valid for any values.
"""

from __future__ import annotations

from typing import Iterator

import sympy

from ..bubbles import get_bubble
from ..model import BubbleOp, CopyTensor, Diagram, Expr, Node, Term, replace_node, with_inner
from ..powers import is_real as powers_is_real
from .base import Edit, Site, register


def constant_along(d: Diagram, label: str) -> bool:
    """True when the diagram's value does not depend on the free label ``label``: its
    edge carries no other label and only one-leg copy tensors (ones) touch it."""
    edge = d.free_map.get(label)
    if edge is None or d.edge_labels[edge] != [label]:
        return False
    for ni, _ in d.incidence[edge]:
        op = d.nodes[ni].op
        if not (isinstance(op, CopyTensor) and op.arity == 1):
            return False
    return True


def is_real(term: Term) -> bool:
    """True when the term is real for every value of its tensors: a real coefficient and
    no complex tensor anywhere in it (nested expressions included)."""
    return powers_is_real(Expr((term,), ()))


def drop_constant(inner: Expr, label: str, real_only: bool = False) -> tuple[list[Term], list[Term]] | None:
    """(kept, dropped) summands of ``inner``: dropped are those :func:`constant_along`
    ``label`` (and, with ``real_only``, :func:`is_real`). None when nothing is dropped
    or nothing would be left."""
    kept: list[Term] = []
    dropped: list[Term] = []
    for t in inner.terms:
        drop = constant_along(t.diagram, label) and (not real_only or is_real(t))
        (dropped if drop else kept).append(t)
    if not kept or not dropped:
        return None
    return kept, dropped


def _bare_causal_label(term: Term, label: str) -> str | None:
    """When ``term`` is a positive multiple of one causal node relabelled (each edge one
    free label and one port), the causal argument's label on ``label``'s edge."""
    d = term.diagram
    if len(d.nodes) != 1 or not sympy.sympify(term.coeff).is_positive:
        return None
    node = d.nodes[0]
    op = node.op
    if not isinstance(op, BubbleOp) or get_bubble(op.kind).shift != "mask":
        return None
    if len(set(node.edges)) != len(node.edges) or set(node.edges) != set(d.dims):
        return None
    if any(len(d.edge_labels[e]) != 1 for e in node.edges):
        return None
    edge = d.free_map.get(label)
    if edge is None or edge not in node.edges:
        return None
    return op.ports[node.edges.index(edge)]


def _shift_through_causal(term: Term, label: str) -> Term | None:
    """``c * causal[..](F)`` with the summands of F constant along ``label`` dropped."""
    inner_label = _bare_causal_label(term, label)
    if inner_label is None:
        return None
    node = term.diagram.nodes[0]
    op = node.op
    split = drop_constant(op.inner, inner_label)  # type: ignore[union-attr]
    if split is None:
        return None
    new_op = with_inner(op, Expr.of(split[0], op.inner.free_dims))  # type: ignore[arg-type,union-attr]
    return Term(term.coeff, term.diagram.with_nodes([Node(new_op, node.edges)]), term.tags)


def softmax_inner(inner: Expr, label: str) -> Expr | None:
    """The softmax argument with constant summands dropped (directly and through causal
    masks); None when the rule does not apply."""
    split = drop_constant(inner, label)
    terms = list(split[0]) if split is not None else list(inner.terms)
    changed = split is not None
    for k, t in enumerate(terms):
        new = _shift_through_causal(t, label)
        if new is not None:
            terms[k] = new
            changed = True
    return Expr.of(terms, inner.free_dims) if changed else None


@register
class SoftmaxShiftRule:
    name = "softmax_shift"
    #: the bubble kind the rule rewrites: its registry module states the fact used ("drop")
    bubble = "softmax"
    description = "softmax[k](S + b) -> softmax[k](S) for b constant along k (also inside causal[q, k])"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 80  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, BubbleOp) and op.kind == self.bubble and softmax_inner(op.inner, op.axes[0]) is not None:
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        op = node.op
        inner = softmax_inner(op.inner, op.axes[0])  # type: ignore[union-attr]
        assert inner is not None
        new_op = with_inner(op, inner)  # type: ignore[arg-type]
        return Edit(replace=((i, Node(new_op, node.edges)),))


def _without_label(d: Diagram, label: str) -> Diagram:
    """A diagram constant along ``label`` as a tensor of its other labels: the label's
    edge and the ones vectors on it removed."""
    edge = d.free_map[label]
    ones = {ni for ni, _ in d.incidence[edge]}
    nodes = [n for k, n in enumerate(d.nodes) if k not in ones]
    dims = {e: dim for e, dim in d.edge_dims if e != edge}
    free = {l: e for l, e in d.free if l != label}
    return Diagram.build(nodes, dims, free)


@register
class LogsumexpShiftRule:
    name = "logsumexp_shift"
    #: the bubble kind the rule rewrites: its registry module states the fact used ("pull_real")
    bubble = "logsumexp"
    description = "logsumexp[k](S + b) -> logsumexp[k](S) + b for b constant along k"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 90  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, BubbleOp) and op.kind == self.bubble and drop_constant(op.inner, op.axes[0], True):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> list[tuple[sympy.Expr, Diagram]]:
        (i,) = site.nodes
        node = diagram.nodes[i]
        op = node.op
        label = op.axes[0]  # type: ignore[union-attr]
        split = drop_constant(op.inner, label, real_only=True)  # type: ignore[union-attr]
        assert split is not None
        kept, dropped = split
        new_op = with_inner(op, Expr.of(kept, op.inner.free_dims))  # type: ignore[arg-type,union-attr]
        out: list[tuple[sympy.Expr, Diagram]] = [
            (
                sympy.Integer(1),
                diagram.with_nodes([Node(new_op, node.edges) if k == i else n for k, n in enumerate(diagram.nodes)]),
            )
        ]
        for t in dropped:  # the bubble's ports are its argument's labels: each summand goes in its place
            out.append((t.coeff, replace_node(diagram, i, _without_label(t.diagram, label))))
        return out
