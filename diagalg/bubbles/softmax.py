"""``softmax[k](E)``: the softmax along label ``k`` (stabilised by the real maximum,
a real constant, so complex steps stay exact)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from ..model import BubbleOp, Expr, fresh_name
from .pieces import ONE, Pieces, glue, hadamard, pieces, single
from .spec import BackendCode, Bubble, real_max


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``exp(x) / Σ_k exp(x)`` along axis ``axes[0]``."""
    (axis,) = axes
    e = np.exp(x - real_max(x, axis))
    return e / e.sum(axis=axis, keepdims=True)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``s ⊙ dE − s ⊙ Σ_k' s[k'] dE[k']`` along the axis k."""
    (k,) = op.axes
    s = single(op)
    out = hadamard(dims, [(ONE, s)], pieces(d_inner))
    kk = fresh_name("@k", set(dims))
    for c, dE in pieces(d_inner):
        out.append((-c, glue(dims, [(s, {}), (s, {k: kk}), (dE, {k: kk})], {kk: dims[k]})))
    return out


BUBBLE = Bubble(
    kind="softmax",
    description="softmax along one label",
    apply=apply,
    axes=1,
    why_not_exact="softmax is transcendental (exp)",
    export={
        "numpy": BackendCode(
            "_softmax({x}, {axis0})",
            "def _softmax(x, axis):\n"
            "    e = np.exp(x - np.max(np.real(x), axis=axis, keepdims=True))\n"
            "    return e / e.sum(axis=axis, keepdims=True)\n",
        ),
        "torch": BackendCode(
            "_softmax({x}, {axis0})", "def _softmax(x, axis):\n    return torch.softmax(x, dim=axis)\n"
        ),
    },
    derivative=derivative,
    shift="drop",
)
