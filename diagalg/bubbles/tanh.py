"""``tanh(E)``: the elementwise hyperbolic tangent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .pieces import ONE, Pieces, chain, ones, scaled, single, square
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
    """``tanh`` of every entry."""
    return np.tanh(x)


def _fprime(op: BubbleOp, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """tanh' = 1 − tanh²."""
    t = [(ONE, single(op))]
    return [(ONE, ones(op.ports, dims))] + scaled(square(t, op.ports, dims), -ONE)


BUBBLE = Bubble(
    kind="tanh",
    description="elementwise hyperbolic tangent",
    apply=apply,
    why_not_exact="tanh is transcendental",
    export={"numpy": BackendCode("np.tanh({x})"), "torch": BackendCode("torch.tanh({x})")},
    derivative=chain(_fprime),
)
