"""``logsumexp[k](E)``: ``log Σ_k exp(E)``, without the label ``k`` (stabilised by the
real maximum, replaced by 0 where it is not finite: an all ``-inf`` row)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from ..model import BubbleOp, Expr, fresh_name
from .pieces import Pieces, glue, pieces, single
from .spec import BackendCode, Bubble, real_max


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``log Σ exp(x)`` along axis ``axes[0]``, which the result lacks."""
    (axis,) = axes
    m = real_max(x, axis)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis=axis)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``Σ_k softmax[k](E) dE``."""
    (k,) = op.axes
    s = single(BubbleOp("softmax", op.inner, op.axes))
    kk = fresh_name("@k", set(dims))
    kdim = op.inner.free_dims[k]
    return [(c, glue(dims, [(s, {k: kk}), (dE, {k: kk})], {kk: kdim})) for c, dE in pieces(d_inner)]


BUBBLE = Bubble(
    kind="logsumexp",
    description="log of the sum of exponentials along one label (which the result lacks)",
    apply=apply,
    axes=1,
    drops_axes=True,
    why_not_exact="logsumexp is transcendental (log, exp)",
    export={
        "numpy": BackendCode(
            "_logsumexp({x}, {axis0})",
            "def _logsumexp(x, axis):\n    m = np.max(np.real(x), axis=axis, keepdims=True)\n"
            "    m = np.where(np.isfinite(m), m, 0.0)\n"
            "    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, "
            "axis=axis)\n",
        ),
        "torch": BackendCode(
            "_logsumexp({x}, {axis0})", "def _logsumexp(x, axis):\n    return torch.logsumexp(x, dim=axis)\n"
        ),
    },
    derivative=derivative,
    shift="pull_real",
)
