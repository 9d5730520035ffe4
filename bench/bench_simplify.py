"""Simplify a chain of N matrices with identities (deltas) and X inv(X) pairs interleaved.

For N = 10 .. 1600 it prints the time (best of 3) of diagalg's simplification in unchecked
and checked mode (every rewrite verified numerically on its site), the growth
exponent between successive sizes (1.0 is linear) and a least-squares exponent
over all sizes. When tensorgrad is available (in this interpreter, or in
``.venv-bench`` made by ``make bench-peer``; never a runtime dependency), its
``full_simplify`` is timed on the same chains in the same run, and the ratio
is printed. Two chain kinds: ``mixed`` (identities and X X^-1 pairs
alternating) and ``delta`` (identities only).

Run: .venv/bin/python bench/bench_simplify.py [--quick]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import diagalg  # noqa: E402
from diagalg.engine import simplify  # noqa: E402

SIZES = [10, 25, 50, 100, 200, 400, 800, 1600]
REPEATS = 3
PEER_LIMIT_S = float(os.environ.get("DIAGALG_BENCH_PEER_LIMIT", "30"))


def chain_program(n: int, kind: str = "mixed"):
    """A program declaring A0..A{n-1} and X, and the chain A0 I A1 X X^-1 A2 I ..."""
    decls = "dim n\n" + "".join(f"tensor A{k}[i: n, j: n]\n" for k in range(n)) + "tensor X[i: n, j: n] invertible\n"
    prog = diagalg.parse(decls)
    factors = []
    for k in range(n):
        a, b, c = f"l{2 * k}", f"l{2 * k + 1}", f"l{2 * k + 2}"
        factors.append(f"A{k}[{a}, {b}]")
        if kind == "delta" or k % 2 == 0:
            factors.append(f"delta[{b}, {c}]")
        else:
            factors.append(f"X[{b}, m{k}] inv(X)[m{k}, {c}]")
    return prog, prog.expr(" ".join(factors))


def time_diagalg(n: int, kind: str, checked: bool) -> tuple[float, int, int]:
    """(seconds, nodes before, numeric site checks) of one simplification; the result
    must be the bare chain of n matrices."""
    prog, expr = chain_program(n, kind)
    nodes = len(expr.terms[0].diagram.nodes)
    dt = math.inf
    for _ in range(REPEATS):  # best of REPEATS: a fresh engine (and verdict cache) each time
        t0 = time.perf_counter()
        d = simplify(expr, subs=prog.env.concrete_subs(), checked=checked, env=prog.env)
        dt = min(dt, time.perf_counter() - t0)
    left = len(d.result.terms[0].diagram.nodes)
    assert left == n, (left, n)
    return dt, nodes, d.checks


def peer_python() -> str | None:
    try:
        import tensorgrad  # noqa: F401

        return sys.executable
    except ImportError:
        pass
    candidate = ROOT / ".venv-bench" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def time_peer(python: str, kind: str, sizes: list[int]) -> dict[int, dict]:
    """tensorgrad's times per size, from the worker (stops growing past PEER_LIMIT_S)."""
    cmd = [python, str(ROOT / "bench" / "peer_tensorgrad.py"), kind, str(PEER_LIMIT_S)] + [str(s) for s in sizes]
    out: dict[int, dict] = {}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20 * PEER_LIMIT_S + 120)
    except subprocess.TimeoutExpired as e:
        lines = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        proc = None
    else:
        lines = proc.stdout
        if proc.returncode != 0:
            print(f"  tensorgrad worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    for line in lines.splitlines():
        row = json.loads(line)
        out[row["n"]] = row
    return out


def exponent_fit(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    sizes = SIZES[:5] if "--quick" in sys.argv else SIZES
    simplify(chain_program(5)[1], checked=True, env=chain_program(5)[0].env)  # warm-up: imports, caches
    peer = peer_python()
    if peer is None:
        print("tensorgrad: not installed (`make bench-peer` installs it into .venv-bench); diagalg only")
    for kind in ("mixed", "delta"):
        rows = []
        for n in sizes:
            un, nodes, _ = time_diagalg(n, kind, checked=False)
            ch, _, checks = time_diagalg(n, kind, checked=True)
            rows.append((n, nodes, un, ch, checks))
        theirs = time_peer(peer, kind, sizes) if peer else {}
        what = "A I A X X^-1 A I ..." if kind == "mixed" else "A I A I ..."
        print(f"\nchain kind '{kind}' ({what}); times in seconds")
        head = f"{'N':>6} {'nodes':>6} {'unchecked':>10} {'exp':>5} {'checked':>9} {'exp':>5} {'checks':>6}"
        if peer:
            head += f" {'tensorgrad':>11} {'ratio':>7}"
        print(head)
        prev = None
        for n, nodes, un, ch, checks in rows:
            e1 = e2 = ""
            if prev:
                e1 = f"{math.log(un / prev[1]) / math.log(n / prev[0]):.2f}"
                e2 = f"{math.log(ch / prev[2]) / math.log(n / prev[0]):.2f}"
            line = f"{n:>6} {nodes:>6} {un:>10.4f} {e1:>5} {ch:>9.4f} {e2:>5} {checks:>6}"
            if peer:
                row = theirs.get(n)
                if row is None:
                    line += f" {'(failed)':>11}"
                elif "skipped" in row:
                    line += f" {'skipped':>11}"
                else:
                    line += f" {row['seconds']:>11.3f} {row['seconds'] / un:>6.0f}x"
            print(line)
            prev = (n, un, ch)
        big = [r for r in rows if r[0] >= 100] or rows
        print(
            f"growth exponent (least squares, N >= {big[0][0]}): unchecked "
            f"{exponent_fit([(r[0], r[2]) for r in big]):.2f}, checked {exponent_fit([(r[0], r[3]) for r in big]):.2f}"
        )
        skipped = [n for n, r in theirs.items() if "skipped" in r]
        if skipped:
            print(f"tensorgrad skipped N >= {min(skipped)}: {theirs[min(skipped)]['skipped']}")
        if peer and kind == "mixed":
            done = [r for r in theirs.values() if "factors" in r]
            if done:
                r = max(done, key=lambda r: r["n"])
                print(
                    f"tensorgrad leaves {r['factors']} factors at N = {r['n']} (diagalg: {r['n']}); "
                    "it does not cancel X X^-1"
                )


if __name__ == "__main__":
    main()
