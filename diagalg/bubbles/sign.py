"""``sign(E)``: the elementwise sign, −1, 0 or 1 for a real entry (``sign(0) = 0``).

For a complex entry z (a tensor declared ``complex``) it is z/|z| (0 at 0), so that
``abs(z) sign(z) = z`` holds there too; under the oracle's real semantics (a complex
step through a real value) it is the sign of the real part, a constant, so the
complex step sees its derivative 0. ``sign`` is the derivative of ``abs`` (away
from 0); it is locally constant, so its own derivative is 0 almost everywhere and
the ``derivative`` rule writes 0 (exact wherever no entry is 0). It compares with
0, which has no meaning mod p: the exact evaluator refuses it.

A soft word: ``sign(`` is the bubble only where ``(`` follows the name.
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
    """The sign of every entry (of its real part under ``real_semantics``, z/|z| for
    complex data)."""
    if real_semantics or not np.iscomplexobj(x):
        return np.sign(np.real(x)).astype(np.result_type(x, np.float64))
    mag = np.abs(x)
    return np.where(mag == 0, 0, x / np.where(mag == 0, 1, mag))


BUBBLE = Bubble(
    kind="sign",
    description="elementwise sign (z/|z| for complex entries)",
    apply=apply,
    why_not_exact="sign compares with 0, which has no meaning mod p",
    export={
        "numpy": BackendCode(
            "_sign({x})",
            "def _sign(x):\n    m = np.abs(x)\n    return np.where(m == 0, 0, x / np.where(m == 0, 1, m))\n",
        ),
        "torch": BackendCode("_sign({x})", "def _sign(x):\n    return torch.sgn(x)\n"),
    },
    derivative=lambda op, d_inner, dims: [],  # sign' = 0 (almost everywhere: not at 0)
    derivative_real_only=True,  # z/|z| is not holomorphic
    keyword=False,
    soft=True,
)
