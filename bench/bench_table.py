"""`make bench`: diagalg against its peers, measured in the same run, in one table.

For every case and size: diagalg's time (best of a few runs), the peer's time
(measured in its own process, under a time limit that the table reports when
hit) and the ratio peer / diagalg (how many times faster diagalg is), the goal
from issue 8 and whether it is met. Peers: tensorgrad 0.3.0 (symbolic only; in
``.venv-bench``, which ``make bench`` builds), sympy.tensor's ``canon_bp``,
sympy matrix expressions, and a hand-written opt_einsum contraction.

Usage: .venv/bin/python bench/bench_table.py [--quick] [--limit S] [--write bench/RESULTS.md]
(``DIAGALG_BENCH_PEER_LIMIT`` also sets the limit; default 30 s.)

BLAS runs single-threaded here (``OPENBLAS_NUM_THREADS=1`` unless set): the
numeric rows compare diagalg and opt_einsum in one process, and on a shared
2-core machine a multi-threaded BLAS makes both sides' times mostly noise.
"""

from __future__ import annotations

import argparse
import json
import math
import os

_DEFAULTED = [v for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if v not in os.environ]
os.environ.update({v: "1" for v in _DEFAULTED})
# whole commands (bench/processes.py) run with the user's own threading, not this default
os.environ["DIAGALG_BENCH_DEFAULTED"] = ",".join(_DEFAULTED)
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import opt_einsum as oe

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import diagalg  # noqa: E402
from diagalg.caches import clear_all  # noqa: E402
from diagalg.canonical import canonical_key  # noqa: E402
from diagalg.derivative import derivative  # noqa: E402
from diagalg.numeric.check import collect, compare, draw_instance  # noqa: E402
from diagalg.numeric.evaluate import evaluate  # noqa: E402
from diagalg.numeric.sizes import sample_sizes  # noqa: E402
from notes import NOTES  # noqa: E402
from processes import REPEATS, StartupRow, diagalg_process, startup_section, timed_command, warm  # noqa: E402

DEFAULT_LIMIT = float(os.environ.get("DIAGALG_BENCH_PEER_LIMIT", "30"))


# --------------------------------------------------------------------------- diagalg side


def _timed(
    build: Callable[[], tuple], run: Callable[..., object], repeats: int = REPEATS, stop_after: float = 2.0
) -> tuple[float, object]:
    """Best wall time of ``run(*build())`` over up to ``repeats`` runs (one run when it
    takes more than ``stop_after`` seconds). Every run gets inputs built afresh by
    ``build`` (not timed) and starts with every diagalg memo cleared
    (:func:`diagalg.caches.clear_all`: canonical keys, contraction orders, derivative
    expansions), so no run profits from an earlier one's cached properties or plans:
    the peer gets no such help. Both sides time with the heap built before the run frozen
    (:func:`cases.heap_frozen`)."""
    best, out = math.inf, None
    for _ in range(repeats):
        args = build()
        clear_all()
        with cases.heap_frozen():
            t0 = time.perf_counter()
            out = run(*args)
            dt = time.perf_counter() - t0
        best = min(best, dt)
        if dt > stop_after:
            break
    return best, out


def _program(case: str, n: int):
    decls, lhs, rhs = getattr(cases, case)(n)
    prog = diagalg.parse(decls)
    return prog, prog.expr(lhs), (prog.expr(rhs) if rhs else None)


def diagalg_equal(case: str, n: int) -> tuple[float, str]:
    dt, out = _timed(lambda: _program(case, n), lambda prog, a, b: diagalg.equal(a, b, prog))
    return dt, str(out)


def diagalg_simplify(case: str, n: int) -> tuple[float, str]:
    dt, out = _timed(lambda: _program(case, n), lambda prog, a, _: diagalg.simplify(a, program=prog).result)
    return dt, f"{len(out.terms[0].diagram.nodes)} factors"


def diagalg_deriv(case: str, n: int) -> tuple[float, str]:
    dt, out = _timed(lambda: _program(case, n), lambda prog, a, _: derivative(a, "x", program=prog))
    return dt, f"{len(out.terms)} terms"


def diagalg_canon(case: str, n: int) -> tuple[float, str]:
    dt, _ = _timed(lambda: (_program(case, n)[1].terms[0].diagram,), canonical_key)
    return dt, "canonical"


# --------------------------------------------------------------------------- numeric checks


NUMERIC_DIMS = {"ring": {"n": 128}, "mpsnorm": {"D": 24, "d": 2}}


def mpsnorm_text(n: int) -> tuple[str, str, str]:
    """<psi|psi> of a periodic MPS against the same with a gauge X_k X_k^-1 on every bond."""
    decls = "dim D, d\n" + "".join(
        f"tensor A{k}[l: D, s: d, r: D]\ntensor X{k}[i: D, j: D] invertible\n" for k in range(n)
    )
    lhs = " ".join(f"A{k}[b{k}, s{k}, b{(k + 1) % n}] A{k}[c{k}, s{k}, c{(k + 1) % n}]" for k in range(n))
    rhs = " ".join(
        f"A{k}[b{k}, s{k}, g{k}] X{k}[g{k}, m{k}] inv(X{k})[m{k}, b{(k + 1) % n}] "
        f"A{k}[c{k}, s{k}, h{k}] X{k}[h{k}, o{k}] inv(X{k})[o{k}, c{(k + 1) % n}]"
        for k in range(n)
    )
    return decls, lhs, rhs


def _ring_network(n: int, size: int, rng) -> list[list]:
    lhs = []
    for k in range(n):
        lhs += [rng.standard_normal((size, size)), [k, (k + 1) % n]]
    rot = n // 3
    rhs = []
    for t in range(n):
        k = (t + rot) % n
        rhs += [lhs[2 * k], [1000 + t, 1000 + (t + 1) % n]]
    return [lhs, rhs]


def _mpsnorm_network(n: int, D: int, d: int, rng) -> list[list]:
    A = [rng.standard_normal((D, d, D)) for _ in range(n)]
    X = [rng.standard_normal((D, D)) + D * np.eye(D) for _ in range(n)]
    Xi = [np.linalg.inv(x) for x in X]
    b = lambda k: k % n  # noqa: E731
    c = lambda k: n + k % n  # noqa: E731
    s = lambda k: 2 * n + k  # noqa: E731
    lhs, rhs = [], []
    for k in range(n):
        lhs += [A[k], [b(k), s(k), b(k + 1)], A[k], [c(k), s(k), c(k + 1)]]
        g, m, h, o = 3 * n + 4 * k, 3 * n + 4 * k + 1, 3 * n + 4 * k + 2, 3 * n + 4 * k + 3
        rhs += [
            A[k],
            [b(k), s(k), g],
            X[k],
            [g, m],
            Xi[k],
            [m, b(k + 1)],
            A[k],
            [c(k), s(k), h],
            X[k],
            [h, o],
            Xi[k],
            [o, c(k + 1)],
        ]
    return [lhs, rhs]


#: (case, N) -> seconds per contraction of the float check, for the exact rows' ratio
FLOAT_TIMES: dict[tuple[str, int], float] = {}


def diagalg_numeric(case: str, n: int) -> tuple[float, str]:
    """Seconds per contraction of diagalg's float numeric check (1 size draw x 2 tensor
    draws x 2 sides; sampling the tensors and judging included), and in the answer the
    time per contraction of evaluating both sides on one drawn instance."""
    dt, res = _timed(
        lambda: _numeric_statement(case, n),
        lambda prog, a, b: compare(
            a, b, prog.env, seed=0, size_draws=1, tensor_draws=2, dims=NUMERIC_DIMS[case], path="float"
        ),
    )
    FLOAT_TIMES[(case, n)] = dt / (2 * res.draws)

    def instance():  # the same contractions on one drawn instance, without sampling or judging
        prog, a, b = _numeric_statement(case, n)
        env = prog.env
        decls_, funcs, syms = collect([a, b])
        rng = np.random.default_rng(0)
        draw = sample_sizes(
            syms, env, decls_.values(), rng, [], {env.symbols[k]: v for k, v in NUMERIC_DIMS[case].items()}
        )
        return a, b, draw_instance(decls_, funcs, draw, rng)

    ev, _ = _timed(instance, lambda a, b, inst: (evaluate(a, inst, []), evaluate(b, inst, [])))
    return dt / (2 * res.draws), f"{res.status}; eval only {fmt_s(ev / 2)}"


def _numeric_statement(case: str, n: int):
    decls, lhs, rhs = cases.ring(n) if case == "ring" else mpsnorm_text(n)
    prog = diagalg.parse(decls)
    return prog, prog.expr(lhs), prog.expr(rhs)


def diagalg_numeric_exact(case: str, n: int) -> tuple[float, str]:
    """Seconds per contraction of the exact check of the same statement (over two prime
    fields: 1 size draw x 2 tensor draws (one per prime) x 2 sides, exact sampling included),
    and in the answer its ratio to the float check's time per contraction (measured
    by the float row of the same N)."""
    dt, res = _timed(
        lambda: _numeric_statement(case, n),
        lambda prog, a, b: compare(
            a, b, prog.env, seed=0, size_draws=1, tensor_draws=2, dims=NUMERIC_DIMS[case], path="exact"
        ),
    )
    per = dt / (2 * max(res.draws, 1))
    float_per = FLOAT_TIMES.get((case, n))
    ratio = f"; {per / float_per:.2f}x float" if float_per else ""
    return per, f"{res.status} ({res.path}){ratio}"


def diagalg_check_growth(case: str, n: int) -> tuple[float, str]:
    """The whole numeric check of a ring of N matrices as ``diagalg check`` runs it
    (``--path auto``, which is exact here: sizes drawn, both sides over two primes),
    parsing excluded: the growth rows of issue 19 (linear in N is the goal). The best of
    3 runs at every N: the minimum of more runs at small N than at large (the usual
    policy stops after one run over 2 s) would bend the fitted exponent upwards."""
    statement = lambda: _numeric_statement(case, n)  # noqa: E731
    dt, res = _timed(statement, lambda prog, a, b: compare(a, b, prog.env, seed=0), stop_after=math.inf)
    return dt, f"{res.status} ({res.path})"


def diagalg_topk(case: str, n: int) -> tuple[float, str]:
    """``expand y{n} over h top 10`` on bench_expand.py's frozen-attention stand-in (n
    layers of 12 heads, seq 16, d 24): random weights, head 5 dominant in every layer,
    or dominant and ranked by a random metric. One run (the search is seconds long, and
    its counted work, not its time, is the figure); the answer gives the states
    expanded and the time per state."""
    import bench_expand
    from diagalg.rank import top_terms

    prog, e = bench_expand.model(n)
    inst = bench_expand.instance(prog, e)
    if case != "deep_random":
        for layer in range(1, n + 1):
            arr = inst.arrays[f"OV{layer}"] * 1e-3
            arr[5] *= 1e4
            inst = inst.with_array(f"OV{layer}", arr)
    metric = np.random.default_rng(1).standard_normal((24, 16)) if case == "deep_metric" else None
    clear_all()
    with cases.heap_frozen():
        t0 = time.perf_counter()
        res = top_terms(e, 10, inst, {"h": 12}, metric=metric)
        dt = time.perf_counter() - t0
    state = "proven" if res.proven else ("says unprovable" if res.stopped == "estimate" else "budget out")
    est = f" (est. {res.estimate:.0e})" if res.stopped == "estimate" else ""
    return dt, f"{state}{est}, {res.states} st, {1e3 * dt / max(res.states, 1):.2f} ms/st"


def opt_einsum_numeric(case: str, n: int) -> dict:
    """The bare opt_einsum contraction of both sides' networks (path search included,
    as a hand-written ``oe.contract`` call does): seconds per contraction, under the
    same repeat policy as diagalg's side (fresh arrays for every repeat)."""

    def build():
        rng = np.random.default_rng(0)
        return (
            (
                _ring_network(n, NUMERIC_DIMS["ring"]["n"], rng)
                if case == "ring"
                else _mpsnorm_network(n, NUMERIC_DIMS["mpsnorm"]["D"], NUMERIC_DIMS["mpsnorm"]["d"], rng)
            ),
        )

    t, vals = _timed(build, lambda nets: [oe.contract(*net, [], optimize="auto") for net in nets])
    best = t / 2
    ok = abs(vals[0] - vals[1]) <= 1e-8 * max(1.0, abs(vals[0]))
    return {"seconds": best, "answer": "equal" if ok else "different"}


# --------------------------------------------------------------------------- peers


def peer_python(peer: str) -> str | None:
    """The interpreter that runs ``peer``: the bench venv for tensorgrad, this one for sympy."""
    if peer != "tensorgrad":
        return sys.executable
    bench = ROOT / ".venv-bench" / "bin" / "python"
    if bench.exists():
        return str(bench)
    try:
        import tensorgrad  # noqa: F401

        return sys.executable
    except ImportError:
        return None


def run_peer(peer: str, case: str, n: int, limit: float, kind: str = "") -> dict:
    if peer == "opt_einsum":
        return opt_einsum_numeric(case, n)
    if kind == "process":
        python = peer_python(peer)
        if python is None:
            return {"error": "not installed (make bench builds .venv-bench)"}
        cmd = [python, str(HERE / "peer_worker.py"), "whole", peer, case, str(n)]
        warm(cmd)  # as diagalg_process: the bytecode cache filled, the same repeat policy
        _, dt, proc = timed_command(cmd, limit)
        if proc is None:
            return {"timeout": limit}
        lines = proc.stdout.strip().splitlines() if proc else []
        if proc is None or proc.returncode != 0 or not lines:
            return {"error": f"worker exit {proc.returncode if proc else '?'}"}
        return {"seconds": dt, "answer": json.loads(lines[-1])["answer"]}
    python = peer_python(peer)
    if python is None:
        return {"error": "not installed (make bench builds .venv-bench)"}
    cmd = [python, str(HERE / "peer_worker.py"), peer, case, str(n), str(limit), str(REPEATS)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + 180)
    except subprocess.TimeoutExpired:
        return {"timeout": limit}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exit {proc.returncode}: {err}"[:120]}
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- the table


@dataclass
class Case:
    title: str
    key: str  # the function in cases.py / peer_worker.py
    kind: str  # equality | simplify | deriv | canon | numeric
    sizes: list[int]
    peers: list[str]
    goal: Callable[[str, int], float | None] = lambda peer, n: None  # minimal ratio, None: no stated goal
    goal_text: Callable[[str, int], str] = lambda peer, n: ""
    quick: list[int] = field(default_factory=list)
    #: the right answer at size N, for telling a peer's wrong answer from a slow one
    expected: Callable[[int], str] | None = None


def _goal(fixed: dict[str, float], min_n: int = 0):
    def goal(peer: str, n: int) -> float | None:
        return fixed.get(peer) if n >= min_n else None

    return goal


_TRUE, _FALSE = (lambda n: "True"), (lambda n: "False")
_EQUAL = lambda n: "equal"  # noqa: E731

CASES = [
    Case(
        "equal: ring of N matrices vs rotated copy",
        "ring",
        "equality",
        [10, 50, 100, 200],
        ["tensorgrad", "sympy_matrix"],
        _goal({"tensorgrad": 1}),
        quick=[10, 50],
        expected=_TRUE,
    ),
    Case(
        "equal: tr(A^N) vs tr(A^{N/2})^2",
        "power",
        "equality",
        [10, 20, 30, 40, 80, 200],
        ["tensorgrad", "sympy_matrix"],
        _goal({"tensorgrad": 100}, 20),
        quick=[10, 20],
        expected=_FALSE,
    ),
    Case(
        "equal: symmetric 3-leg Y network, relabelled",
        "sym",
        "equality",
        [10, 20, 40, 80, 160],
        ["tensorgrad"],
        _goal({"tensorgrad": 1}),
        quick=[10, 20],
        expected=_TRUE,
    ),
    Case(
        "equal: periodic MPS vs gauge-transformed copy",
        "mps",
        "equality",
        [5, 10, 25, 50, 100],
        ["tensorgrad"],
        _goal({"tensorgrad": 1}),
        quick=[5, 10],
        expected=_TRUE,
    ),
    Case(
        "simplify: chain A I A I ... (N matrices)",
        "chain",
        "simplify",
        [50, 100, 200, 400, 800],
        ["tensorgrad", "sympy_matrix"],
        _goal({"tensorgrad": 50}, 200),
        quick=[50, 100],
        expected=lambda n: f"{n} factors",
    ),
    Case(
        "derivative: d/dx x^T A_1 ... A_N x",
        "deriv",
        "deriv",
        [5, 10, 20, 40, 80],
        ["tensorgrad", "sympy_matrix"],
        quick=[5, 10],
        expected=lambda n: "2 terms",
    ),
    Case(
        "canonical key: ring of N matrices",
        "canon",
        "canon",
        [25, 50, 100, 200],
        ["canon_bp"],
        _goal({"canon_bp": 10}, 100),
        quick=[25, 50],
    ),
    Case(
        "numeric check / contraction: ring, n=128",
        "ring",
        "numeric",
        [10, 50, 200],
        ["opt_einsum"],
        _goal({"opt_einsum": 0.5}),
        quick=[10],
        expected=_EQUAL,
    ),
    Case(
        "numeric check / contraction: MPS norm, D=24",
        "mpsnorm",
        "numeric",
        [10, 50, 100],
        ["opt_einsum"],
        _goal({"opt_einsum": 0.5}),
        quick=[10],
        expected=_EQUAL,
    ),
    # the exact (prime-field) check of the same statements: goal within 3x of the float check
    Case(
        "exact check / contraction: ring, n=128",
        "ring",
        "numeric_exact",
        [10, 50, 200],
        ["opt_einsum"],
        _goal({"opt_einsum": 1 / 6}),
        quick=[10],
        expected=_EQUAL,
    ),
    Case(
        "exact check / contraction: MPS norm, D=24",
        "mpsnorm",
        "numeric_exact",
        [10, 50, 100],
        ["opt_einsum"],
        _goal({"opt_einsum": 1 / 6}),
        quick=[10],
        expected=_EQUAL,
    ),
    # the numeric check's growth on long rings (no peer: opt_einsum's own path bookkeeping
    # is quadratic at these sizes); the growth exponent below is the measure
    Case(
        "numeric check (auto path): ring of N matrices",
        "ring",
        "check_growth",
        [1000, 2000, 5000, 10000, 20000],
        [],
        quick=[1000, 2000],
        expected=_EQUAL,
    ),
    # `expand ... top 10` on 12 layers x 12 heads (issue 17): no peer ranks expansion terms
    # with a proven bound; the row gives diagalg's counted work (states, time per state)
    Case(
        "top 10 of 13^12 terms: one dominant head",
        "deep_dominant",
        "topk",
        [12],
        [],
        quick=[12],
        expected=lambda n: "proven",
    ),
    Case(
        "top 10 of 13^12 terms: dominant, by a metric",
        "deep_metric",
        "topk",
        [12],
        [],
        quick=[12],
        expected=lambda n: "proven",
    ),
    Case(
        "top 10 of 13^12 terms: random weights",
        "deep_random",
        "topk",
        [12],
        [],
        quick=[12],
        expected=lambda n: "says unprovable",
    ),
    # whole processes: `diagalg check FILE` (proof and numeric confirmation) against the
    # peer's script (imports, construction, `==`), each timed from outside
    Case(
        "whole process: check ring of N vs rotated copy",
        "ring",
        "process",
        [10, 50],
        ["tensorgrad"],
        quick=[10],
        expected=_TRUE,
    ),
    Case(
        "whole process: check periodic MPS vs gauged copy",
        "mps",
        "process",
        [10],
        ["tensorgrad"],
        quick=[10],
        expected=_TRUE,
    ),
]

DIAGALG = {
    "equality": diagalg_equal,
    "simplify": diagalg_simplify,
    "deriv": diagalg_deriv,
    "canon": diagalg_canon,
    "numeric": diagalg_numeric,
    "numeric_exact": diagalg_numeric_exact,
    "process": diagalg_process,
    "check_growth": diagalg_check_growth,
    "topk": diagalg_topk,
}


def fmt_s(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_goal(g: float | None) -> str:
    if g is None:
        return "-"
    return f">= {g:g}x" if g >= 1 else f"<= {1 / g:g}x slower"


@dataclass
class Row:
    case: str
    n: int
    ours: float
    our_answer: str
    peer: str
    peer_time: str
    peer_answer: str
    ratio: str
    goal: str
    met: str


def measure(case: Case, sizes: list[int], limit: float, log) -> tuple[list[Row], list[tuple[int, float]]]:
    rows: list[Row] = []
    ours_by_n: list[tuple[int, float]] = []
    hit: dict[str, int] = {}
    for n in sizes:
        ours, answer = DIAGALG[case.kind](case.key, n)
        want = case.expected(n) if case.expected else None
        if want is not None and not answer.startswith(want):
            answer = f"WRONG: {answer}"  # shown, never hidden: a wrong answer of ours has no ratio either
        if case.kind not in ("process", "topk"):
            ours_by_n.append((n, ours))
        if not case.peers:  # a row of diagalg's own figures (growth), no ratio
            rows.append(Row(case.title, n, ours, answer, "no peer", "-", "-", "-", "-", "-"))
            log(rows[-1])
        for peer in case.peers:
            goal = case.goal(peer, n)
            if peer in hit:
                res = {"skipped": hit[peer]}
            else:
                res = run_peer(peer, case.key, n, limit, case.kind)
            wrong = "seconds" in res and want is not None and res.get("answer", "") != want
            if answer.startswith("WRONG") or wrong:
                ptime = fmt_s(res["seconds"]) if "seconds" in res else "-"
                rtext = "peer wrong" if wrong else "diagalg wrong"
                rows.append(
                    Row(
                        case.title,
                        n,
                        ours,
                        answer,
                        peer,
                        ptime,
                        res.get("answer", ""),
                        rtext,
                        fmt_goal(goal),
                        "-" if goal is None else ("NO" if not wrong else "-"),
                    )
                )
                log(rows[-1])
                continue
            if "seconds" in res:
                ratio = res["seconds"] / ours
                ptime, pans, rtext = fmt_s(res["seconds"]), res.get("answer", ""), f"{ratio:.3g}x"
                met = "-" if goal is None else ("yes" if ratio >= goal else "NO")
            elif "timeout" in res or "skipped" in res:
                if "timeout" in res:
                    hit[peer] = n
                    ptime = f"> {limit:g} s (limit)"
                else:
                    ptime = f"skipped (limit at N={res['skipped']})"
                ratio = limit / ours
                pans, rtext = "-", f"> {ratio:.3g}x"
                met = "-" if goal is None else ("yes" if ratio >= goal else "open")
            else:
                ptime, pans, rtext, met = "n/a", res["error"], "-", "-"
            rows.append(Row(case.title, n, ours, answer, peer, ptime, pans, rtext, fmt_goal(goal), met))
            log(rows[-1])
    return rows, ours_by_n


def exponent(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-9)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


HEAD = ("case", "N", "diagalg", "diagalg answer", "peer", "peer time", "peer answer", "peer/diagalg", "goal", "met")


def cells(r: Row) -> tuple[str, ...]:
    return (r.case, str(r.n), fmt_s(r.ours), r.our_answer, r.peer, r.peer_time, r.peer_answer, r.ratio, r.goal, r.met)


WIDTHS = (46, 4, 9, 40, 12, 24, 20, 12, 18, 4)


def text_line(vals) -> str:
    return " ".join(str(v)[:w].ljust(w) for v, w in zip(vals, WIDTHS)).rstrip()


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        mem = f"{int(mem.split()[1]) / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    load = load_text("at start")
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {mem} RAM, {load}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, opt_einsum {oe.__version__}"
    )


def load_text(when: str) -> str:
    """The machine's one-minute load average, for reading the times beside it."""
    try:
        return f"load average {os.getloadavg()[0]:.1f} {when}"
    except OSError:
        return "load unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small sizes per case")
    ap.add_argument("--limit", type=float, default=DEFAULT_LIMIT, help="time limit of one peer run, seconds")
    ap.add_argument("--write", type=Path, help="also write the table as markdown to this file")
    ap.add_argument("--only", help="run only the cases whose title contains this text")
    args = ap.parse_args()

    print(f"machine: {machine()}")
    tg = peer_python("tensorgrad")
    print(f"tensorgrad: {tg or 'not installed (make bench builds .venv-bench)'}; peer limit {args.limit:g} s\n")
    print(text_line(HEAD))
    print("-" * 180)
    sys.stdout.flush()
    all_rows: list[Row] = []
    growth: list[tuple[str, float]] = []
    t_start = time.perf_counter()
    for case in CASES:
        if args.only and args.only not in case.title:
            continue
        sizes = case.quick if args.quick else case.sizes
        rows, ours = measure(case, sizes, args.limit, lambda r: (print(text_line(cells(r))), sys.stdout.flush()))
        all_rows += rows
        if len(ours) >= 2:
            growth.append((case.title, exponent(ours)))
    startup: list[str] = []
    startup_rows: list[StartupRow] = []
    if not args.only or args.only in "start-up":
        print("\nstart-up and large files (whole commands, timed from outside):")
        startup, startup_rows = startup_section()
    print("\ndiagalg growth exponent (least squares of log time on log N; 1 = linear):")
    for title, g in growth:
        print(f"  {title:<48} {g:.2f}")
    total = time.perf_counter() - t_start
    print(f"\n{len(all_rows)} rows in {total:.0f} s; {load_text('at the end')}")
    if args.write:
        write_markdown(args.write, all_rows, growth, args.limit, tg, startup, startup_rows)
        print(f"written to {args.write}")
    return 0


def write_markdown(
    path: Path,
    rows: list[Row],
    growth,
    limit: float,
    tg: str | None,
    startup: list[str],
    startup_rows: list[StartupRow],
) -> None:
    out = [
        "# Benchmark results (`make bench`)",
        "",
        f"Machine: {machine()}.  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; peer time limit {limit:g} s; "
        f"tensorgrad {'0.3.0 from .venv-bench' if tg else 'not installed'}.",
        "",
        "`peer/diagalg` is how many times faster diagalg is; `> x` means the peer hit the time limit. "
        "`open` marks a goal not shown because the peer stopped at the limit first; `peer wrong` marks "
        "a peer's wrong answer, which gets no ratio and meets no goal. Both sides follow one repeat "
        "policy: the best of up to 3 runs (one when a run takes over 2 s), every run on inputs built "
        "afresh (not timed) and, for diagalg, with every memo cleared (canonical keys, contraction "
        "orders, derivative expansions), so no run reuses a plan or a cached property of another; the heap "
        "built before a run is frozen during it on both sides (`gc.freeze`), and the growth rows take the "
        "best of 3 at every size. "
        "Peers run in their own process, imports not timed, except in the *whole process* rows.",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|" + "---|" * len(HEAD),
    ]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |")
    out += ["", "diagalg growth exponent (least squares of log time on log N; 1 = linear):", ""]
    out += [f"- {t}: {g:.2f}" for t, g in growth]
    out += ["", f"Machine {load_text('at the end')}."]
    out += ["", *startup] if startup else []
    out += ["", "## Goals", ""] + [f"- {line}" for line in goal_summary(rows, startup_rows)]
    out += ["", "## Reading the table", "", *NOTES]
    path.write_text("\n".join(out) + "\n")


def goal_summary(rows: list[Row], startup: list[StartupRow] = ()) -> list[str]:
    """One line per outcome: goals met, not met (each row named), open, and the rows a
    peer answered wrongly (no ratio, so no goal either way); then the start-up goals."""
    with_goal = [r for r in rows if r.goal != "-"]
    wrong = [r for r in with_goal if r.ratio == "peer wrong"]
    judged = [r for r in with_goal if r.ratio != "peer wrong"]
    met = [r for r in judged if r.met == "yes"]
    missed = [r for r in judged if r.met == "NO"]
    opened = [r for r in judged if r.met == "open"]
    lines = [f"{len(met)} of {len(judged)} rows with a goal and a right peer answer meet it."]
    lines += [f"not met: {r.case}, N={r.n}: {r.ratio} against {r.peer} (goal {r.goal})" for r in missed]
    lines += [f"open (peer stopped at the limit first): {r.case}, N={r.n}" for r in opened]
    if wrong:
        lines.append(f"{len(wrong)} rows with a goal have no ratio: the peer answered wrongly ({wrong[0].case}).")
    goals = [r for r in startup if r.goal != "-"]
    if goals:
        lines.append(f"start-up: {sum(r.met == 'yes' for r in goals)} of {len(goals)} goals met.")
        lines += [f"not met: {r.what}: {r.cpu:.3f} s CPU, {r.against} (goal {r.goal})" for r in goals if r.met != "yes"]
    return lines


if __name__ == "__main__":
    sys.exit(main())
