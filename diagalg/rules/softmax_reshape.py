"""``softmax_reshape``: softmax over a partitioned axis is exp over the block normalised
by the sum of every block's normaliser, not the per-block softmax.

``softmax[g](group[(b, k) -> g](E))`` — the axis g the whole of a ``group`` (or of
the ``split`` a user wrote the other way round) whose parts are legs of E — is
``exp(E)[b, k] / Σ_{b', k'} exp(E)[b', k']`` on the grouped index: one normaliser
for the whole axis, ``Σ_b' Z_b'`` with ``Z_b = Σ_k exp(E)[b, k]`` each block's own.
So ``split(softmax[g](group(y)))`` is ``softmax[k](y)[b, k] · Z_b / Σ_b' Z_b'``,
and equals the per-block ``softmax[k](y)`` only when there is one block.

A site is a softmax bubble whose axis is, in every term of its argument, the outer
label of one reshape node P (the site of :mod:`.elementwise_reshape` for an
elementwise bubble, with the axis as P's outer label). The rewrite writes the
softmax out by its definition, ``exp(A)[…, g] ⊙ pow(Σ_g exp(A), -1)``, on the
same edges; ``elementwise_reshape`` then moves P out of both exps (which is where
the partition shows: the normaliser's sum over g becomes a sum over all the
parts), and ``softmax_fold`` folds back only a normaliser summed over one leg,
which a normaliser over two or more parts is not.

Domain: the definition of softmax (exp over its normaliser, nonzero wherever the
left side is defined; complex arguments too). P is a bijection of index tuples,
so no condition. No property is used: the rule also runs inside a derivative.
Termination: the softmax goes and no rule makes a softmax over a reshaped axis
(a group with one part is folded back, by ``softmax_fold``, as a softmax with P
outside its argument, where this rule does not match); the number of such
softmax bubbles falls.
"""

from __future__ import annotations

from typing import Iterator

import sympy

from ..model import BubbleOp, Diagram, Expr, Node, ReshapeOp, fresh_name
from .base import Edit, Site, register
from .elementwise_reshape import reshape_site


def partitioned_axis(op: BubbleOp) -> bool:
    """True when ``op`` is a softmax whose axis is the outer label of one reshape node in
    every term of its argument (ones on the axis also count, as for an elementwise f)."""
    if op.kind != "softmax" or len(op.axes) != 1:
        return False
    found = reshape_site(op)
    if found is None:
        return False
    (p_op, outer, labels), _ = found
    return isinstance(p_op, ReshapeOp) and labels == op.axes and len(outer) == 1


def written_out(op: BubbleOp) -> tuple[BubbleOp, BubbleOp]:
    """``softmax[g](A)`` as (``exp(A)``, ``pow(Σ_g exp(A), -1)``): the second has every
    port of the first but g."""
    (g,) = op.axes
    e = BubbleOp("exp", op.inner)
    dims = {p: e.port_dim(p) for p in e.ports}
    summed = fresh_name(g, set(dims))
    edges = {p: (summed if p == g else p) for p in e.ports}
    dims[summed] = dims.pop(g)
    total = Diagram.build([Node(e, tuple(edges[p] for p in e.ports))], dims, {p: p for p in e.ports if p != g})
    return e, BubbleOp("pow", Expr.single(total), (), sympy.Integer(-1))


@register
class SoftmaxReshapeRule:
    name = "softmax_reshape"
    description = "softmax over a grouped axis -> exp over the normaliser of all blocks (not the per-block softmax)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # the definition of softmax: no property is used
    on_sums = False
    order = 79  # the engine's sequence (lower first): after the power rules, before softmax_shift
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, BubbleOp) and partitioned_axis(node.op):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        assert isinstance(node.op, BubbleOp)  # match found a softmax here
        e, norm = written_out(node.op)
        edge = dict(zip(node.op.ports, node.edges))
        return Edit(
            replace=((i, Node(e, tuple(edge[p] for p in e.ports))),),
            add=(Node(norm, tuple(edge[p] for p in norm.ports)),),
        )
