"""Nonlinear bubbles on arrays: elementwise maps, softmax-like maps along one axis,
the causal mask, and user functions.

The maps themselves live in the bubble registry (:mod:`diagalg.bubbles`, one module
per kind); this module is the oracle's entry point to them. Every map is written
with analytic operations so that complex-step differentiation is exact: ``relu``
tests the real part, ``sigmoid`` is written with tanh, the stabilising shifts of
softmax and logsumexp are real constants. With ``real_semantics`` the complex
values are a real computation carrying an infinitesimal imaginary perturbation;
then ``log`` and fractional ``pow`` give NaN where the real computation would (a
non-positive base), instead of silently taking a complex branch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..bubbles import BUBBLES
from ..bubbles.layernorm import LAYERNORM_EPS
from ..model import BubbleOp
from .sample import FuncParams

__all__ = ["LAYERNORM_EPS", "apply_bubble"]


def apply_bubble(
    op: BubbleOp,
    x: np.ndarray,
    labels: Sequence[str],
    param: float | complex | None = None,
    func: FuncParams | None = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """Apply bubble ``op`` to ``x`` (axes ``labels``, the inner expression's labels).

    Returns the result with axes in ``op.ports`` order: the same labels for
    elementwise maps, softmax, layernorm and causal; without the axis for
    logsumexp; without the input axis and with the output axis last for a func.
    ``param`` is pow's exponent; ``func`` the user function's parameters.
    """
    bubble = BUBBLES.get(op.kind)
    if bubble is None:
        raise ValueError(f"unknown bubble {op.kind!r}")
    if op.kind == "func" and func is None:
        raise ValueError(f"bubble {op.func} has no sampled parameters")
    labels = list(labels)
    axes = tuple(labels.index(a) for a in op.axes)
    return bubble.apply(x, axes, param, func, real_semantics)
