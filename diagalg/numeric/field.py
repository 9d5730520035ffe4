"""Random instances of declared tensors over F_p and F_p[i], honouring their
declared properties exactly (as identities mod p, not up to rounding).

* plain tensors: uniform residues in [0, p) (complex: both parts), through
  :func:`~.symmetric.symmetric_from_free` over ``TensorDecl.leg_symmetry`` when
  legs are symmetric or antisymmetric (one uniform value per orbit of index
  tuples; the array holds those values, their negatives and zeros, reduced to
  [0, p) afterwards);
* orthogonal / unitary: the Cayley transform ``Q = (I − A)(I + A)^{-1}`` of an
  antisymmetric (real) or anti-Hermitian (complex) A, which satisfies ``Q† Q = I``
  over any field of characteristic ≠ 2 because I − A and I + A commute and
  ``(I + A)† = I − A``; it has determinant ``det(I − A)/det(I + A)``, which is 1 for
  real A, so half the draws (at random) are multiplied by a Householder
  reflection ``I − 2 v v†/(v† v)`` (determinant −1) to reach both components;
* isometry: the first ``n_in`` columns of an ``n_out × n_out`` orthogonal/unitary;
* projector: ``Q Q†`` for an ``n × k`` isometry Q, k random in 1..n−1;
* posdef: ``G G† + I`` (Hermitian by construction), checked invertible;
* invertible: a uniform matrix checked invertible (symmetric when declared so);
* distribution: uniform residues divided by their sum over the distribution legs,
  a uniform point of the hyperplane where those sums are 1 (see
  :mod:`diagalg.distribution` for why that decides identities on the simplex).

A singular draw (I + A, the Householder norm v† v, a posdef or invertible
matrix with determinant 0 mod p: probability about n/p each) is drawn again.
A structured tensor is a matrix from its input legs (columns) to its output legs
(rows), each group flattened row-major in declared group order, exactly as
:mod:`.sample` lays it out.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import sympy

from ..distribution import distribution_legs, normalise_field
from ..model import TensorDecl
from .decls import decl_shape, int_subs, map_shape
from .errors import SamplingError, check_memory
from .modp import Field
from .sample import DEFAULT_MEMORY_CAP
from .symmetric import symmetric_from_free

#: Draws of a singular matrix tried before giving up (each fails with probability ~n/p).
RETRIES = 20

__all__ = [
    "field_invertible",
    "field_sample",
    "field_isometry",
    "field_orthogonal",
    "field_posdef",
    "field_projector",
    "field_tensor",
]


def _herm(field: Field, m: np.ndarray) -> np.ndarray:
    """The conjugate transpose (the Frobenius map on F_p[i]), canonical."""
    return np.ascontiguousarray(field.conj(m).T)


def _mul(field: Field, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return field.canonical(field.matmul(a, b))


def _eye(n: int, complex_: bool) -> np.ndarray:
    return np.eye(n, dtype=np.complex128 if complex_ else np.float64)


def field_orthogonal(field: Field, n: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """An ``n × n`` matrix Q with ``Q† Q = I`` mod p (orthogonal when real, unitary over
    F_p[i] when complex): a Cayley transform, times a Householder reflection in a
    random half of the draws (see the module docstring)."""
    eye = _eye(n, complex_)
    for _ in range(RETRIES):
        u = field.uniform((n, n), rng, complex_)
        a = field.canonical(u - _herm(field, u))  # A† = −A
        try:
            inv = field.inverse_matrix(field.canonical(eye + a))
        except ZeroDivisionError:
            continue
        q = _mul(field, field.canonical(eye - a), inv)
        if rng.integers(0, 2):
            v = field.uniform((n, 1), rng, complex_)
            norm = _mul(field, _herm(field, v), v)[0, 0]  # v† v, in F_p even for complex v
            if norm == 0:
                continue
            scale = field.inverse_element(int(norm.real))
            h = field.canonical(eye - field.scale(2 * scale, _mul(field, v, _herm(field, v))))
            q = _mul(field, q, h)
        return q
    raise SamplingError(f"no invertible I + A of size {n} mod {field.p} in {RETRIES} draws")


def field_isometry(field: Field, n_out: int, n_in: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """An ``n_out × n_in`` matrix V with ``V† V = I`` mod p (requires ``n_in <= n_out``)."""
    if n_in > n_out:
        raise SamplingError(f"an isometry from size {n_in} to size {n_out} does not exist ({n_in} > {n_out})")
    return np.ascontiguousarray(field_orthogonal(field, n_out, rng, complex_)[:, :n_in])


def field_projector(field: Field, n: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """``Q Q†`` for an ``n × k`` isometry Q, k random in 1..n−1: ``P² = P = P†`` mod p."""
    if n < 2:
        raise SamplingError(f"a projector of rank between 1 and n-1 needs n >= 2, not {n}")
    q = field_isometry(field, n, int(rng.integers(1, n)), rng, complex_)
    return _mul(field, q, _herm(field, q))


def field_posdef(field: Field, n: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """``G G† + I`` (Hermitian mod p), drawn again until invertible mod p."""
    return _posdef_and_inverse(field, n, rng, complex_)[0]


def _posdef_and_inverse(
    field: Field, n: int, rng: np.random.Generator, complex_: bool
) -> tuple[np.ndarray, np.ndarray]:
    for _ in range(RETRIES):
        g = field.uniform((n, n), rng, complex_)
        m = field.canonical(_mul(field, g, _herm(field, g)) + _eye(n, complex_))
        inv = _inverse_or_none(field, m)
        if inv is not None:
            return m, inv
    raise SamplingError(f"no invertible G G† + I of size {n} mod {field.p} in {RETRIES} draws")


def field_invertible(
    field: Field, n: int, rng: np.random.Generator, complex_: bool = False, symmetric: bool = False
) -> np.ndarray:
    """A uniform ``n × n`` matrix (equal to its transpose when ``symmetric``), drawn
    again until invertible mod p."""
    return _invertible_and_inverse(field, n, rng, complex_, symmetric)[0]


def _invertible_and_inverse(
    field: Field, n: int, rng: np.random.Generator, complex_: bool, symmetric: bool
) -> tuple[np.ndarray, np.ndarray]:
    for _ in range(RETRIES):
        m = field.uniform((n, n), rng, complex_)
        if symmetric:
            m = np.triu(m) + np.triu(m, 1).T
        inv = _inverse_or_none(field, m)
        if inv is not None:
            return m, inv
    raise SamplingError(f"no invertible {n} × {n} matrix mod {field.p} in {RETRIES} draws")


def _inverse_or_none(field: Field, m: np.ndarray) -> np.ndarray | None:
    try:
        return field.inverse_matrix(m)
    except ZeroDivisionError:
        return None


def field_tensor(
    decl: TensorDecl,
    sizes: Mapping[sympy.Symbol, int],
    rng: np.random.Generator,
    field: Field,
    memory_cap: int = DEFAULT_MEMORY_CAP,
) -> np.ndarray:
    """A random instance of ``decl`` over F_p (see :func:`field_sample`)."""
    return field_sample(decl, sizes, rng, field, memory_cap)[0]


def field_sample(
    decl: TensorDecl,
    sizes: Mapping[sympy.Symbol, int],
    rng: np.random.Generator,
    field: Field,
    memory_cap: int = DEFAULT_MEMORY_CAP,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random instance of ``decl`` over F_p (complex128 over F_p[i] when
    ``decl.is_complex``): shape the leg sizes in declared leg order, entries
    canonical residues, the declared symmetries and structure exact mod p. Raises
    :class:`MemoryCapError` before allocating past ``memory_cap`` and
    :class:`SamplingError` when the declaration cannot be realised (as
    :func:`~.sample.sample_tensor` does).

    Also returns the inverse when the sampling already knows it (the check of an
    invertible or posdef draw computes it, a unitary's is its conjugate transpose),
    as ``inv(decl)``'s array: axes the declared input legs, then the output legs;
    None otherwise."""
    shape = decl_shape(decl, int_subs(sizes))
    itemsize = 16 if decl.is_complex else 8
    check_memory(math.prod(shape) * itemsize, memory_cap, f"tensor {decl.name} {list(shape)}")
    if decl.structure is not None:
        return _structured(decl, shape, rng, field)
    if distribution_legs(decl):  # uniform on the hyperplane where the sums are 1 (diagalg.distribution)
        return normalise_field(decl, field, shape, rng), None
    if not decl.leg_symmetry:
        return field.uniform(shape, rng, decl.is_complex), None
    classes = [(tuple(decl.legs.index(leg) for leg in legs), sign) for legs, sign in decl.leg_symmetry]
    dtype = np.complex128 if decl.is_complex else np.float64
    arr = symmetric_from_free(lambda k: field.uniform((k,), rng, decl.is_complex), shape, classes, dtype)
    return field.canonical(arr), None


def _structured(
    decl: TensorDecl, shape: tuple[int, ...], rng: np.random.Generator, field: Field
) -> tuple[np.ndarray, np.ndarray | None]:
    """A structured tensor, with the leg symmetries :mod:`.sample` supports on one (a
    matrix symmetric in its two legs: a complex Hermitian and symmetric matrix is real,
    so it is sampled real and stored complex)."""
    m = map_shape(decl, shape)
    kind, cplx, n = decl.structure, decl.is_complex, m.n_out
    inv = None
    if kind == "isometry":
        mat = field_isometry(field, m.n_out, m.n_in, rng, cplx)
    elif kind == "unitary":
        mat = field_orthogonal(field, n, rng, cplx)
        inv = _herm(field, mat)
    elif kind == "invertible":
        mat, inv = _invertible_and_inverse(field, n, rng, cplx, m.symmetric_matrix)
    elif kind == "posdef":
        mat, inv = _posdef_and_inverse(field, n, rng, cplx and not m.symmetric_matrix)
    elif kind == "projector":
        mat = field_projector(field, n, rng, cplx and not m.symmetric_matrix)
    else:
        raise SamplingError(f"{decl.name}: unknown structure {kind!r}")
    if cplx:
        mat = mat.astype(np.complex128)
        inv = None if inv is None else inv.astype(np.complex128)
    arr = m.to_legs(mat, decl.legs)
    if inv is not None and (decl.inputs, decl.outputs) == (m.inputs, m.outputs):
        # inv(X) has the input legs then the output legs (TensorOp.ports under an odd inv)
        return arr, inv.reshape(tuple(m.size[leg] for leg in m.inputs + m.outputs))
    return arr, None
