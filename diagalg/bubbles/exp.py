"""``exp(E)``: the elementwise exponential."""

from __future__ import annotations

from typing import Any

import numpy as np

from .pieces import ONE, chain, single
from .spec import BackendCode, Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``exp`` of every entry."""
    return np.exp(x)


BUBBLE = Bubble(
    kind="exp",
    description="elementwise exponential",
    apply=apply,
    why_not_exact="exp is transcendental",
    export={"numpy": BackendCode("np.exp({x})"), "torch": BackendCode("torch.exp({x})")},
    derivative=chain(lambda op, dims: [(ONE, single(op))]),  # exp' = exp
)
