"""Exact arithmetic modulo a prime on float64 / complex128 arrays.

The exact oracle (:mod:`.exact`) evaluates statements on random elements of
F_p (real tensors) and F_p[i] (complex tensors), for a prime p < 2^21 with
p ≡ 3 (mod 4), so that i² = −1 is irreducible and F_p[i] is a field whose
Frobenius map a + bi → a − bi is the conjugation.

Representation. A residue is an integer held exactly in a float64 (a complex128
holds one in each part). Sampled arrays hold canonical residues in [0, p);
intermediate results are only kept *reduced*: every part an integer with
|x| <= p − 1 (:func:`reduce` leaves the balanced residue, |x| <= p/2 + 4).
:func:`canonical` maps to [0, p) for comparisons.

Why BLAS stays exact. float64 represents every integer of magnitude <= 2^53, and
a sum or product of such integers is computed exactly when the exact result is
again of magnitude <= 2^53 (also with fused multiply-adds, and in any order of
summation). Reduced operands have |a|, |b| <= p − 1 < 2^21, so each product has
|a·b| <= (p − 1)² < 2^42. A real matmul whose summed index has length k has
partial sums (in whatever order BLAS adds) of magnitude <= k·(p − 1)²; a complex
one has, in its imaginary part ``Σ a_k d_k + b_k c_k``, partial sums of at most
2k terms of that size (the real part ``Σ a_k c_k − b_k d_k`` likewise). So a
contraction is exact when its summed length per BLAS call is at most

    chunk = floor((2^53 − 2^21) / (m · (p − 1)²)),   m = 1 real, 2 complex,

which is 2048 (real) and 1024 (complex) for every p < 2^21 (``Field.chunk``);
the 2^21 of slack keeps :func:`reduce` exact (below). A longer summed index is
split into chunks of that length, each partial product reduced before the next
is added. The bound is tight, measured at p = 2097143 (the largest allowed
prime) with entries in [p − 500, p) on OpenBLAS: one unchunked matmul is exact
up to a summed length of 2048 and wrong from 2100 on (complex: exact at 1024,
wrong at 1100); chunked, a 6000-long real and a 3000-long complex contraction
agree with Python integer arithmetic (``tests/test_exact.py``). int64 matmul
would avoid the bound but runs an order of magnitude slower (no BLAS).

:func:`reduce` computes ``x − p·rint(x/p)`` with ``x/p`` as ``x · fl(1/p)``: for
|x| <= 2^53 − 2^21 the computed quotient is within 2^-19 of x/p (two roundings of
relative size 2^-53 on a value below 2^33), so the rounded quotient q has
|x − q·p| <= p/2 + 4, and q·p (|q·p| <= |x| + p <= 2^53) and the difference are
exact. It is four passes over the array, about 20 times faster than ``np.mod``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, overload

import numpy as np

from .contract import plan_contraction
from .errors import NumericError
from .plan import Order, run_order, ssa_of_linear

#: Exactly representable integers in float64 have magnitude at most this.
EXACT_LIMIT = 2**53
#: The slack below EXACT_LIMIT that a matmul result must keep for :func:`reduce` to be exact.
REDUCE_SLACK = 2**21
#: Largest prime allowed (exclusive), so products of residues stay below 2^42.
PRIME_LIMIT = 2**21
PRIME_FLOOR = 2**20
#: Matrices up to this size (complex: twice their size) are inverted in Python integers.
SMALL_INVERSE = 8

Element = int | tuple[int, int]  # a residue of F_p, or a + b·i of F_p[i] as (a, b)


class ExactUnavailable(NumericError):
    """The exact path cannot evaluate this statement at these sizes (an irrational
    coefficient, a denominator divisible by p, an operation without an exact meaning)."""


class DenominatorVanishes(ExactUnavailable):
    """A coefficient's denominator is divisible by the prime: another prime may work."""


# --------------------------------------------------------------------------- primes


def is_prime(n: int) -> bool:
    """Deterministic Miller–Rabin: the bases 2, 3, 5, 7 decide every n < 3 215 031 751."""
    if n < 2:
        return False
    for q in (2, 3, 5, 7):
        if n % q == 0:
            return n == q
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime_3mod4(n: int) -> int:
    """The smallest prime ``q >= n`` with ``q ≡ 3 (mod 4)`` and ``q < 2^21``, wrapping
    around to 2^20 past the top of the range."""
    q = n + (3 - n) % 4
    while True:
        if q >= PRIME_LIMIT:
            q = PRIME_FLOOR + 3
        if is_prime(q):
            return q
        q += 4


def draw_primes(rng: np.random.Generator, count: int = 2, avoid: Sequence[int] = ()) -> tuple[int, ...]:
    """``count`` different primes ≡ 3 (mod 4) in [2^20, 2^21), each the next such prime
    after a random odd number of that range (deterministic given ``rng``), none in ``avoid``."""
    out: list[int] = []
    while len(out) < count:
        q = next_prime_3mod4(int(rng.integers(PRIME_FLOOR // 2, PRIME_LIMIT // 2)) * 2 + 1)
        if q not in out and q not in avoid:
            out.append(q)
    return tuple(out)


# --------------------------------------------------------------------------- the field


@dataclass(frozen=True)
class Field:
    """F_p and F_p[i] for a prime ``p`` ≡ 3 (mod 4) below 2^21."""

    p: int

    def __post_init__(self) -> None:
        if not (2 < self.p < PRIME_LIMIT and self.p % 4 == 3 and is_prime(self.p)):
            raise ValueError(f"{self.p} is not a prime ≡ 3 (mod 4) below 2^21")

    def chunk(self, complex_: bool) -> int:
        """The longest summed index one BLAS call may take (see the module docstring)."""
        return (EXACT_LIMIT - REDUCE_SLACK) // ((2 if complex_ else 1) * (self.p - 1) ** 2)

    # ---- scalars

    def element(self, num: int, den: int = 1, im_num: int = 0, im_den: int = 1) -> Element:
        """The residue of ``num/den + (im_num/im_den)·i``; raises :class:`DenominatorVanishes`
        when a denominator is divisible by p."""
        p = self.p
        if den % p == 0 or im_den % p == 0:
            raise DenominatorVanishes(f"a denominator is divisible by the prime {p}")
        re = num * pow(den, -1, p) % p
        if im_num % p == 0:
            return re
        return (re, im_num * pow(im_den, -1, p) % p)

    @overload
    def inverse_element(self, x: int) -> int: ...

    @overload
    def inverse_element(self, x: tuple[int, int]) -> tuple[int, int]: ...

    def inverse_element(self, x: Element) -> Element:
        """``1/x`` in F_p or F_p[i]; ZeroDivisionError for zero."""
        p = self.p
        if isinstance(x, tuple):
            a, b = x
            norm = (a * a + b * b) % p  # nonzero for x != 0: −1 is not a square mod p
            if norm == 0:
                raise ZeroDivisionError("zero has no inverse")
            inv = pow(norm, -1, p)
            return (a * inv % p, -b * inv % p)
        if x % p == 0:
            raise ZeroDivisionError("zero has no inverse")
        return pow(x, -1, p)

    # ---- arrays

    def reduce(self, x: np.ndarray) -> np.ndarray:
        """The balanced residues of ``x`` (float64 or complex128 of integer parts with
        magnitude <= 2^53 − 2^21), as a new array: every part an integer r with
        |r| <= p/2 + 4 and r ≡ x (mod p) (see the module docstring for why it is exact)."""
        x = np.asarray(x)
        shape, complex_ = x.shape, x.dtype.kind == "c"
        flat = np.ascontiguousarray(x).reshape(-1)  # 1-D: a 0-d array would compute scalars
        view = flat.view(np.float64) if complex_ else flat.astype(np.float64, copy=False)
        q = view * (1.0 / self.p)
        np.rint(q, out=q)
        q *= self.p
        np.subtract(view, q, out=q)
        return (q.view(np.complex128) if complex_ else q).reshape(shape)

    def canonical(self, x: np.ndarray) -> np.ndarray:
        """``x`` (integer parts of magnitude <= 2^53 − 2^21) with every part in [0, p)."""
        r = self.reduce(x)  # a new contiguous array: its flat view can be shifted in place
        flat = r.reshape(-1)
        v = flat.view(np.float64) if r.dtype.kind == "c" else flat
        v += np.where(v < 0, float(self.p), 0.0)
        return r

    def uniform(self, shape: Sequence[int] | int, rng: np.random.Generator, complex_: bool = False) -> np.ndarray:
        """Independent uniform residues in [0, p) (complex: both parts)."""
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
        re = rng.integers(0, self.p, size=shape).astype(np.float64)
        if not complex_:
            return re
        out = np.empty(shape, dtype=np.complex128)
        out.real = re
        out.imag = rng.integers(0, self.p, size=shape)
        return out

    def scale(self, coeff: Element, arr: np.ndarray) -> np.ndarray:
        """``coeff · arr`` reduced (``coeff`` any integer, or (a, b) for a + b·i)."""
        if isinstance(coeff, tuple):
            a, b = (int(c) % self.p for c in coeff)
            if b == 0:
                coeff = a
            else:
                return self.reduce(np.asarray(arr) * complex(self._balanced(a), self._balanced(b)))
        c = self._balanced(int(coeff) % self.p)
        if c == 1:
            return arr
        return self.reduce(np.asarray(arr) * float(c))

    def _balanced(self, r: int) -> int:
        return r - self.p if r > self.p // 2 else r

    def multiply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The elementwise product, reduced (|a·b| < 2p² for complex parts: exact)."""
        return self.reduce(np.multiply(a, b))

    def power(self, x: np.ndarray, k: int) -> np.ndarray:
        """Elementwise ``x**k`` for an integer ``k >= 0`` (``x**0`` is 1, also at 0), by
        repeated squaring with a reduction after every product."""
        if k < 0:
            raise ValueError("a negative power has no polynomial meaning")
        result = np.ones_like(x)
        base = x
        while k:
            if k & 1:
                result = self.multiply(result, base)
            k >>= 1
            if k:
                base = self.multiply(base, base)
        return result

    def conj(self, x: np.ndarray) -> np.ndarray:
        """The Frobenius map a + bi → a − bi, canonical."""
        if x.dtype.kind != "c":
            return x
        return self.canonical(np.conj(x))

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` (2-D or batched 3-D, reduced entries) reduced, the summed axis split
        into chunks of :meth:`chunk` so that every BLAS partial sum is exact."""
        if a.dtype.kind == "c" and b.dtype.kind != "c":
            return self._complex_real(a, b)
        if b.dtype.kind == "c" and a.dtype.kind != "c":
            # a real a times b: one real matmul on b's parts side by side (half the work of
            # promoting a to complex), and products of a real and a residue part: the real bound
            bv = np.ascontiguousarray(b).view(np.float64)
            out = self._chunked_matmul(a, bv, self.chunk(False))
            return np.ascontiguousarray(out).view(np.complex128)
        chunk = self.chunk(a.dtype.kind == "c")
        return self._chunked_matmul(a, b, chunk)

    def _complex_real(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        chunk = self.chunk(False)
        out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=np.complex128)
        out.real = self._chunked_matmul(np.ascontiguousarray(a.real), b, chunk)
        out.imag = self._chunked_matmul(np.ascontiguousarray(a.imag), b, chunk)
        return out

    def _chunked_matmul(self, a: np.ndarray, b: np.ndarray, chunk: int) -> np.ndarray:
        """``a @ b`` reduced, in BLAS calls over at most ``chunk`` of the summed axis each;
        the reduced partial products add up to less than (k/chunk)·p: exact."""
        k = a.shape[-1]
        if k <= chunk:
            return self.reduce(np.matmul(a, b))
        total = None
        for s in range(0, k, chunk):
            part = self.reduce(np.matmul(a[..., s : s + chunk], b[..., s : s + chunk, :]))
            total = part if total is None else total + part
        assert total is not None  # k > chunk: at least one chunk
        return self.reduce(total)

    def sum_axes(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        """The sum over ``axes``, reduced (a sum of n reduced values is below n·p, exact for
        n < 2^32; longer sums are split)."""
        if not axes:
            return x
        keep = [ax for ax in range(x.ndim) if ax not in axes]
        moved = np.transpose(x, keep + list(axes))
        n = math.prod(x.shape[ax] for ax in axes)
        flat = moved.reshape(moved.shape[: len(keep)] + (n,))
        step = (EXACT_LIMIT - REDUCE_SLACK) // self.p
        total = None
        for s in range(0, n, step):
            part = self.reduce(flat[..., s : s + step].sum(axis=-1))
            total = part if total is None else self.reduce(total + part)
        return total if total is not None else np.zeros(moved.shape[: len(keep)], dtype=x.dtype)

    def inverse_matrix(self, m: np.ndarray) -> np.ndarray:
        """The inverse of a square matrix over F_p (real) or F_p[i] (complex), canonical,
        by Gauss–Jordan elimination on balanced residues (an entry is zero mod p exactly
        when it is 0, since |r| < p), reduced after every elimination step: the update
        ``a − f·r`` of reduced entries stays below p² + p in magnitude, exact. Raises
        ZeroDivisionError when the matrix is singular mod p."""
        n = m.shape[0]
        complex_ = m.dtype.kind == "c"
        if (2 * n if complex_ else n) <= SMALL_INVERSE:
            return self._small_inverse(m)
        aug = np.concatenate([self.reduce(m), np.eye(n, dtype=m.dtype)], axis=1)
        for col in range(n):
            pivots = np.flatnonzero(aug[col:, col])
            if not len(pivots):
                raise ZeroDivisionError("the matrix is singular")
            r = col + int(pivots[0])
            if r != col:
                aug[[col, r]] = aug[[r, col]]
            pv = aug[col, col]
            inv = self.inverse_element((int(pv.real), int(pv.imag)) if complex_ else int(pv))
            row = self.scale(inv, aug[col])
            factors = aug[:, col].copy()
            factors[col] = 0
            aug = self.reduce(aug - np.multiply.outer(factors, row))
            aug[col] = row
        return self.canonical(aug[:, n:])

    def _small_inverse(self, m: np.ndarray) -> np.ndarray:
        """:meth:`inverse_matrix` in Python integers (faster than numpy calls per column for
        small matrices). A complex A + B·i is inverted as the real block matrix
        [[A, −B], [B, A]], whose inverse is [[C, −D], [D, C]] for (A + B·i)^{-1} = C + D·i;
        it is invertible exactly when A + B·i is (its determinant is the norm of
        det(A + B·i), nonzero for a nonzero element since −1 is not a square mod p)."""
        p, n = self.p, m.shape[0]
        c = self.canonical(m)
        if c.dtype.kind == "c":
            a, b = c.real.astype(np.int64), c.imag.astype(np.int64)
            block = np.block([[a, (-b) % p], [b, a]])
            inv = np.array(_gauss_jordan(block.tolist(), p), dtype=np.float64)
            return inv[:n, :n] + 1j * inv[n:, :n]
        return np.array(_gauss_jordan(c.astype(np.int64).tolist(), p), dtype=np.float64).reshape(n, n)


def _gauss_jordan(rows: list[list[int]], p: int) -> list[list[int]]:
    """The inverse mod p of the square matrix ``rows`` (residues in [0, p)), in Python
    integers; ZeroDivisionError when it is singular."""
    n = len(rows)
    aug = [list(row) + [int(i == j) for j in range(n)] for i, row in enumerate(rows)]
    for col in range(n):
        piv = next((r for r in range(col, n) if aug[r][col]), None)
        if piv is None:
            raise ZeroDivisionError("the matrix is singular")
        aug[col], aug[piv] = aug[piv], aug[col]
        inv = pow(aug[col][col], -1, p)
        prow = [v * inv % p for v in aug[col]]
        aug[col] = prow
        for r in range(n):
            f = aug[r][col]
            if r != col and f:
                aug[r] = [(v - f * w) % p for v, w in zip(aug[r], prow)]
    return [row[n:] for row in aug]


# --------------------------------------------------------------------------- contraction


class ModBackend:
    """The :class:`diagalg.numeric.contract.Backend` of the exact oracle: pairwise
    contractions along opt_einsum's path, each as a chunked batched matmul
    (:meth:`Field.matmul`), reduced after every step."""

    def __init__(self, field: Field) -> None:
        self.field = field

    def scale(self, coeff: int, arr: np.ndarray) -> np.ndarray:
        return self.field.scale(coeff, arr)

    def contract(self, operands: list[tuple[np.ndarray, list[int]]], out_ids: list[int], memory_cap: int) -> np.ndarray:
        """The contraction of ``operands`` into ``out_ids``, reduced. The float path's
        order and memory rule apply (:func:`~diagalg.numeric.contract.plan_contraction`):
        too large an intermediate is sliced over summed indices or refused with
        :class:`MemoryCapError`."""
        dtype = np.result_type(*(arr.dtype for arr, _ in operands))
        order, plan = plan_contraction(operands, out_ids, dtype.itemsize, memory_cap)
        if plan is None:
            return contract_along(self.field, operands, out_ids, order)
        total = None
        for values in np.ndindex(*plan.sizes):
            fixed = dict(zip(plan.sliced, values))
            part_ops = [
                (arr[tuple(fixed.get(i, slice(None)) for i in ids)], [i for i in ids if i not in fixed])
                for arr, ids in operands
            ]
            part = contract_along(self.field, part_ops, out_ids, ssa_of_linear(plan.path))
            total = part if total is None else self.field.reduce(total + part)
        assert total is not None
        return total


def contract_along(
    field: Field, operands: list[tuple[np.ndarray, list[int]]], out_ids: Sequence[int], order: Order
) -> np.ndarray:
    """Contract ``operands`` (reduced entries; no id repeated within one) into ``out_ids``
    along ``order`` (single-assignment steps, :mod:`diagalg.numeric.plan`), exactly
    mod p, in time linear in the number of operands. Indices shared by operands and
    still needed later (or by the output) are batch axes: hyperedges are exact too."""
    arr, ids = run_order(
        order,
        operands,
        out_ids,
        lambda a, b, keep: _pair(field, a, b, keep),
        lambda op, keep: _reduce_own(field, op, keep),
    )
    out = list(out_ids)
    return np.transpose(arr, [ids.index(i) for i in out]) if ids != out else arr


def _reduce_own(field: Field, op: tuple[np.ndarray, list[int]], keep: set[int]) -> tuple[np.ndarray, list[int]]:
    """Sum an operand over its indices that nothing else needs."""
    arr, ids = op
    gone = tuple(ax for ax, i in enumerate(ids) if i not in keep)
    if not gone:
        return op
    return field.sum_axes(arr, gone), [i for i in ids if i in keep]


def _pair(
    field: Field, a: tuple[np.ndarray, list[int]], b: tuple[np.ndarray, list[int]], keep: set[int]
) -> tuple[np.ndarray, list[int]]:
    """The contraction of two operands keeping the indices in ``keep``: shared kept
    indices are batch axes, shared others are summed, the rest stay on their side."""
    (xa, ia), (xb, ib) = _reduce_own(field, a, keep | set(b[1])), _reduce_own(field, b, keep | set(a[1]))
    sb = set(ib)
    shared = [i for i in ia if i in sb]
    batch = [i for i in shared if i in keep]
    summed = [i for i in shared if i not in keep]
    left = [i for i in ia if i not in sb]
    right = [i for i in ib if i not in set(ia)]
    size = dict(zip(ia, xa.shape)) | dict(zip(ib, xb.shape))
    nb, nl, nr, ns = (math.prod(size[i] for i in g) for g in (batch, left, right, summed))
    ta = np.transpose(xa, [ia.index(i) for i in batch + left + summed]).reshape(nb, nl, ns)
    tb = np.transpose(xb, [ib.index(i) for i in batch + summed + right]).reshape(nb, ns, nr)
    if not summed:
        res = field.reduce(ta * tb)  # (nb, nl, 1) * (nb, 1, nr): one product per entry
    elif nb == 1:
        res = field.matmul(ta[0], tb[0])[np.newaxis]
    else:
        res = field.matmul(ta, tb)
    ids = batch + left + right
    return res.reshape(tuple(size[i] for i in ids)), ids
