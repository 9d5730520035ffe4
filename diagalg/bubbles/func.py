"""``f[i -> o](E)``: a user function declared by ``func`` (opaque: random smooth
parameters in the oracle, no closed form to export), and its derivatives.

``f'[i -> o, c](E)`` (``param`` = 1) is f's Jacobian at E: ``∂f(E)_o / ∂E_c``, with the
new label ``c`` of the input's dimension; ``f''[i -> o, c, d](E)`` the second
derivative, and so on (``param`` = k, ports ``@in0 .. @in{k-1}`` after ``@out``). Like
f it is opaque; the oracle samples f as ``tanh(W x + c)`` and its derivatives as the
exact derivatives of that map (:class:`diagalg.numeric.sample.FuncParams`), so that
a chain rule through f is checked against the f the check uses.

Derivative (the chain rule through an abstract function): the k-th derivative of
f at E, differentiated, is the (k+1)-th at E contracted with dE along the input:
``d f⁽ᵏ⁾[i -> o, c..](E) = f⁽ᵏ⁺¹⁾[i -> o, c.., e](E) dE[.., e]`` (e summed, the batch
labels shared as hyperedges). It holds for any smooth f, real or complex
(holomorphic), and the sampled f is analytic.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import sympy

from ..model import FUNC_IN_PREFIX, BubbleOp, Expr, fresh_name
from .pieces import Pieces, glue, single
from .spec import Bubble


def apply(
    x: np.ndarray,
    axes: tuple[int, ...],
    param: float | complex | None = None,
    func: Any = None,
    real_semantics: bool = False,
) -> np.ndarray:
    """The sampled function ``func`` (:class:`diagalg.numeric.sample.FuncParams`), or its
    ``param``-th derivative, on axis ``axes[0]`` of ``x``; the result has the output axis
    after the other axes, then one input axis per derivative order."""
    if func is None:
        raise ValueError("a user function bubble has no sampled parameters")
    (axis,) = axes
    order = 0 if param is None else int(np.real(param))
    return func.apply(x, axis, order)


def order(op: BubbleOp) -> int:
    """How many times ``op`` (a func bubble) is differentiated: 0 for f, 1 for f'."""
    return int(op.param or 0)


def derivative(op: BubbleOp, d_inner: Expr, dims: Mapping[str, sympy.Expr]) -> Pieces:
    """``f⁽ᵏ⁺¹⁾(E)`` on the node's ports and a summed input edge e, times ``dE`` with its
    input label on e (the chain rule; ``dims``: the node's ports and the derivative labels)."""
    assert op.func is not None  # a func bubble carries its declaration
    (axis,) = op.axes
    k = order(op)
    e = fresh_name("e", set(dims) | set(d_inner.labels))
    dop = replace(op, param=sympy.Integer(k + 1))
    return [
        (c, glue(dims, [(single(dop), {f"{FUNC_IN_PREFIX}{k}": e}), (d, {axis: e})], {e: op.func.in_dim}))
        for c, d in ((t.coeff, t.diagram) for t in d_inner.terms)
    ]


BUBBLE = Bubble(
    kind="func",
    description="a declared user function from one label to a new one (f' its derivative)",
    apply=apply,
    axes=1,
    drops_axes=True,
    why_not_exact="a user function is opaque",
    no_export="the user function {name} is opaque (declared by `func`, it has no definition)",
    derivative=derivative,
    keyword=False,
)
