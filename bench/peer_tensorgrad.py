"""Peer worker: time tensorgrad's ``full_simplify`` on the chains of bench_simplify.py.

Runs in an interpreter that has tensorgrad (``make bench-peer`` makes
``.venv-bench``); bench_simplify.py starts it and reads one JSON object per
line: ``{"n": N, "seconds": t, "factors": k}``, or ``{"n": N, "skipped": why}``.
Usage: python bench/peer_tensorgrad.py KIND LIMIT_S N1 N2 ...
KIND is ``delta`` (identities between the matrices) or ``mixed`` (identities
and X X^-1 pairs alternating, as in bench_simplify.py).
"""

from __future__ import annotations

import json
import sys
import time


def chain(n_matrices: int, kind: str):
    import sympy
    import tensorgrad.functions as F
    from tensorgrad import Delta, Variable
    from tensorgrad.tensor import Product

    n = sympy.Symbol("n")
    factors = []
    for k in range(n_matrices):
        a, b, c = f"l{2 * k}", f"l{2 * k + 1}", f"l{2 * k + 2}"
        factors.append(Variable(f"A{k}", i=n, j=n).rename(i=a, j=b))
        if kind == "delta" or k % 2 == 0:
            factors.append(Delta(n, b, c))
        else:
            m, q = f"m{k}", f"q{k}"
            factors.append(Variable("X", i=n, j=n).rename(i=b, j=m))
            factors.append(F.inverse(Variable("X", i=n, j=n).rename(i=m, j=q), {m, q}).rename(**{q: c}))
    return Product(factors)


def main() -> None:
    kind, limit = sys.argv[1], float(sys.argv[2])
    sizes = [int(a) for a in sys.argv[3:]]
    chain(5, kind).full_simplify()  # warm-up
    last = 0.0
    for n in sizes:
        if last > limit:
            print(json.dumps({"n": n, "skipped": f"previous size took {last:.0f} s (limit {limit:.0f} s)"}), flush=True)
            continue
        expr = chain(n, kind)
        t0 = time.perf_counter()
        out = expr.full_simplify()
        last = time.perf_counter() - t0
        print(json.dumps({"n": n, "seconds": last, "factors": len(getattr(out, "factors", []))}), flush=True)


if __name__ == "__main__":
    main()
