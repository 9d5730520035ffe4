"""Nonlinear bubbles on arrays: elementwise maps, softmax-like maps along one axis,
the causal mask, and user functions.

Every map is written with analytic operations so that complex-step
differentiation is exact: ``relu`` tests the real part, ``sigmoid`` is written
with tanh, the stabilising shifts of softmax and logsumexp are real constants.
With ``real_semantics`` the complex values are a real computation carrying an
infinitesimal imaginary perturbation; then ``log`` and fractional ``pow`` give
NaN where the real computation would (a non-positive base), instead of
silently taking a complex branch.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..model import BubbleOp
from .sample import FuncParams

LAYERNORM_EPS = 1e-5
_GELU_C = math.sqrt(2 / math.pi)


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
    labels = list(labels)
    kind = op.kind
    if kind == "exp":
        return np.exp(x)
    if kind == "log":
        return _real_guard(np.log(x), x, real_semantics)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return 0.5 * (1 + np.tanh(x / 2))
    if kind == "relu":
        return np.where(np.real(x) > 0, x, 0)
    if kind == "gelu":
        return 0.5 * x * (1 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))
    if kind == "pow":
        return _power(x, param, real_semantics)
    if kind == "causal":
        q, k = labels.index(op.axes[0]), labels.index(op.axes[1])
        return np.where(_causal_mask(x.shape, q, k), -np.inf, x)
    axis = labels.index(op.axes[0])
    if kind == "softmax":
        e = np.exp(x - _real_max(x, axis))
        return e / e.sum(axis=axis, keepdims=True)
    if kind == "logsumexp":
        m = _real_max(x, axis)
        m = np.where(np.isfinite(m), m, 0.0)
        return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis=axis)
    if kind == "layernorm":
        c = x - x.mean(axis=axis, keepdims=True)
        sq = c * c if (real_semantics or not np.iscomplexobj(c)) else np.abs(c) ** 2
        return c / np.sqrt(sq.mean(axis=axis, keepdims=True) + LAYERNORM_EPS)
    if kind == "func":
        if func is None:
            raise ValueError(f"bubble {op.func} has no sampled parameters")
        return func.apply(x, axis)
    raise ValueError(f"unknown bubble {kind!r}")


def _real_max(x: np.ndarray, axis: int) -> np.ndarray:
    return np.max(np.real(x), axis=axis, keepdims=True)


def _causal_mask(shape: Sequence[int], q: int, k: int) -> np.ndarray:
    """True where the k index exceeds the q index (broadcastable to ``shape``)."""
    qs = [1] * len(shape)
    ks = [1] * len(shape)
    qs[q], ks[k] = shape[q], shape[k]
    return np.arange(shape[k]).reshape(ks) > np.arange(shape[q]).reshape(qs)


def _power(x: np.ndarray, p: float | complex | None, real_semantics: bool) -> np.ndarray:
    if p is None:
        raise ValueError("pow needs an exponent")
    if isinstance(p, float) and p.is_integer():
        k = int(p)
        return x**k if k >= 0 else 1 / x ** (-k)
    return _real_guard(np.power(x.astype(np.result_type(x, p)), p), x, real_semantics)


def _real_guard(y: np.ndarray, x: np.ndarray, real_semantics: bool) -> np.ndarray:
    """NaN where a real computation would fail (base <= 0), for complex-step values."""
    if real_semantics and np.iscomplexobj(x):
        return np.where(np.real(x) > 0, y, complex(np.nan, np.nan))
    return y
