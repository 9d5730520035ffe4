"""Lowering ``inv[k -> i](E)``, ``det[k -> i](E)``, ``inv(E)`` and ``det(E)``
(:class:`diagalg.ast.MatrixCall`) and ``inv(L)`` of a ``let`` name.

E is read as a linear map from the labels ``k`` to the labels ``i``
(:mod:`diagalg.bubbles.matrix`); together they must be every free label of E, each
once, and the map must be square (the product of the input dimensions is the
product of the output dimensions). Without roles, E must have two labels: the
first one written is the row (``inv(A[i, j] B[j, k])`` maps k to i; for a
two-leg E the inverse and the determinant are the same for either reading).
"""

from __future__ import annotations

from typing import Any, Callable

import sympy

from .. import ast as A
from ..bubbles.matrix import default_roles, matrix_op, square_problem
from ..model import Expr, Op
from ..powers import relabel_expr
from ..program import LetDef
from .ir import IScopedAtom, ISum
from .scalars import error_at

#: the scope (:class:`diagalg.lower.expr.Scope`), not imported: expr imports this module
Scope = Any


def _not_square(sizes: tuple[sympy.Expr, sympy.Expr]) -> str:
    from ..printing import scalar_text

    return f"it maps size {scalar_text(sizes[0])} to size {scalar_text(sizes[1])}, not a square matrix"


def _roles(node: A.MatrixCall, labels: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    fn = node.fn
    if node.inputs is None or node.outputs is None:
        found = default_roles(labels)
        if found is None:
            have = ", ".join(labels) if labels else "none"
            raise error_at(
                f"{fn}(E) needs an E with two free labels (E has {len(labels)}: {have}); "
                f"for more, name which map to which: {fn}[k, l -> i, j](E)",
                node.pos,
            )
        return found
    ins = tuple(l.name for l in node.inputs)
    outs = tuple(l.name for l in node.outputs)
    for ref in node.inputs + node.outputs:
        if ref.name not in labels:
            raise error_at(f"{fn}[... -> ...]: label '{ref.name}' is not free in its argument", ref.pos)
    if len(set(ins + outs)) != len(ins + outs):
        raise error_at(f"{fn}[... -> ...] lists a label twice", node.pos)
    missing = [l for l in labels if l not in ins + outs]
    if missing:
        raise error_at(
            f"{fn}[... -> ...] gives no role to the free label{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} of its argument",
            node.pos,
        )
    return ins, outs


def matrix_call(scope: Scope, node: A.MatrixCall) -> IScopedAtom:
    """The scoped atom of ``inv``/``det`` of an expression (see the module docstring)."""
    ir = scope.stage_a(node.arg)
    labels = scope.predict_free(ir)
    ins, outs = _roles(node, labels)
    out_labels = labels if node.fn == "inv" else []

    def make(ir: ISum = ir, pos: A.Pos = node.arg.pos) -> tuple[Expr, Callable[[Expr], Op]]:
        inner = scope.close_sum(ir, pos)
        sizes = square_problem([inner.free_dims[l] for l in ins], [inner.free_dims[l] for l in outs])
        if sizes:
            raise error_at(f"{node.fn}: {_not_square(sizes)}", node.pos)
        return inner, (lambda inner: matrix_op(node.fn, inner, ins, outs))

    return IScopedAtom(node.pos, out_labels, make)


def let_inverse(scope: Scope, node: A.Bind, let: LetDef) -> IScopedAtom:
    """``inv(L)`` of a two-leg ``let L[i, k]``: the inverse of its definition, on the let's
    own labels (the first listed is the row), or on the labels bound: ``inv(L)[a, b]``
    binds a to the input leg and b to the output leg, as for a declared tensor."""
    target = node.target
    if target.wrappers != ("inv",):
        raise error_at(f"only inv(...) of a let is supported, not {'('.join(target.wrappers)}(...)", target.pos)
    if len(let.labels) != 2:
        legs = f"{len(let.labels)} leg{'' if len(let.labels) == 1 else 's'}"
        raise error_at(
            f"inv({let.name}): the let has {legs}; write inv[k -> i](...) of its "
            f"expression to name which legs map to which",
            target.pos,
        )
    out_leg, in_leg = let.labels
    sizes = square_problem([let.expr.free_dims[in_leg]], [let.expr.free_dims[out_leg]])
    if sizes:
        raise error_at(f"inv({let.name}): {_not_square(sizes)}", target.pos)
    bound = [in_leg, out_leg]
    if node.args is not None:
        if len(node.args) != 2 or any(a.leg is not None or a.dim is not None for a in node.args):
            raise error_at(f"inv({let.name})[a, b] binds two labels (the input leg, then the output leg)", node.pos)
        bound = [str(a.label) for a in node.args]
    rename = {in_leg: bound[0], out_leg: bound[1]}
    for label, pos in ((bound[0], node.pos), (bound[1], node.pos)):
        scope.see_label(label, pos, let.expr.free_dims[in_leg if label == bound[0] else out_leg])
    if bound[0] == bound[1]:
        raise error_at(f"inv({let.name})[a, b] needs two different labels (for a trace, contract it)", node.pos)

    def make() -> tuple[Expr, Callable[[Expr], Op]]:
        inner = relabel_expr(let.expr, rename)
        return inner, (lambda inner: matrix_op("inv", inner, (bound[0],), (bound[1],)))

    return IScopedAtom(node.pos, list(bound), make)
