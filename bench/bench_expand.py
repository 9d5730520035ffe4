"""Expansion of a frozen-attention transformer, per head.

1. Two layers of 12 heads (heads leg contracted): `expand over h` gives
   (1 + 12)^2 = 169 terms; every term is evaluated on small random weights and
   their sum is compared with the model. Target: under 1 s.
2. The 12-layer, 12-head stand-in: 13^12 ≈ 2.3e13 terms, counted without
   enumeration and streamed lazily (the time to count, and to produce the first
   10,000 terms, is printed).
3. `top 10` by Frobenius norm (best-first search with a proven bound): on the
   two-layer model, on the same model with two dominant heads, and on the
   12-layer stand-in within its default budget (50,000 states or 20 s).

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
from diagalg.expand import count_paths, count_terms, expand_terms, paths  # noqa: E402
from diagalg.model import Expr  # noqa: E402
from diagalg.numeric.check import collect, draw_instance  # noqa: E402
from diagalg.numeric.evaluate import evaluate  # noqa: E402
from diagalg.numeric.sizes import sample_sizes  # noqa: E402
from diagalg.rank import top_terms  # noqa: E402


def instance(prog, e, seed: int = 0):
    rng = np.random.default_rng(seed)
    decls, funcs, syms = collect([e])
    return draw_instance(decls, funcs, sample_sizes(syms, prog.env, decls.values(), rng), rng)


def report_top(what: str, e, inst) -> None:
    res = top_terms(e, 10, inst, {"h": 12})
    state = "proven" if res.proven else "not proven (budget)"
    print(
        f"top 10, {what}: {res.seconds:.3f} s, {state}; {res.evaluated} terms evaluated, {res.states} states; "
        f"best {res.terms[0].norm:.3g} {' · '.join(res.terms[0].term.tags)}"
    )


def model(layers: int, heads: int = 12) -> tuple[diagalg.Program, Expr]:
    lines = [f"dim heads = {heads}, seq = 16, d = 24", "tensor x[s: seq, e: d]"]
    prev = "x"
    for l in range(1, layers + 1):
        lines += [f"tensor F{l}[h: heads, q: seq, k: seq]", f"tensor OV{l}[h: heads, a: d, e: d]"]
        lines.append(f"let y{l}[q, e] = skip{l}: {prev}[q, e] + attn{l}: F{l}[h, q, k] {prev}[k, a] OV{l}[h, a, e]")
        prev = f"y{l}"
    prog = diagalg.parse("\n".join(lines) + "\n")
    return prog, unfold(prog.expr(f"{prev}[q, e]"))


SOFTMAX_2x12 = (Path(__file__).resolve().parents[1] / "examples" / "transformers" / "softmax_heads.diag").read_text()


def bench_paths() -> None:
    prog = diagalg.parse(SOFTMAX_2x12)
    e = unfold(prog.expr("y2[q, e]"))
    t0 = time.perf_counter()
    n = count_paths(e, {"h": 12})
    t1 = time.perf_counter()
    listed = sum(1 for _ in paths(e, {"h": 12}))
    t2 = time.perf_counter()
    print(
        f"softmax 2 layers x 12 heads, Q/K/V sources per head: {n} paths (1 + 12 + 12*13^3 = "
        f"{1 + 12 + 12 * 13**3}) counted in {1e3 * (t1 - t0):.2f} ms, all {listed} enumerated lazily in "
        f"{t2 - t1:.2f} s"
    )
    from diagalg.rank import top_paths

    sample = list(itertools.islice(paths(e, {"h": 12}), 2000))
    for shared in (False, True):
        inst = instance(prog, e)
        if shared:
            inst.share_bubbles()
        t0 = time.perf_counter()
        for p in sample:
            evaluate(Expr.of([p.term], e.free_dims), inst, ["q", "e"])
        per = 1e3 * (time.perf_counter() - t0) / len(sample)
        print(
            f"evaluating {len(sample)} of those paths, bubbles {'shared' if shared else 'not shared'}: "
            f"{per:.2f} ms/path"
        )

    res = top_paths(e, 10, instance(prog, e), {"h": 12})
    state = "proven" if res.proven else "not proven (budget)"
    print(
        f"top 10 of those paths (each evaluated, shared bubbles once): {res.seconds:.2f} s, {state}; "
        f"best {res.paths[0][0]:.3g} {res.paths[0][1].name}"
    )


def main() -> None:
    bench_paths()
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
    report_top("2 layers x 12 heads, random weights", e, inst)
    dominant = inst
    for name in ("OV1", "OV2"):
        arr = dominant.arrays[name] * 1e-3
        arr[5] *= 1e4
        dominant = dominant.with_array(name, arr)
    report_top("2 layers x 12 heads, head 5 dominant", e, dominant)
    print(
        f"2 layers x 12 heads: {len(terms)} terms; expand {t1 - t0:.4f} s, evaluate every term {t2 - t1:.4f} s, "
        f"total {t2 - t0:.3f} s; sum vs model relative error {err:.1e}"
    )

    prog, e = model(12)
    t0 = time.perf_counter()
    n = count_terms(e, {"h": 12})
    t1 = time.perf_counter()
    first = sum(1 for _ in itertools.islice(expand_terms(e, {"h": 12}), 10_000))
    t2 = time.perf_counter()
    big = instance(prog, e)
    report_top("12 layers x 12 heads, random weights", e, big)
    for l in range(1, 13):
        arr = big.arrays[f"OV{l}"] * 1e-3
        arr[5] *= 1e4
        big = big.with_array(f"OV{l}", arr)
    report_top("12 layers x 12 heads, head 5 dominant in every layer", e, big)
    print(
        f"12 layers x 12 heads: {n:.3e} terms (13^12 = {13**12:.3e}) counted in {1e3 * (t1 - t0):.2f} ms; "
        f"first {first} terms streamed in {t2 - t1:.3f} s ({1e6 * (t2 - t1) / first:.0f} us/term)"
    )


if __name__ == "__main__":
    main()
