"""The bubble registry: one module per nonlinear map, each defining ``BUBBLE``
(a :class:`~diagalg.bubbles.spec.Bubble`).

Every reader of bubble knowledge reads it here: the numeric oracle
(:mod:`diagalg.numeric.bubbles`), export, the ``derivative`` and shift rules,
printing and the REPL (through the grammar's tokens), drawing, and the exact
evaluator (``Bubble.exact_obstacle``). Adding a bubble is one module here (listed
in :data:`_MODULES`) plus its token in ``grammar/diag.lark`` (or, for a soft word, ``soft=True``:
the parser's postlexer reads it, the grammar has one SOFT_CALL token for all).
"""

from __future__ import annotations

from . import (  # the matrix functions of an expression (diagalg.bubbles.matrix)
    abs,
    causal,
    det,
    exp,
    func,
    gelu,
    inv,
    layernorm,
    log,
    logsumexp,
    pow,
    relu,
    sigmoid,
    sign,
    softmax,
    step,
    tanh,
)
from .spec import SHIFT_FACTS, BackendCode, Bubble

# the grammar's order: elementwise maps, pow, the axis maps, then user functions; then
# the soft words (elementwise maps whose names are names elsewhere)
_MODULES = (
    exp,
    log,
    relu,
    gelu,
    tanh,
    sigmoid,
    pow,
    softmax,
    logsumexp,
    layernorm,
    causal,
    func,
    sign,
    step,
    abs,
    inv,
    det,
)

#: Every bubble kind, by ``BubbleOp.kind``.
BUBBLES: dict[str, Bubble] = {m.BUBBLE.kind: m.BUBBLE for m in _MODULES}


def get_bubble(kind: str) -> Bubble:
    """The bubble ``kind``; ValueError naming the known kinds when there is none."""
    try:
        return BUBBLES[kind]
    except KeyError:
        raise ValueError(f"unknown bubble {kind!r} (known: {', '.join(BUBBLES)})") from None


def keyword_kinds() -> tuple[str, ...]:
    """The kinds that are grammar tokens (every kind but user functions and soft words)."""
    return tuple(k for k, b in BUBBLES.items() if b.keyword)


def soft_kinds() -> frozenset[str]:
    """The kinds that are soft words: a call ``name(E)`` only where ``(`` follows the name."""
    return frozenset(k for k, b in BUBBLES.items() if b.soft)


__all__ = ["BUBBLES", "SHIFT_FACTS", "BackendCode", "Bubble", "get_bubble", "keyword_kinds", "soft_kinds"]
