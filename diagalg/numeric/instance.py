"""A numeric instance: sizes, tensor arrays and function parameters, with caches."""

from __future__ import annotations

import cmath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from ..model import IndexOp, TensorOp
from .decls import dim_value, int_subs
from .errors import NumericError, SamplingError
from .sample import DEFAULT_MEMORY_CAP, FuncParams

if TYPE_CHECKING:
    from .factorise import FactorReport


class SizeLookup:
    """Sizes of dimension expressions at one size draw, cached: what the float
    :class:`Instance` and the exact ``FieldInstance`` share. A subclass has ``sizes``
    (symbol -> size) and implements ``_bucket(name)``, a cache dict per name."""

    sizes: dict[sympy.Symbol, int]

    def _bucket(self, name: str) -> dict[Any, Any]:
        raise NotImplementedError

    def _subs(self) -> dict[sympy.Symbol, sympy.Integer]:
        bucket = self._bucket("subs")
        if "subs" not in bucket:
            bucket["subs"] = int_subs(self.sizes)
        return bucket["subs"]

    def size(self, dim: sympy.Expr) -> int:
        """The size of a dimension expression."""
        bucket = self._bucket("sizes")
        if dim not in bucket:
            bucket[dim] = dim_value(dim, self._subs())
        return bucket[dim]

    def onehot(self, op: IndexOp) -> np.ndarray:
        """The basis vector ``onehot(v)`` at this draw's size (0/1 entries, exact in either
        path); :class:`NumericError` when v is outside the dimension."""
        n = self.size(op.dim)
        if not 0 <= op.value < n:
            raise NumericError(
                f"onehot({op.value}) is outside a dimension of size {n} in this check "
                "(a stand-in size? set it with --dims)"
            )
        out = np.zeros(n)
        out[op.value] = 1.0
        return out


@dataclass
class Instance(SizeLookup):
    """Everything an expression needs to be evaluated.

    ``sizes``: every dimension symbol's size; ``arrays``: each tensor's array in
    declared leg order; ``funcs``: each user function's parameters;
    ``memory_cap``: bytes any single array may take. Derived arrays (``inv``,
    ``conj``), sizes and coefficients are cached per instance.
    """

    sizes: dict[sympy.Symbol, int]
    arrays: dict[str, np.ndarray]
    funcs: dict[str, FuncParams] = field(default_factory=dict)
    memory_cap: int = DEFAULT_MEMORY_CAP
    #: decomposition rule name -> diagalg.numeric.factorise.FactorReport for stated decompositions
    factor_reports: dict[str, FactorReport] = field(default_factory=dict)
    _cache: dict[str, dict[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _bucket(self, name: str) -> dict[Any, Any]:
        return self._cache.setdefault(name, {})

    def scalar(self, value: sympy.Expr) -> float | complex:
        """A coefficient's value with every dimension symbol replaced by its size
        (a float when real, else a complex)."""
        bucket = self._bucket("scalars")
        if value not in bucket:
            v = sympy.sympify(value).xreplace(self._subs())
            if v.free_symbols:
                names = ", ".join(sorted(str(s) for s in v.free_symbols))
                raise SamplingError(f"no size was drawn for {names} (in the coefficient {value})")
            try:
                c = complex(sympy.N(v, 20))
            except (TypeError, ValueError):
                c = complex("nan")
            if not cmath.isfinite(c):
                raise NumericError(f"the coefficient {value} has no finite value at these sizes")
            bucket[value] = c.real if c.imag == 0 else c
        return bucket[value]

    def tensor(self, op: TensorOp) -> np.ndarray:
        """The array of a tensor occurrence, axes in ``op.ports`` order: the declared
        array, conjugated when ``op.conj``, inverted when ``op.inv`` is odd (the
        matrix from the input group to the output group, inverted, so the
        inverse's axes are the input legs followed by the output legs)."""
        key = (op.decl.name, op.conj, op.inv % 2)
        bucket = self._bucket("tensors")
        if key in bucket:
            return bucket[key]
        try:
            arr = self.arrays[op.decl.name]
        except KeyError:
            raise NumericError(f"no array for tensor {op.decl.name}") from None
        if op.conj:
            arr = arr.conj()
        if op.inv % 2:
            arr = _inverse(arr, op)
        bucket[key] = arr
        return arr

    def share_bubbles(self) -> "Instance":
        """Evaluate each distinct bubble once on this instance (worth its hashing when many
        expressions share bubbles, as the terms of a path expansion do). Returns self."""
        self._bucket("bubbles")
        return self

    @property
    def shared_bubbles(self) -> dict | None:
        """The bubble values of an instance that shares them, else None."""
        return self._cache.get("bubbles")

    def with_array(self, name: str, array: np.ndarray) -> "Instance":
        """A copy whose tensor ``name`` has ``array``; caches that do not depend on it are shared."""
        arrays = dict(self.arrays)
        arrays[name] = array
        out = Instance(self.sizes, arrays, self.funcs, self.memory_cap)
        for bucket in ("subs", "sizes", "scalars"):
            out._cache[bucket] = self._bucket(bucket)
        out._cache["tensors"] = {k: v for k, v in self._bucket("tensors").items() if k[0] != name}
        return out


def _inverse(arr: np.ndarray, op: TensorOp) -> np.ndarray:
    decl = op.decl
    inputs, outputs = decl.inputs, decl.outputs
    if not inputs or not outputs:
        raise NumericError(f"inv({decl.name}): {decl.name} declares no input and output legs")
    order = outputs + inputs
    shape = dict(zip(decl.legs, arr.shape))
    n_out = int(np.prod([shape[l] for l in outputs]))
    n_in = int(np.prod([shape[l] for l in inputs]))
    if n_out != n_in:
        raise NumericError(f"inv({decl.name}): {decl.name} maps size {n_in} to size {n_out}, not square")
    mat = np.transpose(arr, [decl.legs.index(l) for l in order]).reshape(n_out, n_in)
    try:
        inv = np.linalg.inv(mat)
    except np.linalg.LinAlgError:
        raise NumericError(f"inv({decl.name}): the sampled {decl.name} is singular") from None
    return inv.reshape(tuple(shape[l] for l in inputs + outputs))
