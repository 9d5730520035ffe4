"""``abs(E)``: the elementwise absolute value (the modulus |z| for complex data).

Under the oracle's real semantics (a complex step through a real value) it is
``x sign(Re x)``, the analytic continuation of |x| away from 0, so complex-step
derivatives are exact. Its derivative is ``sign(E) ⊙ dE``, which holds for real
arguments away from 0 (|x| has no derivative at 0, and |z| is not holomorphic: the
``derivative`` rule leaves ``abs`` of a complex argument undifferentiated). It
compares with 0, which has no meaning mod p: the exact evaluator refuses it.

A soft word: ``abs(`` is the bubble only where ``(`` follows the name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pieces import bubble, chain
from .spec import BackendCode, Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """|x| of every entry (``x sign(Re x)`` under ``real_semantics``)."""
    if real_semantics and np.iscomplexobj(x):
        return x * np.sign(np.real(x))
    return np.abs(x)


BUBBLE = Bubble(
    kind="abs",
    description="elementwise absolute value (modulus for complex entries)",
    apply=apply,
    why_not_exact="abs compares with 0, which has no meaning mod p",
    export={"numpy": BackendCode("np.abs({x})"), "torch": BackendCode("torch.abs({x})")},
    # abs' = sign (real arguments, away from 0)
    derivative=chain(lambda op, dims: bubble("sign", op.inner, op.ports, dims)),
    derivative_real_only=True,
    keyword=False,
    soft=True,
)
