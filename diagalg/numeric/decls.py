"""Reading tensor declarations numerically: map leg groups, concrete shapes, and which
declarations and dimensions a statement uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence, cast

import numpy as np
import sympy

from ..model import Expr, FuncDecl, TensorDecl, dim_symbols_in, funcs_in, tensor_decls_in
from .errors import SamplingError

if TYPE_CHECKING:
    from ..decompose import Decomposition


def map_groups(decl: TensorDecl) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(inputs, outputs)`` of a structured declaration (isometry, unitary, ...).

    Uses the declared groups; when a structure was declared without them, a
    two-leg tensor maps its second leg to its first (``X[i, j]`` maps j to i) and
    a tensor with 2k legs maps its last k legs to its first k. Raises
    :class:`SamplingError` when the groups do not cover every leg exactly once.
    """
    inputs, outputs = decl.inputs, decl.outputs
    if not inputs and not outputs:
        k, rem = divmod(len(decl.legs), 2)
        if rem or k == 0:
            raise SamplingError(f"{decl.name}: {decl.structure} needs its legs split into inputs -> outputs")
        outputs, inputs = decl.legs[:k], decl.legs[k:]
    if sorted(inputs + outputs) != sorted(decl.legs):
        raise SamplingError(
            f"{decl.name}: {decl.structure}({', '.join(inputs)} -> {', '.join(outputs)}) "
            f"does not use each of its legs {', '.join(decl.legs)} exactly once"
        )
    return tuple(inputs), tuple(outputs)


def group_dim(decl: TensorDecl, legs: Sequence[str]) -> sympy.Expr:
    """The dimension of a group of legs (the product of their dimensions)."""
    return sympy.Mul(*(sympy.sympify(decl.leg_dim(leg)) for leg in legs))


def int_subs(sizes: Mapping[sympy.Symbol, int]) -> dict[sympy.Symbol, sympy.Integer]:
    """A sympy substitution giving each symbol its drawn size."""
    return {s: sympy.Integer(int(v)) for s, v in sizes.items()}


def dim_value(dim: sympy.Expr, subs: Mapping[sympy.Symbol, sympy.Expr]) -> int:
    """The size of dimension expression ``dim`` under ``subs`` (see :func:`int_subs`).

    Raises :class:`SamplingError` when a symbol has no size or the value is not a
    positive integer.
    """
    value = sympy.sympify(dim).xreplace(subs)
    if value.free_symbols:
        names = ", ".join(sorted(str(s) for s in value.free_symbols))
        raise SamplingError(f"no size was drawn for dimension {names}")
    value = sympy.nsimplify(value) if not value.is_Integer else value
    if not value.is_Integer or int(value) < 1:
        raise SamplingError(f"dimension {dim} has size {value}, not a positive integer")
    return int(value)


def decl_shape(decl: TensorDecl, subs: Mapping[sympy.Symbol, sympy.Expr]) -> tuple[int, ...]:
    """The concrete shape of ``decl`` (declared leg order)."""
    return tuple(dim_value(d, subs) for d in decl.dims)


def collect(exprs: Iterable[Expr]) -> tuple[dict[str, TensorDecl], dict[str, FuncDecl], set[sympy.Symbol]]:
    """Tensor declarations, user functions and dimension symbols used by ``exprs``."""
    decls: dict[str, TensorDecl] = {}
    funcs: dict[str, FuncDecl] = {}
    syms: set[sympy.Symbol] = set()
    for e in exprs:
        decls.update(tensor_decls_in(e))
        funcs.update(funcs_in(e))
        syms |= dim_symbols_in(e)
    # a factor of a stated decomposition is computed from its target: sample the target too
    todo = [d for d in decls.values() if d.origin is not None]
    while todo:
        origin = cast("Decomposition", todo.pop().origin)  # not None: todo holds factors only
        target = origin.target
        for _, dim in origin.bonds:
            syms |= sympy.sympify(dim).free_symbols
        if target.name not in decls:
            decls[target.name] = target
            if target.origin is not None:
                todo.append(target)
        for dim in target.dims:
            syms |= sympy.sympify(dim).free_symbols
    for f in funcs.values():
        syms |= sympy.sympify(f.in_dim).free_symbols | sympy.sympify(f.out_dim).free_symbols
    return decls, funcs, syms


@dataclass(frozen=True)
class MapShape:
    """A structured tensor read as a matrix: its input and output leg groups, their
    sizes at one draw, and whether it is a matrix symmetric in its two legs (the one
    leg symmetry a map structure may carry)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    size: dict[str, int]
    n_in: int
    n_out: int
    symmetric_matrix: bool

    def to_legs(self, mat: np.ndarray, legs: Sequence[str]) -> np.ndarray:
        """The ``n_out x n_in`` matrix ``mat`` (rows the output group, columns the input
        group, each flattened row-major in group order) as an array in ``legs`` order."""
        order = self.outputs + self.inputs
        grouped = mat.reshape(tuple(self.size[leg] for leg in order))
        return np.ascontiguousarray(np.transpose(grouped, [order.index(leg) for leg in legs]))


def map_shape(decl: TensorDecl, shape: Sequence[int]) -> MapShape:
    """The :class:`MapShape` of a structured declaration at the sizes ``shape``, as the
    float and the exact samplers both need it. Raises :class:`SamplingError` when the
    map cannot exist at these sizes (a square structure with unequal sides) or carries
    leg symmetries the samplers cannot honour exactly."""
    inputs, outputs = map_groups(decl)
    size = dict(zip(decl.legs, (int(n) for n in shape)))
    n_in = math.prod(size[leg] for leg in inputs)
    n_out = math.prod(size[leg] for leg in outputs)
    kind = decl.structure
    if kind != "isometry" and n_in != n_out:
        raise SamplingError(f"{decl.name}: a {kind} map needs equal input and output sizes, not {n_in} and {n_out}")
    symmetric_matrix = decl.symmetric_matrix and kind in ("invertible", "posdef", "projector")
    if decl.leg_symmetry and not symmetric_matrix:
        raise SamplingError(f"{decl.name}: sampling a {kind} tensor with leg symmetries is not supported")
    return MapShape(inputs, outputs, size, n_in, n_out, symmetric_matrix)
