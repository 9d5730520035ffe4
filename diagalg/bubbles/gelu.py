"""``gelu(E)``: the tanh form ``x/2 (1 + tanh(c (x + a x³)))``, c = sqrt(2/π), a = 0.044715.

The constants are written here once: the oracle's function, the exported code
(numpy and torch) and the derivative (exact rationals of the same floats) use them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import sympy

from .pieces import Pieces, bubble, chain, hadamard, ones, pieces, power_of, scaled, square
from .spec import BackendCode, Bubble

if TYPE_CHECKING:
    from ..model import BubbleOp

#: c = sqrt(2/π) and a, as floats (the oracle and exported code)
C = math.sqrt(2 / math.pi)
A = 0.044715
#: the same constants as exact rationals (a .diag coefficient cannot name π)
GELU_C = sympy.Rational(repr(C))
GELU_A = sympy.Rational(repr(A))


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """gelu of every entry, in the tanh form."""
    return 0.5 * x * (1 + np.tanh(C * (x + A * x**3)))


def _helper(lib: str) -> str:
    """The exported helper for array module ``lib``: the formula of :func:`apply`."""
    return f"def _gelu(x):\n    return 0.5 * x * (1 + {lib}.tanh({C!r} * (x + {A!r} * x**3)))\n"


def _fprime(op: BubbleOp, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """gelu' = 1/2 + t/2 + (c/2) x + (3ac/2) x³ − (c/2) x t² − (3ac/2) x³ t², with
    t = tanh(u), u = c (x + a x³)."""
    labels = op.ports
    x = pieces(op.inner)
    x3 = power_of(op.inner, sympy.Integer(3), labels, dims)
    c, a = GELU_C, GELU_A
    u = scaled(x, c) + scaled(x3, c * a)
    t = bubble("tanh", u, labels, dims)
    t2 = square(t, labels, dims)
    half = sympy.Rational(1, 2)
    return (
        [(half, ones(labels, dims))]
        + scaled(t, half)
        + scaled(x, c * half)
        + scaled(x3, 3 * a * c * half)
        + scaled(hadamard(dims, x, t2), -c * half)
        + scaled(hadamard(dims, x3, t2), -3 * a * c * half)
    )


BUBBLE = Bubble(
    kind="gelu",
    description="elementwise Gaussian error linear unit (tanh form)",
    apply=apply,
    why_not_exact="gelu is transcendental",
    export={"numpy": BackendCode("_gelu({x})", _helper("np")), "torch": BackendCode("_gelu({x})", _helper("torch"))},
    derivative=chain(_fprime),
)

__all__ = ["A", "BUBBLE", "C", "GELU_A", "GELU_C", "apply"]
