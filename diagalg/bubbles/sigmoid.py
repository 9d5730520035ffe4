"""``sigmoid(E)``: the logistic function, written with tanh (analytic, so complex-step
differentiation is exact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .pieces import ONE, Pieces, chain, scaled, single, square
from .spec import BackendCode, Bubble

if TYPE_CHECKING:
    import sympy

    from ..model import BubbleOp


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``1 / (1 + exp(-x))`` of every entry, as ``(1 + tanh(x / 2)) / 2``."""
    return 0.5 * (1 + np.tanh(x / 2))


def _fprime(op: BubbleOp, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """sigmoid' = sigmoid − sigmoid²."""
    s = [(ONE, single(op))]
    return s + scaled(square(s, op.ports, dims), -ONE)


BUBBLE = Bubble(
    kind="sigmoid",
    description="elementwise logistic function",
    apply=apply,
    why_not_exact="sigmoid is transcendental",
    export={
        "numpy": BackendCode("_sigmoid({x})", "def _sigmoid(x):\n    return 0.5 * (1 + np.tanh(x / 2))\n"),
        "torch": BackendCode("_sigmoid({x})", "def _sigmoid(x):\n    return torch.sigmoid(x)\n"),
    },
    derivative=chain(_fprime),
)
