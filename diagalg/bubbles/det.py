"""``det[k -> i](E)``: the determinant of an expression read as a linear map from its
legs ``k`` to its legs ``i`` (:mod:`diagalg.bubbles.matrix`); ``det(E)`` for a
two-leg E. A scalar: the result has no labels.

Exact over a prime field (Gaussian elimination mod p, a polynomial of the
entries); the float oracle uses ``numpy.linalg.det`` of the matricised value
(the checker's sizes are small, so it neither overflows nor underflows). The
derivative is Jacobi's formula ``d det(M) = det(M) tr(inv(M) dM)``, which for
``M = X`` is ``det(X) X⁻ᵀ``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from ..model import BubbleOp, Expr, fresh_name
from .matrix import det_mod_p, matricise
from .pieces import Pieces, glue, pieces, single
from .spec import BackendCode, Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """The determinant of ``x`` read as a map from the axes ``axes[:param]`` to the rest."""
    mat, _, _ = matricise(x, axes, param)
    return np.asarray(np.linalg.det(mat))


def exact(x: np.ndarray, axes: tuple[int, ...], param: sympy.Expr | None, field: Any) -> np.ndarray:
    """:func:`apply` over the prime field ``field``."""
    mat, _, _ = matricise(x, axes, int(sympy.sympify(param)))
    return det_mod_p(mat, field)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``det(M) Σ inv(M) ⊙ dM`` over M's labels (Jacobi's formula; the inverse keeps M's
    labels, so the trace of inv(M) dM joins them label to label)."""
    used = set(dims) | set(op.inner.labels)
    inner = {l: fresh_name("@m", used) for l in op.inner.labels}
    internal = {inner[l]: op.inner.free_dims[l] for l in op.inner.labels}
    inverse = single(BubbleOp("inv", op.inner, op.axes, op.param))
    d = single(op)
    return [(c, glue(dims, [(d, {}), (inverse, inner), (dm, inner)], internal)) for c, dm in pieces(d_inner)]


_NUMPY = (
    "def _matdet(x, k, axes):\n"
    "    ins, outs = list(axes[:k]), list(axes[k:])\n"
    "    m = np.transpose(x, outs + ins)\n"
    "    n = int(np.prod(m.shape[:len(outs)]))\n"
    "    return np.linalg.det(m.reshape(n, n))\n"
)
_TORCH = (
    "def _matdet(x, k, axes):\n"
    "    ins, outs = list(axes[:k]), list(axes[k:])\n"
    "    m = x.permute(*(outs + ins))\n"
    "    n = math.prod(m.shape[:len(outs)])\n"
    "    return torch.linalg.det(m.reshape(n, n))\n"
)

BUBBLE = Bubble(
    kind="det",
    description="the determinant of an expression read as a square map between its legs (a scalar)",
    apply=apply,
    axes=-1,
    drops_axes=True,
    exact=exact,
    export={
        "numpy": BackendCode("_matdet({x}, {param}, {axes})", _NUMPY),
        "torch": BackendCode("_matdet({x}, {param}, {axes})", _TORCH),
    },
    derivative=derivative,
    keyword=False,
)
