"""Simplify a chain of N matrices with identities (deltas) and X inv(X) pairs interleaved.

Prints the time per N and the growth exponent between successive sizes
(1.0 is linear). Run: .venv/bin/python bench/bench_simplify.py
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import diagalg  # noqa: E402
from diagalg.engine import simplify  # noqa: E402


def chain_program(n: int):
    decls = "dim n\n" + "".join(f"tensor A{k}[i: n, j: n]\n" for k in range(n)) + "tensor X[i: n, j: n] invertible\n"
    prog = diagalg.parse(decls)
    factors = []
    label = 0
    for k in range(n):
        a, b, c = f"l{label}", f"l{label + 1}", f"l{label + 2}"
        factors.append(f"A{k}[{a}, {b}]")
        if k % 2 == 0:
            factors.append(f"delta[{b}, {c}]")
        else:
            factors.append(f"X[{b}, m{k}] inv(X)[m{k}, {c}]")
        label += 2
    text = " ".join(factors)
    return prog, prog.expr(text)


def main() -> None:
    sizes = [10, 25, 50, 100, 200, 400, 800, 1600]
    prog, expr = chain_program(5)  # warm-up: imports and first-use setup are not what we measure
    simplify(expr, subs=prog.env.concrete_subs())
    print(f"{'N':>6} {'nodes':>7} {'simplify s':>11} {'exponent':>9}")
    prev = None
    for n in sizes:
        prog, expr = chain_program(n)
        nodes = len(expr.terms[0].diagram.nodes)
        t0 = time.perf_counter()
        result = simplify(expr, subs=prog.env.concrete_subs()).result
        dt = time.perf_counter() - t0
        left = len(result.terms[0].diagram.nodes)
        assert left == n, (left, n)
        exp = ""
        if prev is not None:
            exp = f"{math.log(dt / prev[1]) / math.log(n / prev[0]):.2f}"
        print(f"{n:>6} {nodes:>7} {dt:>11.4f} {exp:>9}")
        prev = (n, dt)


if __name__ == "__main__":
    main()
