"""``layernorm_shift``: a summand constant along the normalised axis is dropped.

``layernorm[d](E)`` is, along ``d`` (every other label fixed),
``c / sqrt(mean_d |c|^2 + eps)`` with ``c = x - mean_d x``: ε = 1e-5 and no gain
or bias (:func:`diagalg.numeric.bubbles.apply_bubble`; the spec, section 5.9).
The rule rewrites ``layernorm[d](S + b) -> layernorm[d](S)`` where every dropped
summand ``b`` is constant along ``d`` (its ``d`` edge carries no other label and
only one-leg copy tensors, the ones vector ``delta[d]``, touch it: see
:func:`diagalg.rules.softmax_shift.constant_along`), with any coefficient, and
at least one summand is left.

Sound, exactly, ε included: adding ``b`` constant along ``d`` adds ``b`` to the
mean, so ``c = (x + b) - (mean_d x + b) = x - mean_d x`` is unchanged, and the
result depends on ``x`` only through ``c``. (With no summand left the result
would be ``layernorm[d](0) = 0``, which is not done.)

Termination: a rewrite removes at least one term (hence at least its ``d``
edge) from the bubble's argument, which strictly decreases
:func:`diagalg.engine.diagram_measure`. The rule uses no declared tensor
property.
"""

from __future__ import annotations

from typing import Iterator

from ..model import BubbleOp, Diagram, Expr, Node, with_inner
from .base import Edit, Site, register
from .softmax_shift import drop_constant


@register
class LayernormShiftRule:
    name = "layernorm_shift"
    #: the bubble kind the rule rewrites: its registry module states the fact used ("drop")
    bubble = "layernorm"
    description = "layernorm[d](v + b) -> layernorm[d](v) for b constant along d"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 100  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, BubbleOp) and op.kind == self.bubble and drop_constant(op.inner, op.axes[0]):
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        op = node.op
        split = drop_constant(op.inner, op.axes[0])  # type: ignore[union-attr]
        assert split is not None
        new_op = with_inner(op, Expr.of(split[0], op.inner.free_dims))  # type: ignore[arg-type,union-attr]
        return Edit(replace=((i, Node(new_op, node.edges)),))
