"""``step(E)``: the elementwise Heaviside step, 1 where the (real part of the) entry
is positive and 0 elsewhere, so ``step(0) = 0`` and ``relu(x) = x step(x)`` everywhere.

``step`` is the derivative of ``relu`` (away from 0, where relu has none). It is
locally constant, so its own derivative is 0 almost everywhere: the ``derivative``
rule writes 0, which is exact wherever no entry of the argument is 0 (and a random
argument has none). It compares with 0, which has no meaning mod p: the exact
evaluator refuses it and the check falls back to floating point.

A soft word (``Bubble.soft``): ``step(`` is the bubble only where ``(`` follows the
name, so a file that declares a tensor ``step`` and binds it ``step[i]`` keeps working.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .spec import BackendCode, Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """1 where the real part of ``x`` is positive, else 0 (in ``x``'s dtype)."""
    return np.where(np.real(x) > 0, 1, 0).astype(np.result_type(x, np.float64))


BUBBLE = Bubble(
    kind="step",
    description="elementwise Heaviside step (1 for a positive entry, 0 otherwise)",
    apply=apply,
    why_not_exact="step compares with 0, which has no meaning mod p",
    export={
        "numpy": BackendCode(
            "_step({x})",
            "def _step(x):\n    return np.where(np.real(x) > 0, 1, 0).astype(np.result_type(x, np.float64))\n",
        ),
        "torch": BackendCode("_step({x})", "def _step(x):\n    return (torch.real(x) > 0).to(x.dtype)\n"),
    },
    derivative=lambda op, d_inner, dims: [],  # step' = 0 (almost everywhere: not at 0)
    keyword=False,
    soft=True,
)
