"""What one bubble kind is: the record every module of :mod:`diagalg.bubbles` defines.

A :class:`Bubble` gathers what the rest of diagalg knows about one nonlinear map,
so that each reader (the numeric oracle, export, the derivative rule, the shift
rules, printing, the REPL, drawing, the exact evaluator) reads one place instead
of keeping its own table:

* ``kind`` — the grammar token and ``BubbleOp.kind``; ``axes`` — how many labels
  the bubble takes in brackets (0 elementwise, 1 ``softmax[k]``, 2 ``causal[q, k]``; -1
  for ``inv``/``det``, whose brackets give every label a role, ``{axes}`` in export code);
  ``drops_axes`` — the result lacks those labels (``logsumexp``, ``func``).
* ``apply(x, axes, param, func, real_semantics)`` — the numpy function the oracle
  evaluates (axes are axis positions of ``x``; see :mod:`diagalg.numeric.bubbles`).
* ``polynomial(param)`` — True when the map is a polynomial for this parameter, so
  that it has an exact meaning over a prime field (``pow`` with a non-negative
  integer exponent); ``why_not_exact`` says why not otherwise. ``exact(x, axes,
  param, field)`` — the map computed over the prime field, for a map that is
  rational without being a polynomial (``inv``, ``det``); it raises
  ``ExactUnavailable`` where the value has no meaning there (a singular draw).
* ``export`` — code per backend (``numpy``, ``torch``): an optional helper function
  and the call (:class:`BackendCode`); a kind without an entry is refused with
  ``no_export``.
* ``derivative(op, d_inner, dims)`` — the derivative table entry of the
  ``derivative`` rule: given the derivative ``d_inner`` of the argument, the
  bubble's derivative as pieces over ``dims`` (None: not differentiated);
  ``derivative_real_only`` — it holds for real arguments only.
* ``shift`` — how a summand constant along the axis passes through the bubble,
  used by the shift rules (:data:`SHIFT_FACTS`).
* ``label`` — the drawing title (None: the kind); ``keyword`` — the kind is a
  token of the grammar (False for ``func``, whose bubbles carry user names);
  ``soft`` — the kind is a soft word (contract section 1): the parser's postlexer
  reads the name as the bubble only where ``(`` follows it, so a file that names a
  tensor ``step`` keeps working (``sign``, ``step``, ``abs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import sympy

#: How a summand ``b`` constant along the bubble's axis passes through it (``shift``):
SHIFT_FACTS = {
    "drop": "f(x + b) = f(x): the summand is dropped (softmax, layernorm)",
    "pull_real": "f(x + b) = f(x) + b for real b: the summand comes out of the bubble (logsumexp)",
    "mask": "f(x + b) = f(x) + b where f keeps x, -inf where it masks: a softmax along the masked "
    "axis sees through it (causal)",
}

#: The backends export writes code for.
EXPORT_BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class BackendCode:
    """Export code of one bubble for one backend.

    ``call`` is a format string for the expression computing the bubble, with
    ``{x}`` the argument's variable, ``{axis0}``/``{axis1}`` the positions of the
    bubble's axes in it and ``{param}`` the exponent's code. ``helper`` is the text
    of a function definition the exported module includes once (empty: none); the
    call then names it."""

    call: str
    helper: str = ""


def _never(param: sympy.Expr | None) -> bool:
    return False


@dataclass(frozen=True)
class Bubble:
    """One bubble kind (see the module docstring for each field's reader)."""

    kind: str
    description: str
    apply: Callable[..., np.ndarray]
    axes: int = 0
    drops_axes: bool = False
    polynomial: Callable[[sympy.Expr | None], bool] = _never
    why_not_exact: str = ""
    exact: Callable[..., np.ndarray] | None = None
    export: Mapping[str, BackendCode] = field(default_factory=dict)
    no_export: str = ""
    derivative: Callable | None = None
    derivative_real_only: bool = False
    shift: str | None = None
    label: str | None = None
    keyword: bool = True
    soft: bool = False

    def __post_init__(self) -> None:
        if self.shift is not None and self.shift not in SHIFT_FACTS:
            raise ValueError(f"bubble {self.kind}: unknown shift fact {self.shift!r}")
        if set(self.export) - set(EXPORT_BACKENDS):
            raise ValueError(f"bubble {self.kind}: unknown export backends {sorted(set(self.export))}")
        if not self.export and not self.no_export:
            raise ValueError(f"bubble {self.kind}: no export code and no reason why")

    @property
    def elementwise(self) -> bool:
        """True when the bubble maps each entry on its own (no axis)."""
        return self.axes == 0

    def exact_obstacle(self, param: sympy.Expr | None = None) -> str | None:
        """Why the bubble has no exact meaning over a prime field (None when it has:
        a polynomial map for this parameter)."""
        if self.polynomial(param) or self.exact is not None:
            return None
        return self.why_not_exact or f"{self.kind} is transcendental"

    def drawing_label(self) -> str:
        """The title a drawing gives the bubble."""
        return self.label or self.kind


def real_guard(y: np.ndarray, x: np.ndarray, real_semantics: bool) -> np.ndarray:
    """NaN where a real computation would fail (base <= 0), for complex-step values:
    with ``real_semantics`` a complex ``x`` is a real value carrying an infinitesimal
    imaginary perturbation, so a complex branch must not be taken silently."""
    if real_semantics and np.iscomplexobj(x):
        return np.where(np.real(x) > 0, y, complex(np.nan, np.nan))
    return y


def real_max(x: np.ndarray, axis: int) -> np.ndarray:
    """The maximum of the real part along ``axis`` (kept): the stabilising shift of
    softmax and logsumexp, a real constant so that complex steps stay exact."""
    return np.max(np.real(x), axis=axis, keepdims=True)
