"""Numeric derivatives ``diff(E, X)``: one perturbation of X's array per entry.

Complex-step differentiation (``Im f(x + ih e_k) / h`` with h = 1e-20) is exact
to rounding for real analytic computations; it is used when X is real and the
argument is a real computation (no complex arrays or coefficients, no nested
derivative). Otherwise a five-point central difference is used (step 1e-4
relative: truncation error ~1e-16 and rounding ~1e-12, small enough that a
difference of a difference, a Hessian, stays accurate) and the evaluation is
marked approximate. For a complex X the derivative is the Wirtinger derivative
``∂/∂X = (∂/∂Re X − i ∂/∂Im X) / 2``: X and conj(X) are independent variables,
so an occurrence of conj(X) is a constant, and for an expression holomorphic
in X this is the ordinary derivative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..model import BubbleOp, DerivOp, Expr, nested_exprs, tensor_decls_in
from .errors import check_memory
from .instance import Instance

COMPLEX_STEP = 1e-20
CENTRAL_STEP = 1e-4


@dataclass
class EvalContext:
    """Evaluation-wide flags: ``complex_step`` when complex values carry a complex-step
    perturbation of a real computation; ``approximate`` set when any derivative
    was taken by finite differences."""

    complex_step: bool = False
    approximate: bool = False


InnerEval = Callable[[Instance, EvalContext], np.ndarray]


def derivative(op: DerivOp, inst: Instance, ctx: EvalContext, inner: InnerEval) -> np.ndarray:
    """The array of ``op`` (axes ``op.ports``: the inner labels, then the legs of
    ``op.wrt`` in its port order). ``inner(instance, context)`` evaluates
    ``op.inner`` with axes in its label order on a (perturbed) instance. The
    perturbation replaces the tensor's array in the whole instance, so every
    occurrence (inside boxes, bubbles, ``inv``, ``conj``) sees it."""
    decl = op.wrt.decl
    # an array even for a tensor with no legs: numpy draws a 0-leg sample as a numpy scalar,
    # whose ``.flat`` writes into a temporary copy (a perturbation that would vanish silently)
    x0 = np.asarray(inst.arrays[decl.name])
    base = inner(inst, EvalContext(complex_step=ctx.complex_step))
    out_shape = base.shape + x0.shape
    itemsize = 16 if (np.iscomplexobj(x0) or np.iscomplexobj(base)) else 8
    check_memory(
        int(np.prod(out_shape)) * itemsize, inst.memory_cap, f"the derivative by {decl.name} {list(out_shape)}"
    )
    if decl.name not in tensor_decls_in(op.inner):
        result = np.zeros(out_shape, dtype=base.dtype)
    elif not np.iscomplexobj(x0) and _complex_step_valid(op.inner, inst):
        result = _complex_step(op, inst, x0, base.shape, inner)
    else:
        ctx.approximate = True
        result = _central(op, inst, x0, base.shape, inner, ctx)
    # entries of the declared array, in declared leg order -> wrt's port order
    n = base.ndim
    perm = list(range(n)) + [n + decl.legs.index(p) for p in op.wrt.ports]
    return np.transpose(result, perm)


def _complex_step_valid(expr: Expr, inst: Instance) -> bool:
    """True when evaluating ``expr`` is a real computation (so an imaginary
    perturbation of one input stays a first-order tag): real arrays and
    coefficients everywhere, no nested derivative."""
    for decl in tensor_decls_in(expr).values():
        if np.iscomplexobj(inst.arrays[decl.name]):
            return False
    stack = [expr]
    while stack:
        e = stack.pop()
        for t in e.terms:
            if isinstance(inst.scalar(t.coeff), complex):
                return False
            for node in t.diagram.nodes:
                if isinstance(node.op, DerivOp):
                    return False
                if isinstance(node.op, BubbleOp) and node.op.param is not None:
                    if isinstance(inst.scalar(node.op.param), complex):
                        return False
                stack.extend(nested_exprs(node.op))
    return True


def _complex_step(op: DerivOp, inst: Instance, x0: np.ndarray, shape: tuple[int, ...], inner: InnerEval) -> np.ndarray:
    name = op.wrt.decl.name
    result = np.empty(shape + (x0.size,))
    for k in range(x0.size):
        x = np.array(x0, dtype=complex)
        x.flat[k] += 1j * COMPLEX_STEP
        f = inner(inst.with_array(name, x), EvalContext(complex_step=True))
        result[..., k] = np.imag(f) / COMPLEX_STEP
    return result.reshape(shape + x0.shape)


def _central(
    op: DerivOp, inst: Instance, x0: np.ndarray, shape: tuple[int, ...], inner: InnerEval, ctx: EvalContext
) -> np.ndarray:
    directions = (1.0, 1j) if np.iscomplexobj(x0) else (1.0,)
    partials = [_stencil(op, inst, x0, shape, inner, ctx, d) for d in directions]
    result = partials[0] if len(partials) == 1 else (partials[0] - 1j * partials[1]) / 2
    return result.reshape(shape + x0.shape)


def _stencil(
    op: DerivOp,
    inst: Instance,
    x0: np.ndarray,
    shape: tuple[int, ...],
    inner: InnerEval,
    ctx: EvalContext,
    direction: complex,
) -> np.ndarray:
    """``(−f(x+2h) + 8 f(x+h) − 8 f(x−h) + f(x−2h)) / 12h`` for each entry, along ``direction``."""
    name = op.wrt.decl.name
    cols = []
    for k in range(x0.size):
        h = CENTRAL_STEP * max(1.0, abs(x0.flat[k]))
        values = []
        for step in (2, 1, -1, -2):
            x = np.array(x0, dtype=np.result_type(x0, direction))
            x.flat[k] += step * h * direction
            sub = EvalContext()
            values.append(inner(inst.with_array(name, x), sub))
            ctx.approximate = ctx.approximate or sub.approximate
        cols.append((-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h))
    if not cols:
        return np.zeros(shape + (0,))
    return np.stack(cols, axis=-1)
