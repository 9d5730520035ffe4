"""The hard equality cases end to end: .diag text -> parse -> simplify -> canonical keys.

Run: .venv/bin/python bench/bench_pipeline.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import diagalg  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402  (shared case builders)


def power_trace(name: str, k: int, offset: int = 0) -> str:
    return " ".join(f"{name}[t{offset + i}, t{offset + (i + 1) % k}]" for i in range(k))


def ring(names: list[str], rotate: int, prefix: str) -> str:
    n = len(names)
    order = names[rotate:] + names[:rotate]
    start = rotate
    return " ".join(f"{nm}[{prefix}{(start + i) % n}, {prefix}{(start + i + 1) % n}]" for i, nm in enumerate(order))


def cubic_wiring(n: int, seed: int) -> str:
    """n copies of Y (symmetric, 3 legs) wired as a random 3-regular multigraph."""
    return " ".join(f"Y[{', '.join(legs)}]" for legs in cases.cubic_wiring(n, seed))


def timed(label: str, prog, lhs: str, rhs: str) -> None:
    t0 = time.perf_counter()
    a, b = prog.expr(lhs), prog.expr(rhs)
    t1 = time.perf_counter()
    eq = diagalg.equal(a, b, prog)
    t2 = time.perf_counter()
    print(f"{label:<52} {str(eq):>6} {1000 * (t1 - t0):>9.1f} {1000 * (t2 - t1):>9.1f}")


def main() -> None:
    ring_names = [f"M{i}" for i in range(500)]
    decls = "dim n\ntensor A[i: n, j: n]\ntensor Y[a: n, b: n, c: n] symmetric\n" + "".join(
        f"tensor {m}[i: n, j: n]\n" for m in ring_names
    )
    prog = diagalg.parse(decls)
    timed("warm-up", prog, power_trace("A", 3), power_trace("A", 3, 10))
    print(f"{'case':<52} {'equal':>6} {'parse ms':>9} {'decide ms':>9}")
    for k in (20, 40, 60, 200):
        timed(
            f"tr(A^{k}) == tr(A^{k // 2})^2",
            prog,
            power_trace("A", k),
            power_trace("A", k // 2) + " " + power_trace("A", k // 2, 10_000),
        )
    timed("500-matrix ring == rotated, relabelled copy", prog, ring(ring_names, 0, "p"), ring(ring_names, 137, "q"))
    timed(
        "500-matrix ring == ring with two factors swapped",
        prog,
        ring(ring_names, 0, "p"),
        ring(ring_names[:1] + ring_names[2:3] + ring_names[1:2] + ring_names[3:], 0, "q"),
    )
    timed("40 x symmetric Y, two different wirings", prog, cubic_wiring(40, 1), cubic_wiring(40, 2))
    timed("40 x symmetric Y, same wiring relabelled", prog, cubic_wiring(40, 1), cubic_wiring(40, 1).replace("e", "f"))


if __name__ == "__main__":
    main()
