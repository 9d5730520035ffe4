"""Arrays with prescribed leg symmetries, built from free values by construction.

A *symmetry class* is ``(axes, sign)``: the axes are permuted among themselves
and the array picks up ``sign(σ)`` (sign ``+1``: symmetric, ``-1``:
antisymmetric, ``0``: the array vanishes). :func:`symmetric_from_free` takes
one free value per orbit of index tuples — the sorted (nondecreasing for a
symmetric class, strictly increasing for an antisymmetric one) index tuples
are the orbit representatives — and writes it, signed, to every tuple of its
orbit. Tuples with a repeated index in an antisymmetric class are zero. The
work is a constant number of passes over the array per pair of axes of a
symmetric class (O(k² · entries) for k axes, never the k! passes of averaging
over permutations), and the output holds only free values, their negatives and
zeros, so an exact caller (residues mod p) may reduce afterwards.
Antisymmetric classes are filled by placing each strictly increasing tuple's
value at its k! permutations (work proportional to the nonzero entries).

Nothing here knows about declarations; :mod:`.sample` and the prime-field
sampler map a tensor's declared legs to axes.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

SymmetryClass = tuple[tuple[int, ...], int]

__all__ = ["SymmetryClass", "orbit_count", "orbit_table", "symmetric_from_free", "symmetry_defect"]


def orbit_count(n: int, k: int, sign: int) -> int:
    """The number of orbits (free values) of ``k`` axes of size ``n`` under a class of
    ``sign``: multisets ``C(n+k-1, k)`` when symmetric, subsets ``C(n, k)`` when
    antisymmetric (zero when ``k > n``), none when the class vanishes."""
    if sign == 0:
        return 0
    if k <= 1:
        return n if k == 1 else 1
    return math.comb(n + k - 1, k) if sign > 0 else math.comb(n, k)


def orbit_table(n: int, k: int, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """For every index tuple ``x`` of ``k`` axes of size ``n``: the rank of its orbit
    representative (an int64 array of shape ``(n,)*k``, values in
    ``range(orbit_count(n, k, sign))``) and the factor ``T[x] / T[rep(x)]`` (int8:
    the parity of the sorting permutation for an antisymmetric class, 0 on
    repeated indices; 1 for a symmetric class; 0 everywhere when ``sign == 0``).

    Symmetric: the sorted position of ``x_i`` is ``p_i = #{j: x_j < x_i} +
    #{j < i: x_j = x_i}`` (a stable sort), found by pairwise comparisons on open
    grids (no array of all index tuples is materialised), and the nondecreasing
    representative ``s`` is ranked colexicographically as the strictly
    increasing ``c_p = s_p + p``: ``Σ C(c_p, p+1)``. Antisymmetric: by placement,
    see :func:`_antisymmetric_table`.
    """
    shape = (n,) * k
    if sign == 0 or n == 0:
        return np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int8)
    if sign < 0:
        return _antisymmetric_table(n, k)
    grids = [g.astype(np.int16) for g in np.ogrid[tuple(slice(0, n) for _ in range(k))]]
    width = k + 2
    binom = np.array([[math.comb(c, r) for r in range(width)] for c in range(n + k + 1)], dtype=np.int64)
    rank = np.zeros((1,) * k, dtype=np.int64)
    for i in range(k):
        pos = np.zeros((1,) * k, dtype=np.int16)
        for j in range(k):
            if j != i:
                pos = pos + (grids[j] <= grids[i] if j < i else grids[j] < grids[i])
        # C(x_i + p_i, p_i + 1), looked up in the flattened table
        rank = rank + np.take(binom, (grids[i] + pos).astype(np.int64) * width + pos + 1)
    rank = np.broadcast_to(rank, shape)
    factor = np.ones(shape, dtype=np.int8)
    return np.ascontiguousarray(rank), np.ascontiguousarray(factor)


def _antisymmetric_table(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`orbit_table` for an antisymmetric class, by placement: each strictly
    increasing tuple (rank = its position in lexicographic order) is written to
    its k! permutations with their parities; everything else (a repeated index)
    stays 0. O(k · nonzeros) besides zero-filling the tables."""
    shape = (n,) * k
    rank = np.zeros(n**k, dtype=np.int64)
    factor = np.zeros(n**k, dtype=np.int8)
    n_reps = math.comb(n, k)
    if n_reps == 0:
        return rank.reshape(shape), factor.reshape(shape)
    reps = np.fromiter(
        itertools.chain.from_iterable(itertools.combinations(range(n), k)), dtype=np.int64, count=n_reps * k
    ).reshape(n_reps, k)
    perms = np.fromiter(
        itertools.chain.from_iterable(itertools.permutations(range(k))), dtype=np.int64, count=math.factorial(k) * k
    ).reshape(-1, k)
    inversions = np.zeros(len(perms), dtype=np.int64)
    for i in range(k):
        for j in range(i + 1, k):
            inversions += perms[:, i] > perms[:, j]
    parity = np.where(inversions % 2, -1, 1).astype(np.int8)
    flat = np.zeros((n_reps, len(perms)), dtype=np.int64)
    for t in range(k):  # entry x with x[t] = rep[perm[t]], so x = rep permuted by perm
        flat = flat * n + reps[:, perms[:, t]]
    rank[flat] = np.arange(n_reps, dtype=np.int64)[:, np.newaxis]
    factor[flat] = parity[np.newaxis, :]
    return rank.reshape(shape), factor.reshape(shape)


def _validated(shape: tuple[int, ...], classes: Sequence[SymmetryClass]) -> list[SymmetryClass]:
    """Every axis in exactly one class (unlisted axes become symmetric singletons);
    raises ValueError on overlapping classes, bad axes, bad signs or unequal sizes."""
    seen: set[int] = set()
    out: list[SymmetryClass] = []
    for axes, sign in classes:
        axes = tuple(int(a) for a in axes)
        if sign not in (-1, 0, 1):
            raise ValueError(f"symmetry sign must be -1, 0 or 1, not {sign!r}")
        if not axes:
            raise ValueError("a symmetry class needs at least one axis")
        for a in axes:
            if not 0 <= a < len(shape):
                raise ValueError(f"axis {a} out of range for shape {shape}")
            if a in seen:
                raise ValueError(f"axis {a} is in two symmetry classes")
            seen.add(a)
        if len({shape[a] for a in axes}) > 1:
            raise ValueError(f"axes {axes} of one symmetry class have different sizes {[shape[a] for a in axes]}")
        out.append((axes, sign))
    out.extend(((a,), 1) for a in range(len(shape)) if a not in seen)
    return out


def symmetric_from_free(
    free: Callable[[int], np.ndarray], shape: tuple[int, ...], classes: Sequence[SymmetryClass], dtype: DTypeLike
) -> np.ndarray:
    """An array ``T`` of ``shape`` with ``T[σ·x] = sign(σ)·T[x]`` for every
    permutation σ of the axes of each class ``(axes, sign)`` (sign 0: ``T`` is
    zero), whose entries are free values, their negatives or zero.

    ``free(m)`` must return ``m`` independent values (any dtype castable to
    ``dtype``); it is called exactly once, with ``m`` the number of orbits (the
    product of :func:`orbit_count` over the classes, unlisted axes counting as
    singletons), and not at all when ``m == 0`` (the array is then zero).
    Different orbits get different free values, so the result is as generic as
    the symmetry allows. Each class's axes must share one size. Runs in
    O(k² · entries) for the largest class of k axes.
    """
    shape = tuple(int(s) for s in shape)
    comps = _validated(shape, classes)
    counts = [orbit_count(shape[axes[0]], len(axes), sign) for axes, sign in comps]
    total = math.prod(counts)
    if total == 0 or math.prod(shape) == 0:
        return np.zeros(shape, dtype=dtype)
    values = np.asarray(free(total))
    if values.shape != (total,):
        raise ValueError(f"free({total}) returned shape {values.shape}, not ({total},)")
    arr = values.astype(dtype, copy=False).reshape(counts)
    order: list[int] = []  # the final axis held by each current axis of arr
    pos = 0
    for axes, sign in comps:
        k, n = len(axes), shape[axes[0]]
        if k > 1:
            rank, factor = orbit_table(n, k, sign)
            arr = np.take(arr, rank.reshape(-1), axis=pos)
            arr = arr.reshape(arr.shape[:pos] + (n,) * k + arr.shape[pos + 1 :])
            if sign < 0:
                arr = arr * factor.reshape((1,) * pos + factor.shape + (1,) * (arr.ndim - pos - k)).astype(dtype)
        order.extend(axes)
        pos += k
    return np.ascontiguousarray(np.transpose(arr, np.argsort(order)))


def symmetry_defect(arr: np.ndarray, classes: Sequence[SymmetryClass]) -> float:
    """The largest ``|T[x] - sign·T[τ·x]|`` over the adjacent transpositions τ of each
    class (they generate its permutations), or ``max |T|`` for a class of sign 0:
    zero exactly when ``arr`` has the symmetries. O(k · entries)."""
    arr = np.asarray(arr)
    worst = 0.0
    for axes, sign in classes:
        if sign == 0:
            worst = max(worst, float(np.max(np.abs(arr), initial=0.0)))
            continue
        for a, b in zip(axes, axes[1:]):
            diff = arr - sign * np.swapaxes(arr, a, b)
            worst = max(worst, float(np.max(np.abs(diff), initial=0.0)))
    return worst
