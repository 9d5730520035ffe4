"""Expansion of a frozen-attention transformer, per head.

1. Two layers of 12 heads (heads leg contracted): `expand over h` gives
   (1 + 12)^2 = 169 terms; every term is evaluated on small random weights and
   their sum is compared with the model. Target: under 1 s.
2. The 12-layer, 12-head stand-in: 13^12 ≈ 2.3e13 terms, counted without
   enumeration and streamed lazily (the time to count, and to produce the first
   10,000 terms, is printed).

Run: .venv/bin/python bench/bench_expand.py
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import diagalg  # noqa: E402
from diagalg.engine import unfold  # noqa: E402
from diagalg.expand import count_terms, expand_terms  # noqa: E402
from diagalg.model import Expr  # noqa: E402
from diagalg.numeric.check import collect, draw_instance  # noqa: E402
from diagalg.numeric.evaluate import evaluate  # noqa: E402
from diagalg.numeric.sizes import sample_sizes  # noqa: E402


def model(layers: int, heads: int = 12) -> tuple[diagalg.Program, Expr]:
    lines = [f"dim heads = {heads}, seq = 16, d = 24", "tensor x[s: seq, e: d]"]
    prev = "x"
    for l in range(1, layers + 1):
        lines += [f"tensor F{l}[h: heads, q: seq, k: seq]", f"tensor OV{l}[h: heads, a: d, e: d]"]
        lines.append(f"let y{l}[q, e] = skip{l}: {prev}[q, e] + attn{l}: F{l}[h, q, k] {prev}[k, a] OV{l}[h, a, e]")
        prev = f"y{l}"
    prog = diagalg.parse("\n".join(lines) + "\n")
    return prog, unfold(prog.expr(f"{prev}[q, e]"))


def main() -> None:
    prog, e = model(2)
    rng = np.random.default_rng(0)
    decls, funcs, syms = collect([e])
    inst = draw_instance(decls, funcs, sample_sizes(syms, prog.env, decls.values(), rng), rng)
    t0 = time.perf_counter()
    terms = list(expand_terms(e, {"h": 12}))
    t1 = time.perf_counter()
    total = sum(evaluate(Expr.of([t], e.free_dims), inst, ["q", "e"]).array for t in terms)
    t2 = time.perf_counter()
    whole = evaluate(e, inst, ["q", "e"]).array
    err = float(np.abs(total - whole).max() / max(1e-3, np.abs(whole).max()))
    print(f"2 layers x 12 heads: {len(terms)} terms; expand {t1 - t0:.4f} s, evaluate every term {t2 - t1:.4f} s, "
          f"total {t2 - t0:.3f} s; sum vs model relative error {err:.1e}")

    prog, e = model(12)
    t0 = time.perf_counter()
    n = count_terms(e, {"h": 12})
    t1 = time.perf_counter()
    first = sum(1 for _ in itertools.islice(expand_terms(e, {"h": 12}), 10_000))
    t2 = time.perf_counter()
    print(f"12 layers x 12 heads: {n:.3e} terms (13^12 = {13 ** 12:.3e}) counted in {1e3 * (t1 - t0):.2f} ms; "
          f"first {first} terms streamed in {t2 - t1:.3f} s ({1e6 * (t2 - t1) / first:.0f} us/term)")


if __name__ == "__main__":
    main()
