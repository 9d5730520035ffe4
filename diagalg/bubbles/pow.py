"""``pow(E, p)``: every entry to the scalar power ``p``.

A non-negative integer power is a polynomial (exact over a prime field); a negative
integer power divides; any other power is real-guarded like ``log``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import sympy

from .pieces import Pieces, chain, power_of, scaled
from .spec import BackendCode, Bubble, real_guard

if TYPE_CHECKING:
    from ..model import BubbleOp


def apply(
    x: np.ndarray,
    axes: tuple[int, ...] = (),
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """``x ** param`` entrywise (an integer power by repeated products, so exact)."""
    if param is None:
        raise ValueError("pow needs an exponent")
    if isinstance(param, float) and param.is_integer():
        k = int(param)
        return x**k if k >= 0 else 1 / x ** (-k)
    return real_guard(np.power(x.astype(np.result_type(x, param)), param), x, real_semantics)


def polynomial(param: sympy.Expr | None) -> bool:
    """True for a non-negative integer exponent."""
    if param is None:
        return False
    p = sympy.sympify(param)
    return bool(p.is_integer) and bool(p.is_nonnegative)


def _fprime(op: BubbleOp, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """pow(E, k)' = k pow(E, k − 1) (ones for k = 1, nothing for k = 0)."""
    k = sympy.sympify(op.param)
    if k == 0:
        return []
    return scaled(power_of(op.inner, k - 1, op.ports, dims), k)


BUBBLE = Bubble(
    kind="pow",
    description="entrywise power by a scalar exponent",
    apply=apply,
    polynomial=polynomial,
    why_not_exact="pow with an exponent that is not a non-negative integer",
    export={"numpy": BackendCode("{x} ** ({param})"), "torch": BackendCode("{x} ** ({param})")},
    derivative=chain(_fprime),
    label="pow",
)
