"""``log_softmax``: ``log(softmax[k](E)) -> E − logsumexp[k](E)`` for a real E without a mask.

The log bubble's argument must be the softmax alone (coefficient 1, each leg on
an edge of its own carrying one label, as ``log_exp`` asks). The result is the
sum ``E − logsumexp[k](E) ⊙ 1[k]`` placed where the log was (the logsumexp is
constant along k: it sits on the other legs, and k is a ones leg), which
``distribute`` multiplies out.

Domain: softmax(E)ₖ = exp(Eₖ − logsumexp(E)), so its log is Eₖ − logsumexp(E)
for a real E (for a complex E only modulo 2πi: the rule asks for E real, see
:func:`diagalg.powers.is_real`). Under a causal mask the masked entries are
−∞ on both sides but the rule is not needed there and is not applied. No
property other than reality is used; reality is read from declarations
(``complex``), so the rule is not used inside a derivative's argument, like
``log_exp``.

This makes ``log(softmax(z))`` and ``z − logsumexp(z)`` one normal form, and it
is the textbook route of the cross-entropy gradient (∂ logsumexp = softmax).

Termination: ``log`` ranks above ``logsumexp`` and the argument E is a proper
part (the recursive path order of the engine's docstring).
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..model import BoxOp, BubbleOp, Diagram, Expr, Node, Term
from ..powers import _masked, bubble_argument, is_real
from .base import Edit, Site, register


def log_softmax_expr(softmax: BubbleOp) -> Expr:
    """``E − logsumexp[k](E) 1[k]`` for ``softmax = softmax[k](E)``, on E's free labels."""
    (k,) = softmax.axes
    inner = softmax.inner
    lse = BubbleOp("logsumexp", inner, axes=(k,))
    edges = {label: f"e.{label}" for label in inner.labels}
    node = Node(lse, tuple(edges[p] for p in lse.ports))
    d = Diagram.build([node], {edges[l]: inner.free_dims[l] for l in inner.labels}, edges)
    return Expr.of(list(inner.terms) + [Term(sympy.Integer(-1), d)], inner.free_dims)


@register
class LogSoftmaxRule:
    name = "log_softmax"
    description = "log(softmax[k](E)) -> E - logsumexp[k](E) for real E (no mask)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads reality from declarations
    on_sums = False
    order = 107  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            if not isinstance(node.op, BubbleOp) or node.op.kind != "log":
                continue
            found = bubble_argument(node, ("softmax",))
            if found is None:
                continue
            inner, edges = found
            if is_real(inner.inner) and not _masked(inner.inner):
                yield Site((i,), data=(inner, edges))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        inner, edges = cast("tuple[BubbleOp, tuple[str, ...]]", site.data)  # what match found
        return Edit(replace=((i, Node(BoxOp(log_softmax_expr(inner), inner.ports), edges)),))
