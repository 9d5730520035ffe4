"""Binding declared tensors to arrays: ``weights "model.npz"`` and ``--weights``.

An ``.npz`` file binds each of its arrays to the declared tensor of the same
name; an ``.npy`` file binds its one array to the tensor named like the file's
stem. Files are read with ``allow_pickle=False``. Shapes are checked against the
declarations, leg by leg: a concrete dimension must match, a symbolic one is
bound to the array's size (the same symbol must get the same size everywhere),
and a product dimension must come out right. Declared properties are checked
too (symmetric, antisymmetric, positive, isometry, unitary, projector, posdef,
invertible), because the symbolic rules rely on them. Every failure is a
:class:`WeightsError` whose message names the file, the array and what is wrong.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import sympy

from .dims import DimEnv
from .distribution import distribution_legs
from .distribution import violation as distribution_violation
from .model import TensorDecl

__all__ = ["Binding", "WeightsError", "load_arrays", "bind", "bind_file"]

PROPERTY_TOL = 1e-6


class WeightsError(ValueError):
    """A weights file that cannot be bound (the message says why)."""


@dataclass
class Binding:
    """Arrays bound to declared tensors, and the dimension sizes they fix."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    sizes: dict[sympy.Symbol, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # tensor -> file it came from

    def __bool__(self) -> bool:
        return bool(self.arrays)


def load_arrays(path: str | Path, shown: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (by name) or ``.npy`` file (by the file's stem).
    ``shown`` is how messages name the file (default: ``path`` as given)."""
    p = Path(path)
    name = shown if shown is not None else str(path)
    if not p.is_file():
        raise WeightsError(f"no such weights file: {name}")
    with open(p, "rb") as fh:
        magic = fh.read(6)
    is_npy = magic == b"\x93NUMPY"
    if not is_npy and not zipfile.is_zipfile(p):
        raise WeightsError(f"{name}: not a readable .npz/.npy file")
    try:
        if is_npy:
            return {p.stem: np.load(p, allow_pickle=False)}
        with np.load(p, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except ValueError as e:  # object arrays need pickles, which are refused
        raise WeightsError(f"{name}: cannot be read without pickles ({str(e).split('.')[0]})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise WeightsError(f"{name}: not a readable .npz/.npy file ({e})") from None


def bind(
    arrays: Mapping[str, np.ndarray],
    tensors: Mapping[str, TensorDecl],
    env: DimEnv,
    source: str,
    into: Binding | None = None,
) -> Binding:
    """Bind ``arrays`` to the declarations in ``tensors`` (adding to ``into``).

    Promise: every bound array has exactly its declaration's shape under the
    returned sizes, a numeric dtype (real unless the tensor is complex) and the
    declared properties up to a relative 1e-6.
    """
    out = into if into is not None else Binding()
    sizes = dict(out.sizes)
    concrete = env.concrete_subs()
    for name in sorted(arrays):
        if name not in tensors:
            known = ", ".join(sorted(tensors)) or "none"
            raise WeightsError(f"{source}: array '{name}' matches no declared tensor (declared: {known})")
        decl = tensors[name]
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in "biufc":
            raise WeightsError(f"{source}: array '{name}' has dtype {arr.dtype}, not numbers")
        if arr.dtype.kind == "c" and not decl.is_complex:
            raise WeightsError(
                f"{source}: array '{name}' is complex but tensor {name} is declared real "
                "(add `complex` to its declaration)"
            )
        if arr.ndim != len(decl.legs):
            raise WeightsError(
                f"{source}: array '{name}' has {arr.ndim} axes {arr.shape}; tensor {name} has "
                f"{len(decl.legs)} legs [{', '.join(decl.legs)}]"
            )
        _bind_shape(decl, arr.shape, sizes, concrete, source)
        out.arrays[name] = arr.astype(np.complex128 if decl.is_complex else np.float64)
        out.sources[name] = source
    # product dimensions whose symbols were bound by later arrays: check again
    for name in arrays:
        _bind_shape(tensors[name], np.shape(arrays[name]), sizes, concrete, source)
    out.sizes = sizes
    for name in sorted(arrays):
        problem = property_violation(tensors[name], out.arrays[name])
        if problem:
            raise WeightsError(f"{source}: array '{name}' {problem}")
    return out


def bind_file(
    path: str | Path, shown: str, tensors: Mapping[str, TensorDecl], env: DimEnv, into: Binding | None = None
) -> Binding:
    """Read the ``.npz``/``.npy`` file at ``path`` and bind its arrays to ``tensors``
    (adding to ``into``), as a ``weights`` statement does: messages name the file as
    ``shown`` (as the statement wrote it). Raises :class:`WeightsError`."""
    return bind(load_arrays(path, shown), tensors, env, shown, into)


def _bind_shape(
    decl: TensorDecl,
    shape: tuple[int, ...],
    sizes: dict[sympy.Symbol, int],
    concrete: Mapping[sympy.Symbol, sympy.Expr],
    source: str,
) -> None:
    for leg, dim, size in zip(decl.legs, decl.dims, shape):
        d = sympy.sympify(dim).xreplace(concrete)
        d = d.xreplace({s: sympy.Integer(v) for s, v in sizes.items()})
        if d.is_Integer:
            if int(d) != size:
                raise WeightsError(
                    f"{source}: array '{decl.name}' has shape {tuple(shape)}, but leg {leg} of "
                    f"{decl.name} has dimension {dim} = {int(d)}, not {size}"
                )
        elif d.is_Symbol:
            sizes[d] = int(size)
        # a product of unbound symbols: checked on the second pass, once they are bound


def property_violation(decl: TensorDecl, arr: np.ndarray) -> str:
    """Why ``arr`` does not have ``decl``'s declared properties ("" when it does)."""
    from .numeric.decls import map_groups
    from .numeric.symmetric import symmetry_defect

    scale = max(1.0, float(np.abs(arr).max()) if arr.size else 1.0)
    legs = list(decl.legs)
    for group, sign in decl.leg_symmetry:  # overlapping groups checked as the component they form
        axes = tuple(legs.index(l) for l in group)
        if symmetry_defect(arr, [(axes, sign)]) > PROPERTY_TOL * scale:
            what = {1: "symmetric", -1: "antisymmetric", 0: "zero (its leg symmetries force it)"}[sign]
            return f"is not {what} in legs {', '.join(group)} as declared"
    if decl.positive and (np.iscomplexobj(arr) or not bool(np.all(arr > 0))):
        return "is not positive as declared (every entry a positive real)"
    if distribution_legs(decl):
        return distribution_violation(decl, arr)
    if decl.structure is None:
        return ""
    inputs, outputs = map_groups(decl)
    order = [legs.index(l) for l in outputs + inputs]
    rows = int(np.prod([arr.shape[legs.index(l)] for l in outputs]))
    m = np.transpose(arr, order).reshape(rows, -1)
    eye = np.eye(m.shape[1])
    kind = decl.structure
    if kind in ("isometry", "unitary"):
        err = np.abs(m.conj().T @ m - eye).max()
        if kind == "unitary" and m.shape[0] != m.shape[1]:
            return "is not square, so it cannot be unitary"
        if err > PROPERTY_TOL:
            return f"is not an {kind} as declared: max |V†V - I| = {err:.2g}"
    elif kind == "projector":
        err = max(np.abs(m @ m - m).max(), np.abs(m.conj().T - m).max())
        if err > PROPERTY_TOL * scale:
            return f"is not a projector as declared (P P = P, P† = P): max error {err:.2g}"
    elif kind == "posdef":
        if np.abs(m.conj().T - m).max() > PROPERTY_TOL * scale or np.linalg.eigvalsh(m).min() <= 0:
            return "is not Hermitian positive definite as declared"
    elif kind == "invertible":
        if m.shape[0] != m.shape[1] or np.linalg.cond(m) > 1e12:
            return "is not invertible as declared (singular or ill-conditioned)"
    return ""
