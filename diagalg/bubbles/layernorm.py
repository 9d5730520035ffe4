"""``layernorm[d](E)``: centre along ``d`` and divide by the root mean square (plus
:data:`LAYERNORM_EPS`), with no gain or bias.

For a complex argument the variance is the mean of ``|c|²`` (the norm of the
centred vector), in the oracle and in exported code alike; under real semantics
(complex-step differentiation of a real computation) it is ``c * c``. The
derivative written here holds for real arguments only (``|c|²`` is not
holomorphic), so the ``derivative`` rule does not fire for complex ones.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy

from ..model import BubbleOp, Expr, Term, fresh_name
from .pieces import ONE, Pieces, glue, hadamard, ones, pieces, single
from .spec import BackendCode, Bubble

#: the epsilon added to the variance (oracle and exported code)
LAYERNORM_EPS = 1e-5
#: the same epsilon as an exact rational (the derivative)
LAYERNORM_EPS_EXACT = sympy.Rational(repr(LAYERNORM_EPS))


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``c / sqrt(mean_d |c|² + eps)`` with ``c = x − mean_d x`` along axis ``axes[0]``."""
    (axis,) = axes
    c = x - x.mean(axis=axis, keepdims=True)
    sq = c * c if (real_semantics or not np.iscomplexobj(c)) else np.abs(c) ** 2
    return c / np.sqrt(sq.mean(axis=axis, keepdims=True) + LAYERNORM_EPS)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``y = c pow(v, -1/2)`` with ``c = E − mean_d E`` and ``v = mean_d(c ⊙ c) + eps``:
    ``dy = pow(v, -1/2) ⊙ (dc − y ⊙ mean_d(y ⊙ dc))``, ``dc = dE − mean_d dE``."""
    (d,) = op.axes
    n = op.inner.free_dims[d]
    labels = op.ports
    others = tuple(l for l in labels if l != d)
    pdims = {l: dims[l] for l in labels}
    dd = fresh_name("@k", set(dims))
    internal = {dd: n}

    def centred(ps: Pieces, free: Mapping[str, sympy.Expr]) -> Pieces:
        return ps + [(-c / n, glue(free, [(p, {d: dd})], internal)) for c, p in ps]

    c = centred(pieces(op.inner), pdims)
    qdims = {l: dims[l] for l in others}
    v = [(ci * cj / n, glue(qdims, [(pi, {d: dd}), (pj, {d: dd})], internal)) for ci, pi in c for cj, pj in c]
    v.append((LAYERNORM_EPS_EXACT, ones(others, qdims)))
    r = single(BubbleOp("pow", Expr.of([Term(k, p) for k, p in v], qdims), (), sympy.Rational(-1, 2)))
    y = single(op)
    dc = centred(pieces(d_inner), dims)
    out = hadamard(dims, [(ONE, r)], dc)
    out += [(-k / n, glue(dims, [(r, {}), (y, {}), (y, {d: dd}), (p, {d: dd})], internal)) for k, p in dc]
    return out


def _helper(lib: str) -> str:
    """The exported helper: :func:`apply` without real semantics (|c|² for complex input)."""
    if lib == "np":
        return (
            "def _layernorm(x, axis):\n    c = x - x.mean(axis=axis, keepdims=True)\n"
            "    sq = np.abs(c) ** 2 if np.iscomplexobj(c) else c * c\n"
            f"    return c / np.sqrt(sq.mean(axis=axis, keepdims=True) + {LAYERNORM_EPS!r})\n"
        )
    return (
        "def _layernorm(x, axis):\n    c = x - x.mean(dim=axis, keepdim=True)\n"
        "    sq = torch.abs(c) ** 2 if c.is_complex() else c * c\n"
        f"    return c / torch.sqrt(sq.mean(dim=axis, keepdim=True) + {LAYERNORM_EPS!r})\n"
    )


BUBBLE = Bubble(
    kind="layernorm",
    description="layer normalisation along one label (no gain, no bias)",
    apply=apply,
    axes=1,
    why_not_exact="layernorm takes a square root",
    export={
        "numpy": BackendCode("_layernorm({x}, {axis0})", _helper("np")),
        "torch": BackendCode("_layernorm({x}, {axis0})", _helper("torch")),
    },
    derivative=derivative,
    derivative_real_only=True,
    shift="drop",
)
