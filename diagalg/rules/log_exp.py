"""``log_exp``: ``log(exp(E)) -> E`` for a real E; ``exp(log(E)) -> E`` for a positive E.

The outer bubble's argument must be the inner bubble alone (coefficient 1, each
leg on an edge of its own carrying one label). The result is E placed where the
outer bubble was (a parenthesised sum when E has several terms, which
``distribute`` multiplies out).

Domain: ``log(exp(E)) = E`` needs E real: for complex E the principal log is E
only up to a multiple of 2πi. ``exp(log(E)) = E`` needs E where its log is
defined; the rule asks for E provably positive (:func:`diagalg.powers.positive`:
a tensor declared ``positive``, exp/sigmoid/softmax of a real argument,
products and powers of those). Because it reads the ``positive`` property, the
rule is not used inside a derivative's argument.

Termination: two bubbles go, and E is a proper part of the term (the recursive
path order of the engine's docstring).
"""

from __future__ import annotations

from typing import Iterator, cast

from ..model import BoxOp, BubbleOp, Diagram, Node
from ..powers import bubble_argument, is_real, positive
from .base import Edit, Site, register

#: outer bubble -> the inner bubble it undoes
_INVERSES = {"log": "exp", "exp": "log"}


def _undone(diagram: Diagram, i: int) -> tuple[BubbleOp, tuple[str, ...]] | None:
    """The inner bubble node ``i``'s bubble undoes (with the outer edges its legs map to)."""
    node = diagram.nodes[i]
    op = node.op
    if not isinstance(op, BubbleOp) or op.kind not in _INVERSES:
        return None
    return bubble_argument(node, (_INVERSES[op.kind],))


@register
class LogExpRule:
    name = "log_exp"
    description = "log(exp(E)) -> E for real E; exp(log(E)) -> E for positive E"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the `positive` property
    on_sums = False
    order = 106  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i in range(len(diagram.nodes)):
            found = _undone(diagram, i)
            if found is None:
                continue
            inner, edges = found
            ok = is_real(inner.inner) if inner.kind == "exp" else positive(inner.inner)
            if ok:
                yield Site((i,), data=(inner, edges))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        inner, edges = cast("tuple[BubbleOp, tuple[str, ...]]", site.data)
        return Edit(replace=((i, Node(BoxOp(inner.inner, inner.ports), edges)),))
