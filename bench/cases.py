"""The benchmark cases as .diag text (diagalg side) and the wirings shared with the peers.

Pure Python (no diagalg import), so that peer_worker.py can use it from the
bench venv. Every function returns ``(declarations, lhs, rhs)`` text; ``rhs``
is empty for a one-sided case (simplification, derivative, canonical key).
Also the one timing rule both sides share, :func:`heap_frozen`.
"""

from __future__ import annotations

import gc
import random
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Time the body with every object that exists now moved out of the collector's
    reach (``gc.freeze``), then put back. diagalg's rows run in the long-lived bench
    process and each peer in a process of its own; without this, a collection landing in
    a sub-millisecond timing would scan whatever the process had built before (every
    earlier row, or the peer's torch), which neither side's algorithm is about. The
    timed run's own garbage is collected as usual. (A ``gc.collect()`` before each run
    was tried and rejected: it empties the allocator's free lists, and the run after it
    was 0.5 ms slower at 0.6 ms.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def cubic_wiring(n: int, seed: int) -> list[list[str]]:
    """The legs of n three-leg nodes wired as a random 3-regular multigraph without
    self-loops (n even): node v's edge names ``e<k>``."""
    rng = random.Random(seed)
    while True:
        stubs = [v for v in range(n) for _ in range(3)]
        rng.shuffle(stubs)
        pairs = list(zip(stubs[::2], stubs[1::2]))
        if all(a != b for a, b in pairs):
            break
    legs: list[list[str]] = [[] for _ in range(n)]
    for e, (a, b) in enumerate(pairs):
        legs[a].append(f"e{e}")
        legs[b].append(f"e{e}")
    return legs


def _ring(names: list[str], prefix: str, rotate: int = 0) -> list[str]:
    k = len(names)
    order = names[rotate:] + names[:rotate]
    return [f"{nm}[{prefix}{t}, {prefix}{(t + 1) % k}]" for t, nm in enumerate(order)]


def _matrices(n: int, extra: str = "") -> str:
    return "dim n\n" + "".join(f"tensor A{k}[i: n, j: n]\n" for k in range(n)) + extra


def ring(n: int) -> tuple[str, str, str]:
    """tr(A0 ... A{n-1}) against a rotated copy with other labels and shuffled factors."""
    names = [f"A{k}" for k in range(n)]
    rhs = _ring(names, "q", rotate=n // 3)
    random.Random(1).shuffle(rhs)
    return _matrices(n), " ".join(_ring(names, "p")), " ".join(rhs)


def power(n: int) -> tuple[str, str, str]:
    """tr(A^n) against tr(A^{n/2})^2 (not equal)."""
    half = ["A"] * (n // 2)
    return (
        "dim n\ntensor A[i: n, j: n]\n",
        " ".join(_ring(["A"] * n, "e")),
        " ".join(_ring(half, "a") + _ring(half, "b")),
    )


def chain(n: int) -> tuple[str, str, str]:
    """A0 I A1 I ... A{n-1} I (an identity after every matrix), to simplify."""
    fs = []
    for k in range(n):
        a, b, c = f"l{2 * k}", f"l{2 * k + 1}", f"l{2 * k + 2}"
        fs += [f"A{k}[{a}, {b}]", f"delta[{b}, {c}]"]
    return _matrices(n), " ".join(fs), ""


def deriv(n: int) -> tuple[str, str, str]:
    """x^T A0 ... A{n-1} x, to differentiate by x."""
    fs = ["x[e0]"] + [f"A{k}[e{k}, e{k + 1}]" for k in range(n)] + [f"x[e{n}]"]
    return _matrices(n, "tensor x[i: n]\n"), " ".join(fs), ""


def mps(n: int) -> tuple[str, str, str]:
    """A periodic MPS of n sites against its gauge transform (X_k X_k^-1 on every bond)."""
    decls = "dim D, d\n" + "".join(
        f"tensor A{k}[l: D, s: d, r: D]\ntensor X{k}[i: D, j: D] invertible\n" for k in range(n)
    )
    lhs = " ".join(f"A{k}[b{k}, s{k}, b{(k + 1) % n}]" for k in range(n))
    rhs = " ".join(f"A{k}[b{k}, s{k}, c{k}] X{k}[c{k}, m{k}] inv(X{k})[m{k}, b{(k + 1) % n}]" for k in range(n))
    return decls, lhs, rhs


def sym(n: int) -> tuple[str, str, str]:
    """n symmetric three-leg Y on a random cubic wiring against the same wiring with
    other labels, legs permuted inside each Y and the factors shuffled."""
    w = cubic_wiring(n, 1)
    lhs = [f"Y[{', '.join('p' + e for e in legs)}]" for legs in w]
    rhs = [f"Y[{', '.join('q' + e for e in legs[1:] + legs[:1])}]" for legs in w]
    random.Random(1).shuffle(rhs)
    return "dim n\ntensor Y[a: n, b: n, c: n] symmetric\n", " ".join(lhs), " ".join(rhs)


def canon(n: int) -> tuple[str, str, str]:
    """The ring of n distinct matrices, to canonicalise."""
    decls, lhs, _ = ring(n)
    return decls, lhs, ""
