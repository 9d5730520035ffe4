"""Evaluating expressions on a numeric instance: the independent oracle.

Nothing here uses rewrite rules: each term is one contraction of its diagram
(:mod:`.contract`), nested boxes, bubbles and derivatives are evaluated
recursively, and a sum is the sum of its terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..model import BoxOp, BubbleOp, DerivOp, Expr, IndexOp, Node, TensorOp
from .bubbles import apply_bubble
from .contract import contract_diagram, scale_array
from .deriv import EvalContext, derivative
from .errors import NumericError
from .instance import Instance

__all__ = ["Evaluation", "Instance", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """The value of an expression: ``array`` with axes ``labels``; ``scale`` the
    largest finite magnitude among its evaluated terms (coefficient included),
    the yardstick of the equality criterion; ``approximate`` when a derivative
    was taken by finite differences."""

    array: np.ndarray
    labels: tuple[str, ...]
    scale: float
    approximate: bool = False


def evaluate(expr: Expr, inst: Instance, labels: Sequence[str] | None = None) -> Evaluation:
    """Evaluate ``expr`` on ``inst``; axes in the order ``labels`` (default: the
    sorted free labels). Raises :class:`MemoryCapError` when an array would pass
    the instance's memory cap; NaN and infinities are returned as they arise."""
    labels = tuple(expr.labels if labels is None else labels)
    ctx = EvalContext()
    with np.errstate(all="ignore"):
        array, scale = _eval_expr(expr, inst, ctx, labels)
    return Evaluation(array, labels, scale, ctx.approximate)


def _eval_expr(expr: Expr, inst: Instance, ctx: EvalContext, labels: Sequence[str]) -> tuple[np.ndarray, float]:
    if sorted(labels) != list(expr.labels):
        raise ValueError(f"labels {list(labels)} are not the expression's free labels {list(expr.labels)}")
    shape = tuple(inst.size(expr.free_dims[label]) for label in expr.labels)
    total: np.ndarray | None = None
    scale = 0.0
    for term in expr.terms:
        coeff = inst.scalar(term.coeff)
        if coeff == 0:
            continue
        value = scale_array(
            coeff,
            contract_diagram(
                term.diagram, expr.labels, lambda node: _operand(node, inst, ctx), inst.size, inst.memory_cap
            ),
        )
        scale = max(scale, _finite_max_abs(value))
        total = value if total is None else total + value
    if total is None:
        total = np.zeros(shape)
    order = [expr.labels.index(label) for label in labels]
    return np.asarray(np.transpose(total, order)), scale


def _finite_max_abs(a: np.ndarray) -> float:
    mags = np.abs(a)
    mags = mags[np.isfinite(mags)]
    return float(mags.max()) if mags.size else 0.0


def _operand(node: Node, inst: Instance, ctx: EvalContext) -> np.ndarray:
    """The array of a dense node, axes in its port order."""
    op = node.op
    if isinstance(op, TensorOp):
        return inst.tensor(op)
    if isinstance(op, BoxOp):
        return _eval_expr(op.inner, inst, ctx, op.ports)[0]
    if isinstance(op, BubbleOp):
        # an instance that shares bubbles (Instance.share_bubbles: many terms of one expansion)
        # evaluates each once; others skip the deep hash of the bubble
        cache = None if ctx.complex_step else inst.shared_bubbles
        if cache is not None and op in cache:
            return cache[op]
        out = _bubble(op, inst, ctx)
        if cache is not None:
            cache[op] = out
        return out
    if isinstance(op, IndexOp):
        return inst.onehot(op)
    if isinstance(op, DerivOp):
        return derivative(op, inst, ctx, lambda i, c: _eval_expr(op.inner, i, c, op.inner.labels)[0])
    raise TypeError(f"not a dense operation: {op!r}")


def _bubble(op: BubbleOp, inst: Instance, ctx: EvalContext) -> np.ndarray:
    x = _eval_expr(op.inner, inst, ctx, op.inner.labels)[0]
    param = inst.scalar(op.param) if op.param is not None else None
    func = None
    if op.func is not None:
        try:
            func = inst.funcs[op.func.name]
        except KeyError:
            raise NumericError(f"no parameters for function {op.func.name}") from None
    return apply_bubble(op, x, op.inner.labels, param, func, real_semantics=ctx.complex_step)
