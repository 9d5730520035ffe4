"""Benchmark of diagram equality by canonical labelling (diagalg.canonical).

Run from the repository root: ``.venv/bin/python bench/bench_equality.py``.
Prints one row per case: the case, graph size, the result of ``equal`` and the
wall time (building the diagrams is not timed; key caches are cleared first).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx  # noqa: E402

from diagalg.canonical import clear_caches, equal  # noqa: E402
from diagalg.dims import dim_symbol  # noqa: E402
from diagalg.model import Diagram, Expr, Node, TensorDecl, tensor_op  # noqa: E402

n = dim_symbol("n")
A = TensorDecl("A", ("i", "j"), (n, n))
Y = TensorDecl("Y", ("a", "b", "c"), (n, n, n), symmetric=(("a", "b", "c"),))
T = TensorDecl("T", ("i", "j"), (n, n), antisymmetric=(("i", "j"),))
Q = TensorDecl("Q", ("a", "b", "c", "d"), (n, n, n, n), symmetric=(("a", "b", "c", "d"),))


def diagram(nodes: list[Node]) -> Diagram:
    edges = {e for nd in nodes for e in nd.edges}
    return Diagram.build(nodes, {e: n for e in edges}, {})


def ring(decls: list[TensorDecl], prefix: str) -> list[Node]:
    k = len(decls)
    return [Node(tensor_op(decls[t]), (f"{prefix}{t}", f"{prefix}{(t + 1) % k}")) for t in range(k)]


def size(d: Diagram) -> int:
    """Vertices of the coloured graph (nodes + ports + edges + labels)."""
    return len(d.nodes) + sum(len(nd.edges) for nd in d.nodes) + len(d.edge_dims) + len(d.free)


def trace_power(k: int) -> tuple[Expr, Expr]:
    one = diagram(ring([A] * k, "e"))
    two = diagram(ring([A] * (k // 2), "a") + ring([A] * (k // 2), "b"))
    return Expr.single(one), Expr.single(two)


def rings(k: int) -> tuple[Expr, Expr]:
    decls = [TensorDecl(f"A{t}", ("i", "j"), (n, n)) for t in range(k)]
    one = diagram(ring(decls, "e"))
    rot = k // 3
    nodes = ring(decls[rot:] + decls[:rot], "z")
    random.Random(1).shuffle(nodes)
    return Expr.single(one), Expr.single(diagram(nodes))


def cubic(g: nx.Graph, decl: TensorDecl) -> Diagram:
    legs: dict[int, list[str]] = {}
    for t, (u, v) in enumerate(g.edges()):
        legs.setdefault(u, []).append(f"e{t}")
        legs.setdefault(v, []).append(f"e{t}")
    return diagram([Node(tensor_op(decl), tuple(legs[u])) for u in sorted(legs)])


def forty_cubic() -> tuple[Expr, Expr]:
    g1 = nx.random_regular_graph(3, 40, seed=1)
    g2 = nx.random_regular_graph(3, 40, seed=2)
    return Expr.single(cubic(g1, Y)), Expr.single(cubic(g2, Y))


def forty_cubic_relabelled() -> tuple[Expr, Expr]:
    g1 = nx.random_regular_graph(3, 40, seed=1)
    perm = list(range(40))
    random.Random(3).shuffle(perm)
    g2 = nx.relabel_nodes(g1, dict(enumerate(perm)))
    return Expr.single(cubic(g1, Y)), Expr.single(cubic(g2, Y))


def torus(k: int, twist: int) -> Diagram:
    """A k x k periodic lattice of a symmetric 4-leg tensor (rows glued with a twist)."""
    g = nx.Graph()
    for r in range(k):
        for c in range(k):
            g.add_edge((r, c), (r, (c + 1) % k))
            if r + 1 < k:
                g.add_edge((r, c), (r + 1, c))
            else:
                g.add_edge((r, c), (0, (c + twist) % k))
    g = nx.convert_node_labels_to_integers(g)
    return cubic(g, Q)


def big_torus() -> tuple[Expr, Expr]:
    return Expr.single(torus(50, 0)), Expr.single(torus(50, 1))


def big_trace() -> tuple[Expr, Expr]:
    return trace_power(5000)


def antisym_trace() -> tuple[Expr, Expr]:
    """tr(T^5001) == 0 for antisymmetric T (found by an odd automorphism)."""
    return Expr.single(diagram(ring([T] * 5001, "e"))), Expr.scalar(0)


def run(name: str, make: Callable[[], tuple[Expr, Expr]]) -> None:
    a, b = make()
    verts = sum(size(t.diagram) for t in a.terms + b.terms)
    clear_caches()
    t0 = time.perf_counter()
    result = equal(a, b)
    dt = time.perf_counter() - t0
    print(f"{name:<48} {verts:>9} {str(result):>7} {dt * 1000:>10.1f}")


def main() -> None:
    print(f"{'case':<48} {'vertices':>9} {'equal':>7} {'ms':>10}")
    print("-" * 77)
    for k in (20, 40, 60, 200):
        run(f"tr(A^{k}) == tr(A^{k // 2})^2", lambda k=k: trace_power(k))
    for k in (100, 500, 2000):
        run(f"ring of {k} distinct matrices, rotated + renamed", lambda k=k: rings(k))
    run("40 x symmetric Y, two cubic wirings", forty_cubic)
    run("40 x symmetric Y, same wiring relabelled", forty_cubic_relabelled)
    run("tr(A^5000) == tr(A^2500)^2 (20k vertices each)", big_trace)
    run("tr(T^5001) == 0, T antisymmetric", antisym_trace)
    run("50x50 torus of sym. 4-leg vs twisted (17.5k each)", big_torus)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
