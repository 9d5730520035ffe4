"""``relu(E)``: the elementwise positive part (of the real part, so that complex steps
through it stay analytic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import sympy

from .pieces import Pieces, bubble, chain
from .spec import BackendCode, Bubble

if TYPE_CHECKING:
    from ..model import BubbleOp


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``x`` where its real part is positive, else 0."""
    return np.where(np.real(x) > 0, x, 0)


def _fprime(op: BubbleOp, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """relu' = step, for x != 0 (relu is not differentiable at 0; a random argument has
    no zero entry)."""
    return bubble("step", op.inner, op.ports, dims)


BUBBLE = Bubble(
    kind="relu",
    description="elementwise positive part",
    apply=apply,
    why_not_exact="relu compares with 0, which has no meaning mod p",
    export={
        "numpy": BackendCode("_relu({x})", "def _relu(x):\n    return np.where(np.real(x) > 0, x, 0)\n"),
        "torch": BackendCode("_relu({x})", "def _relu(x):\n    return torch.relu(x)\n"),
    },
    derivative=chain(_fprime),
)
