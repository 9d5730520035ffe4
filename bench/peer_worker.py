"""One peer measurement, run in its own process by bench_table.py.

Usage: python bench/peer_worker.py PEER CASE N LIMIT_S [REPEATS]
       python bench/peer_worker.py whole PEER CASE N

PEER is ``tensorgrad`` (needs the bench venv, ``.venv-bench``), ``canon_bp`` or
``sympy_matrix`` (sympy, any interpreter that has it). The case is built afresh
for every repeat (not timed); each timed run is under an alarm of LIMIT_S seconds
and the best of REPEATS (default 3; one when a run takes over 2 s) is reported.
``whole`` runs the case once as a user's script would, for a whole-process timing.
Prints one JSON line: ``{"seconds": t, "answer": "..."}``, or
``{"timeout": LIMIT_S}`` when the alarm fired, or ``{"error": "..."}`` when
the peer cannot state or run the case.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import cubic_wiring, heap_frozen  # noqa: E402  (pure Python, shared with bench_table.py)


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):  # noqa: ARG001
    raise _Alarm


# --------------------------------------------------------------------------- tensorgrad 0.3.0


def _tg():
    import sympy
    import tensorgrad.functions as F
    from tensorgrad import Delta, Variable
    from tensorgrad.tensor import Product

    return sympy, F, Delta, Variable, Product


def _tg_ring(names: list[str], prefix: str, rotate: int = 0, shuffle: int | None = None):
    sympy, _, _, Variable, _ = _tg()
    n = sympy.Symbol("n")
    k = len(names)
    order = names[rotate:] + names[:rotate]
    fs = [Variable(nm, i=n, j=n).rename(i=f"{prefix}{t}", j=f"{prefix}{(t + 1) % k}") for t, nm in enumerate(order)]
    if shuffle is not None:
        random.Random(shuffle).shuffle(fs)
    return fs


def tg_ring(n: int) -> tuple[Callable[[], Any], Any]:
    _, _, _, _, Product = _tg()
    names = [f"A{k}" for k in range(n)]
    a, b = Product(_tg_ring(names, "p")), Product(_tg_ring(names, "q", rotate=n // 3, shuffle=1))
    return (lambda: a == b), None


def tg_power(n: int):
    _, _, _, _, Product = _tg()
    a = Product(_tg_ring(["A"] * n, "e"))
    b = Product(_tg_ring(["A"] * (n // 2), "a") + _tg_ring(["A"] * (n // 2), "b"))
    return (lambda: a == b), None


def tg_chain(n: int):
    """A0 I A1 I ... (identities interleaved), full_simplify; answer: factors left."""
    sympy, _, Delta, Variable, Product = _tg()
    d = sympy.Symbol("n")
    fs = []
    for k in range(n):
        a, b, c = f"l{2 * k}", f"l{2 * k + 1}", f"l{2 * k + 2}"
        fs += [Variable(f"A{k}", i=d, j=d).rename(i=a, j=b), Delta(d, b, c)]
    expr = Product(fs)

    def run():
        out = expr.full_simplify()
        return f"{len(getattr(out, 'factors', []))} factors"

    return run, None


def tg_deriv(n: int):
    """d/dx of x^T A1 ... AN x, simplified; answer: terms."""
    sympy, _, _, Variable, Product = _tg()
    d = sympy.Symbol("n")
    x = Variable("x", i=d)
    fs = [x.rename(i="e0")] + [Variable(f"A{k}", i=d, j=d).rename(i=f"e{k}", j=f"e{k + 1}") for k in range(n)]
    expr = Product(fs + [x.rename(i=f"e{n}")])

    def run():
        out = expr.grad(x).full_simplify()
        return f"{len(getattr(out, 'terms', [out]))} terms"

    return run, None


def tg_mps(n: int):
    """Periodic MPS vs its gauge-transformed copy (X_k X_k^-1 between sites)."""
    sympy, F, _, Variable, Product = _tg()
    D, p = sympy.Symbol("D"), sympy.Symbol("d")
    site = lambda k, l, r: Variable(f"A{k}", l=D, s=p, r=D).rename(l=l, s=f"s{k}", r=r)  # noqa: E731
    lhs = Product([site(k, f"b{k}", f"b{(k + 1) % n}") for k in range(n)])
    fs = []
    for k in range(n):
        nxt = f"b{(k + 1) % n}"
        fs.append(site(k, f"b{k}", f"c{k}"))
        fs.append(Variable(f"X{k}", i=D, j=D).rename(i=f"c{k}", j=f"m{k}"))
        fs.append(
            F.inverse(Variable(f"X{k}", i=D, j=D).rename(i=f"m{k}", j=f"q{k}"), {f"m{k}", f"q{k}"}).rename(
                **{f"q{k}": nxt}
            )
        )
    rhs = Product(fs)
    return (lambda: lhs.full_simplify() == rhs.full_simplify()), None


def tg_sym(n: int):
    """n symmetric 3-leg Y on a random cubic wiring vs the same wiring relabelled."""
    sympy, _, _, Variable, Product = _tg()
    d = sympy.Symbol("n")
    Y = Variable("Y", a=d, b=d, c=d).with_symmetries("a b c")

    def net(wiring: list[list[str]], prefix: str, seed: int):
        fs = [Y.rename(a=prefix + legs[0], b=prefix + legs[1], c=prefix + legs[2]) for legs in wiring]
        random.Random(seed).shuffle(fs)
        return Product(fs)

    w = cubic_wiring(n, 1)
    rot = [legs[1:] + legs[:1] for legs in w]
    a, b = net(w, "p", 0), net(rot, "q", 1)
    return (lambda: a == b), None


# --------------------------------------------------------------------------- sympy


def canon_bp_ring(n: int):
    """sympy.tensor's canon_bp on a ring of n distinct matrices A_k(i_k, -i_{k+1})."""
    from sympy.tensor.tensor import TensorHead, TensorIndexType, TensorSymmetry, tensor_indices

    L = TensorIndexType("L", dummy_name="L")
    idx = tensor_indices(" ".join(f"i{k}" for k in range(n)), L)
    heads = [TensorHead(f"A{k}", [L, L], TensorSymmetry.no_symmetry(2)) for k in range(n)]
    expr = heads[0](idx[0], -idx[1])
    for k in range(1, n):
        expr = expr * heads[k](idx[k], -idx[(k + 1) % n])

    def run():
        expr.canon_bp()
        return "canonical"

    return run, None


def sympy_ring(n: int):
    from sympy import MatMul, MatrixSymbol, Symbol, Trace

    d = Symbol("n")
    As = [MatrixSymbol(f"A{k}", d, d) for k in range(n)]
    rot = n // 3
    a, b = Trace(MatMul(*As)), Trace(MatMul(*(As[rot:] + As[:rot])))
    return (lambda: (a - b).doit() == 0), None


def sympy_power(n: int):
    from sympy import MatrixSymbol, Symbol, Trace

    A = MatrixSymbol("A", Symbol("n"), Symbol("n"))
    a, b = Trace(A**n), Trace(A ** (n // 2)) ** 2
    return (lambda: (a - b).doit() == 0), None


def sympy_chain(n: int):
    from sympy import Identity, MatMul, MatrixSymbol, Symbol

    d = Symbol("n")
    fs = []
    for k in range(n):
        fs += [MatrixSymbol(f"A{k}", d, d), Identity(d)]

    def run():
        out = MatMul(*fs, evaluate=False).doit()
        return f"{len(out.args)} factors"

    return run, None


def sympy_deriv(n: int):
    from sympy import MatMul, MatrixSymbol, Symbol

    d = Symbol("n")
    x = MatrixSymbol("x", d, 1)
    expr = MatMul(x.T, *[MatrixSymbol(f"A{k}", d, d) for k in range(n)], x)

    def run():
        out = expr.diff(x)
        return f"{len(out.args) if out.is_Add else 1} terms"

    return run, None


PEERS: dict[str, dict[str, Callable[[int], tuple[Callable[[], Any], Any]]]] = {
    "tensorgrad": {
        "ring": tg_ring,
        "power": tg_power,
        "chain": tg_chain,
        "deriv": tg_deriv,
        "mps": tg_mps,
        "sym": tg_sym,
    },
    "canon_bp": {"canon": canon_bp_ring},
    "sympy_matrix": {"ring": sympy_ring, "power": sympy_power, "chain": sympy_chain, "deriv": sympy_deriv},
}


def _timed_runs(make: Callable[[int], Any], n: int, limit: float, repeats: int) -> dict:
    """The best of up to ``repeats`` runs, each on inputs built afresh (construction not
    timed) and with the heap built before it frozen (:func:`cases.heap_frozen`), one run
    only when a run takes over 2 s: the policy diagalg's side follows in bench_table.py."""
    best, answer = None, None
    for _ in range(repeats):
        run, _ = make(n)
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        with heap_frozen():
            t0 = time.perf_counter()
            try:
                answer = run()
            except _Alarm:
                return {"timeout": limit}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
        if dt > 2:
            break
    return {"seconds": best, "answer": str(answer)}


def main() -> None:
    if sys.argv[1] == "whole":
        # the whole process, as a user's script: imports, construction and one run, timed
        # from outside by bench_table.py (its wall clock includes the interpreter's start)
        peer, case, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        run, _ = PEERS[peer][case](n)
        print(json.dumps({"answer": str(run())}), flush=True)
        return
    peer, case, n, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    try:
        make = PEERS[peer][case]
        make(4)[0]()  # warm-up: imports and caches, not timed
    except Exception as err:  # the peer cannot state the case
        print(json.dumps({"error": f"{type(err).__name__}: {err}"[:200]}), flush=True)
        return
    try:
        result = _timed_runs(make, n, limit, repeats)
    except Exception as err:
        result = {"error": f"{type(err).__name__}: {err}"[:200]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
