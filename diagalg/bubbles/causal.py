"""``causal[q, k](E)``: ``-inf`` where the ``k`` index exceeds the ``q`` index, ``E``
elsewhere (the attention mask; ``q`` and ``k`` have one dimension)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from ..model import BubbleOp, Expr
from .pieces import Pieces, bubble, hadamard, pieces
from .spec import BackendCode, Bubble


def mask(shape: Sequence[int], q: int, k: int) -> np.ndarray:
    """True where the k index exceeds the q index (broadcastable to ``shape``)."""
    qs = [1] * len(shape)
    ks = [1] * len(shape)
    qs[q], ks[k] = shape[q], shape[k]
    return np.arange(shape[k]).reshape(ks) > np.arange(shape[q]).reshape(qs)


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``x`` with ``-inf`` where the index on axis ``axes[1]`` exceeds that on ``axes[0]``."""
    q, k = axes
    return np.where(mask(x.shape, q, k), -np.inf, x)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``exp(causal[q, k](0)) ⊙ dE``: 1 where the entry is kept, 0 where it is masked."""
    labels = op.ports
    zero = Expr.of([], {l: dims[l] for l in labels})
    kept = bubble("exp", bubble("causal", zero, labels, dims, axes=op.axes), labels, dims)
    return hadamard(dims, kept, pieces(d_inner))


BUBBLE = Bubble(
    kind="causal",
    description="the causal mask: -inf where the key index exceeds the query index",
    apply=apply,
    axes=2,
    why_not_exact="causal masks with -inf, which has no meaning mod p",
    export={
        "numpy": BackendCode(
            "_causal({x}, {axis0}, {axis1})",
            'def _causal(x, q, k):\n    """-inf where the k index exceeds the q index."""\n'
            "    qs, ks = [1] * x.ndim, [1] * x.ndim\n    qs[q], ks[k] = x.shape[q], x.shape[k]\n"
            "    mask = np.arange(x.shape[k]).reshape(ks) > np.arange(x.shape[q]).reshape(qs)\n"
            "    return np.where(mask, -np.inf, x)\n",
        ),
        "torch": BackendCode(
            "_causal({x}, {axis0}, {axis1})",
            'def _causal(x, q, k):\n    """-inf where the k index exceeds the q index."""\n'
            "    qs, ks = [1] * x.dim(), [1] * x.dim()\n    qs[q], ks[k] = x.shape[q], x.shape[k]\n"
            "    mask = torch.arange(x.shape[k]).reshape(ks) > torch.arange(x.shape[q]).reshape(qs)\n"
            "    return torch.where(mask, torch.full_like(x, float('-inf')), x)\n",
        ),
    },
    derivative=derivative,
    shift="mask",
)
