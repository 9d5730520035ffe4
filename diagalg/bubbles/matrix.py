"""What ``inv`` and ``det`` of an expression share: the leg roles, the matricised value.

``inv[k -> i](E)`` and ``det[k -> i](E)`` read E as a linear map from its legs
``k`` (the inputs) to its legs ``i`` (the outputs), the convention of a
declaration's ``invertible(k -> i)``. Both are :class:`~diagalg.model.BubbleOp`
nodes of kind ``inv``/``det`` with ``axes`` the inputs then the outputs (each in
the order written) and ``param`` the number of inputs; every free label of E
has one role. ``inv`` keeps E's labels (contracting E with its inverse on the
inputs gives the identity on the outputs, and on the outputs the identity on the
inputs), so its value does not depend on which group is called the input: the
inverse of the transposed map is the transposed inverse. ``det`` is a scalar; it
is the same for the two readings (det Mᵀ = det M) but the order of the legs
inside a group permutes rows or columns and may change its sign, so the order
is part of the node.

The matrix of E has rows the outputs and columns the inputs, each flattened
row-major in the order written (numpy's reshape), so that ``det[k, l -> i, j]``
is the determinant of ``group[(i, j) -> r]`` of ``group[(k, l) -> c]`` of E.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy

from ..model import BubbleOp, Expr

MATRIX_KINDS = ("inv", "det")


def roles(op: BubbleOp) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(inputs, outputs) of an ``inv`` or ``det`` node, as written."""
    k = int(sympy.sympify(op.param))
    return tuple(op.axes[:k]), tuple(op.axes[k:])


def matrix_op(kind: str, inner: Expr, inputs: Sequence[str], outputs: Sequence[str]) -> BubbleOp:
    """The ``inv`` or ``det`` node of ``inner`` read as a map ``inputs -> outputs``
    (together every free label of ``inner``, each once; ValueError otherwise)."""
    if kind not in MATRIX_KINDS:
        raise ValueError(f"{kind} is not inv or det")
    ins, outs = tuple(inputs), tuple(outputs)
    if not ins or not outs or sorted(ins + outs) != sorted(inner.labels) or len(set(ins + outs)) != len(ins + outs):
        raise ValueError(f"{kind}: the roles {ins} -> {outs} are not a split of the labels {inner.labels}")
    return BubbleOp(kind, inner, ins + outs, sympy.Integer(len(ins)))


def default_roles(labels: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The roles of a two-leg expression ``E[a, b]`` read as a matrix (rows a, columns
    b): ``b -> a``; None for any other number of legs (the roles must be written)."""
    if len(labels) != 2:
        return None
    return (labels[1],), (labels[0],)


def square_problem(
    dims_in: Sequence[sympy.Expr], dims_out: Sequence[sympy.Expr]
) -> tuple[sympy.Expr, sympy.Expr] | None:
    """(size in, size out) when a map from legs of ``dims_in`` to legs of ``dims_out`` is
    not square: the two products are not one dimension (None when they are)."""
    a, b = sympy.Mul(*dims_in), sympy.Mul(*dims_out)
    if sympy.simplify(a - b) == 0:
        return None
    return a, b


def _split(axes: tuple[int, ...], param: float | complex | int | None) -> tuple[list[int], list[int]]:
    k = int(round(complex(param).real)) if param is not None else 0
    return list(axes[:k]), list(axes[k:])


def matricise(
    x: np.ndarray, axes: tuple[int, ...], param: float | complex | int | None
) -> tuple[np.ndarray, list[int], list[int]]:
    """The matrix of ``x`` (rows the output axes, columns the input axes) and the two axis lists."""
    ins, outs = _split(axes, param)
    rows = int(np.prod([x.shape[a] for a in outs]))
    cols = int(np.prod([x.shape[a] for a in ins]))
    if rows != cols:
        raise ValueError(f"a {rows} × {cols} matrix is not square")
    return np.transpose(x, outs + ins).reshape(rows, cols), ins, outs


def unmatricise(inv: np.ndarray, x_shape: tuple[int, ...], ins: list[int], outs: list[int]) -> np.ndarray:
    """The inverse matrix (rows the inputs, columns the outputs) as an array with the
    axes of ``x`` in their original order."""
    arr = inv.reshape(tuple(x_shape[a] for a in ins) + tuple(x_shape[a] for a in outs))
    return np.transpose(arr, list(np.argsort(ins + outs)))


def det_mod_p(mat: np.ndarray, field: object) -> np.ndarray:
    """The determinant of a square matrix over F_p (F_p[i] for a complex one), by
    Gaussian elimination in Python integers (row swaps flip the sign), canonical."""
    p: int = field.p  # type: ignore[attr-defined]
    c = field.canonical(mat)  # type: ignore[attr-defined]
    n = c.shape[0]
    complex_ = c.dtype.kind == "c"
    if complex_:
        rows = [[(int(v.real), int(v.imag)) for v in row] for row in c]
    else:
        rows = [[(int(v), 0) for v in row] for row in c]

    def mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return (a[0] * b[0] - a[1] * b[1]) % p, (a[0] * b[1] + a[1] * b[0]) % p

    det = (1, 0)
    for col in range(n):
        piv = next((r for r in range(col, n) if rows[r][col] != (0, 0)), None)
        if piv is None:
            det = (0, 0)
            break
        if piv != col:
            rows[col], rows[piv] = rows[piv], rows[col]
            det = ((-det[0]) % p, (-det[1]) % p)
        pv = rows[col][col]
        det = mul(det, pv)
        inv = field.inverse_element(pv if complex_ else pv[0])  # type: ignore[attr-defined]
        inv = inv if complex_ else (inv, 0)
        for r in range(col + 1, n):
            f = mul(rows[r][col], inv)
            if f != (0, 0):
                rows[r] = [((a[0] - mul(f, b)[0]) % p, (a[1] - mul(f, b)[1]) % p) for a, b in zip(rows[r], rows[col])]
    if complex_:
        return np.array(complex(det[0], det[1]))
    return np.array(float(det[0]))


def matrix_text(op: BubbleOp, inner: str, names: dict[str, str]) -> str:
    """How ``inv``/``det`` of an expression prints (``inner`` its argument's text, ``names``
    the printed name of each inner label): ``inv(E)`` for two legs (either reading is
    the same value), ``inv[k, l -> i, j](E)`` otherwise."""
    if len(op.axes) == 2:
        return f"{op.kind}({inner})"
    ins, outs = roles(op)
    return f"{op.kind}[{', '.join(names[l] for l in ins)} -> {', '.join(names[l] for l in outs)}]({inner})"
