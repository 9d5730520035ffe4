"""``inv[k -> i](E)``: the inverse of an expression read as a linear map from its legs
``k`` to its legs ``i`` (:mod:`diagalg.bubbles.matrix`); ``inv(E)`` for a two-leg E.

The result keeps E's labels: contracted with E on the inputs it gives the identity
on the outputs. Exact over a prime field (Gauss–Jordan mod p; a singular draw has
no exact value and raises ``ExactUnavailable``), where the float oracle inverts the
matricised value with ``numpy.linalg.inv`` (NaN for a singular one). The
derivative is ``d inv(M) = −inv(M) dM inv(M)``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from ..model import BubbleOp, Expr, fresh_name
from .matrix import matricise, roles, unmatricise
from .pieces import Pieces, glue, pieces, single
from .spec import BackendCode, Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """The inverse of ``x`` read as a map from the axes ``axes[:param]`` to the rest, with
    the axes of ``x`` (NaN everywhere when the matrix is singular)."""
    mat, ins, outs = matricise(x, axes, param)
    try:
        inv = np.linalg.inv(mat)
    except np.linalg.LinAlgError:
        inv = np.full(mat.shape, np.nan, dtype=np.result_type(mat.dtype, np.float64))
    return unmatricise(inv, x.shape, ins, outs)


def exact(x: np.ndarray, axes: tuple[int, ...], param: sympy.Expr | None, field: Any) -> np.ndarray:
    """:func:`apply` over the prime field ``field`` (ExactUnavailable when singular mod p)."""
    from ..numeric.modp import ExactUnavailable

    mat, ins, outs = matricise(x, axes, int(sympy.sympify(param)))
    try:
        inv = field.inverse_matrix(mat)
    except ZeroDivisionError:
        raise ExactUnavailable(f"inv: the sampled matrix is singular mod {field.p}") from None
    return np.asarray(unmatricise(inv, x.shape, ins, outs))


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``−inv(M) dM inv(M)``: the first inverse meets dM on M's outputs, dM meets the
    second inverse on M's inputs."""
    ins, outs = roles(op)
    n = single(op)
    used = set(dims)
    o2 = {l: fresh_name("@o", used) for l in outs}
    i2 = {l: fresh_name("@i", used) for l in ins}
    internal = {o2[l]: dims[l] for l in outs}
    internal.update({i2[l]: dims[l] for l in ins})
    out: Pieces = []
    for c, dm in pieces(d_inner):
        out.append((-c, glue(dims, [(n, o2), (dm, {**o2, **i2}), (n, i2)], internal)))
    return out


_NUMPY = (
    "def _matinv(x, k, axes):\n"
    "    ins, outs = list(axes[:k]), list(axes[k:])\n"
    "    m = np.transpose(x, outs + ins)\n"
    "    n = int(np.prod(m.shape[:len(outs)]))\n"
    "    r = np.linalg.inv(m.reshape(n, n)).reshape(m.shape[len(outs):] + m.shape[:len(outs)])\n"
    "    return np.transpose(r, list(np.argsort(ins + outs)))\n"
)
_TORCH = (
    "def _matinv(x, k, axes):\n"
    "    ins, outs = list(axes[:k]), list(axes[k:])\n"
    "    m = x.permute(*(outs + ins))\n"
    "    n = math.prod(m.shape[:len(outs)])\n"
    "    r = torch.linalg.inv(m.reshape(n, n)).reshape(tuple(m.shape[len(outs):]) + tuple(m.shape[:len(outs)]))\n"
    "    order = ins + outs\n"
    "    return r.permute(*sorted(range(len(order)), key=order.__getitem__))\n"
)

BUBBLE = Bubble(
    kind="inv",
    description="the inverse of an expression read as a square map between its legs",
    apply=apply,
    axes=-1,
    exact=exact,
    why_not_exact="",
    export={
        "numpy": BackendCode("_matinv({x}, {param}, {axes})", _NUMPY),
        "torch": BackendCode("_matinv({x}, {param}, {axes})", _TORCH),
    },
    derivative=derivative,
    keyword=False,
)
