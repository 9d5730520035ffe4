"""Random instances of declared tensors and user functions.

Entries are Gaussian with variance 1/m (m the largest leg size), so long chains
of contractions stay of order one. Declared properties hold by construction
(exactly, up to rounding): leg symmetries by
:func:`~.symmetric.symmetric_from_free` over the components of
``TensorDecl.leg_symmetry`` (one Gaussian of variance 1/m per orbit of index
tuples, written signed to the whole orbit, so every nonzero entry has the same
variance 1/m as an entry of an unsymmetric tensor and chains keep their scale;
averaging over permutations would shrink the off-diagonal entries of a k-leg
group by k!), map structures (isometry, unitary, invertible, posdef,
projector) from QR factorisations of Gaussian matrices. A structured tensor is a matrix whose rows
are its output legs and whose columns are its input legs, each group flattened
row-major in the declared group order. A ``positive`` tensor is the exponential
of such a sample (log-normal entries around 1, its leg symmetries kept). A
``distribution`` is the exponential of a standard Gaussian divided by its sum over
the distribution legs (:mod:`diagalg.distribution`).

Sizes are drawn by :mod:`.sizes`; :func:`sample_sizes` is re-exported here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import sympy

from ..distribution import distribution_legs, normalise_float
from ..model import FuncDecl, TensorDecl, permutation_sign
from .decls import decl_shape, dim_value, int_subs, map_shape
from .errors import SamplingError, check_memory
from .sizes import SizeDraw, sample_sizes, standin_sizes
from .symmetric import symmetric_from_free

DEFAULT_MEMORY_CAP = 2**30
#: Singular values of sampled invertible maps lie in this range (condition <= 4).
INVERTIBLE_SPREAD = (0.5, 2.0)

__all__ = [
    "DEFAULT_MEMORY_CAP",
    "FuncParams",
    "SizeDraw",
    "gaussian",
    "sample_func",
    "sample_invertible",
    "sample_isometry",
    "sample_posdef",
    "sample_projector",
    "sample_sizes",
    "sample_tensor",
    "sample_unitary",
    "standin_sizes",
    "symmetrize",
]


# --------------------------------------------------------------------------- building blocks


def gaussian(
    shape: Sequence[int], rng: np.random.Generator, complex_: bool = False, variance: float = 1.0
) -> np.ndarray:
    """Independent Gaussian entries of the given variance (float64, or complex128 with
    real and imaginary parts each of variance ``variance / 2``). Always an array, also
    for shape ``()`` (numpy draws a numpy scalar there, which is immutable)."""
    shape = tuple(int(n) for n in shape)
    if complex_:
        scale = math.sqrt(variance / 2)
        return np.asarray((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale)
    draw = np.asarray(rng.standard_normal(shape))
    return draw if variance == 1.0 else draw * math.sqrt(variance)  # unit variance: no second pass


def _haar_q(n_rows: int, n_cols: int, rng: np.random.Generator, complex_: bool) -> np.ndarray:
    """An ``n_rows x n_cols`` matrix with orthonormal columns (``n_cols <= n_rows``),
    Haar distributed (QR of a Gaussian matrix with R's diagonal made positive)."""
    q, r = np.linalg.qr(gaussian((n_rows, n_cols), rng, complex_))
    d = np.diagonal(r)
    phases = np.where(np.abs(d) > 0, d / np.where(np.abs(d) > 0, np.abs(d), 1), 1)
    return q * phases[np.newaxis, :]


def sample_isometry(n_out: int, n_in: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """An ``n_out x n_in`` matrix V with ``V† V = I`` (requires ``n_in <= n_out``)."""
    if n_in > n_out:
        raise SamplingError(f"an isometry from size {n_in} to size {n_out} does not exist ({n_in} > {n_out})")
    return _haar_q(n_out, n_in, rng, complex_)


def sample_unitary(n: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """An ``n x n`` unitary (orthogonal when real) matrix."""
    return _haar_q(n, n, rng, complex_)


def sample_invertible(n: int, rng: np.random.Generator, complex_: bool = False, symmetric: bool = False) -> np.ndarray:
    """A well-conditioned ``n x n`` matrix ``Q1 diag(s) Q2`` with ``s`` in [0.5, 2]
    (condition number <= 4). ``symmetric``: ``Q diag(±s) Qᵀ`` instead (equal to its
    transpose, not conjugate transpose)."""
    lo, hi = INVERTIBLE_SPREAD
    s = rng.uniform(lo, hi, size=n)
    q1 = sample_unitary(n, rng, complex_)
    if symmetric:
        signs = rng.choice([-1.0, 1.0], size=n)
        return (q1 * (s * signs)) @ q1.T
    q2 = sample_unitary(n, rng, complex_)
    return (q1 * s) @ q2


def sample_posdef(n: int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
    """A Hermitian positive definite ``n x n`` matrix ``G G† + I`` (G with entries of
    variance 1/n, so the eigenvalues are at least 1 and of order one)."""
    g = gaussian((n, n), rng, complex_, variance=1.0 / n)
    m = g @ g.conj().T + np.eye(n)
    return (m + m.conj().T) / 2  # exactly Hermitian despite rounding


def sample_projector(n: int, rng: np.random.Generator, complex_: bool = False, rank: int | None = None) -> np.ndarray:
    """An orthogonal projector ``Q Q†`` of size ``n`` (Q an ``n x k`` isometry), with
    rank ``k`` random in 1..n-1 unless given. Requires ``n >= 2``."""
    if n < 2:
        raise SamplingError(f"a projector of rank between 1 and n-1 needs n >= 2, not {n}")
    k = int(rng.integers(1, n)) if rank is None else rank
    if not 1 <= k < n:
        raise SamplingError(f"projector rank {k} is not between 1 and {n - 1}")
    q = _haar_q(n, k, rng, complex_)
    p = q @ q.conj().T
    return (p + p.conj().T) / 2


def symmetrize(arr: np.ndarray, axes: Sequence[int], antisymmetric: bool = False) -> np.ndarray:
    """The average of ``arr`` over every permutation of ``axes`` (signed by the
    permutation's parity when ``antisymmetric``): the projection onto tensors
    symmetric (antisymmetric) in those axes. k! passes for k axes: a tool for
    projecting given arrays, not how tensors are sampled (see
    :func:`~.symmetric.symmetric_from_free`)."""
    axes = list(axes)
    total = np.zeros_like(arr)
    count = 0
    for perm in itertools.permutations(range(len(axes))):
        order = list(range(arr.ndim))
        for src, dst in zip(perm, range(len(axes))):
            order[axes[dst]] = axes[src]
        sign = permutation_sign(perm) if antisymmetric else 1
        total = total + sign * np.transpose(arr, order)
        count += 1
    return total / count


# --------------------------------------------------------------------------- declared tensors


def sample_tensor(
    decl: TensorDecl, sizes: Mapping[sympy.Symbol, int], rng: np.random.Generator, memory_cap: int = DEFAULT_MEMORY_CAP
) -> np.ndarray:
    """A random instance of ``decl``: an array of shape ``decl``'s leg sizes in
    declared leg order, float64 or complex128 (``decl.is_complex``), satisfying
    the declared symmetries and structure. Raises :class:`MemoryCapError` (before
    allocating) when it would exceed ``memory_cap`` bytes, and
    :class:`SamplingError` when the declaration cannot be realised at these sizes.
    """
    shape = decl_shape(decl, int_subs(sizes))
    itemsize = 16 if decl.is_complex else 8
    check_memory(math.prod(shape) * itemsize, memory_cap, f"tensor {decl.name} {list(shape)}")
    if decl.structure is not None:
        return _sample_structured(decl, shape, rng)
    if distribution_legs(decl):  # exp of a standard Gaussian, normalised (diagalg.distribution)
        return normalise_float(decl, gaussian(shape, rng))
    variance = 1.0 / max(shape, default=1)
    if not decl.leg_symmetry:
        arr = gaussian(shape, rng, decl.is_complex, variance=variance)
    else:
        classes = [(tuple(decl.legs.index(leg) for leg in legs), sign) for legs, sign in decl.leg_symmetry]
        arr = symmetric_from_free(
            lambda k: gaussian((k,), rng, decl.is_complex, variance=variance),
            shape,
            classes,
            np.complex128 if decl.is_complex else np.float64,
        )
    # a positive tensor: exp of the sample (log-normal entries around 1; exp keeps leg symmetries)
    return np.exp(arr) if decl.positive else arr


def _sample_structured(decl: TensorDecl, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A structured tensor. Leg symmetries are supported only on a matrix (one
    input and one output leg) symmetric in its two legs and invertible, posdef or
    projector: a real Hermitian matrix is symmetric anyway, a complex Hermitian
    and symmetric one is real (sampled real, stored complex), and a symmetric
    invertible matrix is ``Q diag(±s) Qᵀ``. Anything else raises
    :class:`SamplingError` (the declaration is refused before sampling)."""
    m = map_shape(decl, shape)
    kind, cplx, n = decl.structure, decl.is_complex, m.n_out
    if kind == "isometry":
        mat = sample_isometry(m.n_out, m.n_in, rng, cplx)
    elif kind == "unitary":
        mat = sample_unitary(n, rng, cplx)
    elif kind == "invertible":
        mat = sample_invertible(n, rng, cplx, symmetric=m.symmetric_matrix)
    elif kind == "posdef":
        mat = sample_posdef(n, rng, cplx and not m.symmetric_matrix)
    elif kind == "projector":
        mat = sample_projector(n, rng, cplx and not m.symmetric_matrix)
    else:
        raise SamplingError(f"{decl.name}: unknown structure {kind!r}")
    return m.to_legs(mat.astype(np.complex128) if cplx else mat, decl.legs)


# --------------------------------------------------------------------------- user functions


@dataclass(frozen=True)
class FuncParams:
    """A fixed random analytic map ``y = tanh(W x + c)``: ``W`` is (out, in), ``c`` is (out,).

    Its derivatives are known exactly, so ``f'`` (the Jacobian) and higher derivatives
    are sampled consistently with f: ``∂ᵏ y_b / ∂x_p1 .. ∂x_pk = tanhᵏ(u_b) W[b, p1] .. W[b, pk]``
    with u = W x + c and tanhᵏ the k-th derivative of tanh, a polynomial in tanh."""

    W: np.ndarray
    c: np.ndarray

    def apply(self, x: np.ndarray, axis: int, order: int = 0) -> np.ndarray:
        """The map's ``order``-th derivative along ``axis`` of ``x`` (0: the map itself):
        the output axis comes after the other axes of ``x``, then ``order`` input axes."""
        moved = np.moveaxis(x, axis, -1)
        t = np.tanh(moved @ self.W.T + self.c)
        if order == 0:
            return t
        poly = np.polynomial.Polynomial([0, 1])  # tanh = t, and d/du P(t) = P'(t) (1 - t²)
        for _ in range(order):
            poly = poly.deriv() * np.polynomial.Polynomial([1, 0, -1])
        out = poly(t)
        for _ in range(order):  # one factor W[b, p] per derivative leg
            out = out[..., None] * self.W.reshape(self.W.shape[:1] + (1,) * (out.ndim - moved.ndim) + self.W.shape[1:])
        return out


def sample_func(fdecl: FuncDecl, sizes: Mapping[sympy.Symbol, int], rng: np.random.Generator) -> FuncParams:
    """Parameters of the random map for ``func f[x: n -> y: m]``: W (m, n) and c (m,),
    real Gaussian entries of variance 1/n."""
    subs = int_subs(sizes)
    n_in, n_out = dim_value(fdecl.in_dim, subs), dim_value(fdecl.out_dim, subs)
    return FuncParams(gaussian((n_out, n_in), rng, variance=1.0 / n_in), gaussian((n_out,), rng, variance=1.0 / n_in))
