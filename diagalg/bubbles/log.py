"""``log(E)``: the elementwise natural logarithm (NaN for a non-positive base under
real semantics, see :func:`diagalg.bubbles.spec.real_guard`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from .pieces import bubble, chain
from .spec import BackendCode, Bubble, real_guard


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``log`` of every entry."""
    return real_guard(np.log(x), x, real_semantics)


BUBBLE = Bubble(
    kind="log",
    description="elementwise natural logarithm",
    apply=apply,
    why_not_exact="log is transcendental",
    export={"numpy": BackendCode("np.log({x})"), "torch": BackendCode("torch.log({x})")},
    # log' = pow(E, -1)
    derivative=chain(lambda op, dims: bubble("pow", op.inner, op.ports, dims, param=sympy.Integer(-1))),
)
