"""The pictures of docs/drawing.md: the drawing conventions, drawn by the renderer itself.

``python -m diagalg.render.legend DIR`` writes them to DIR (the docs keep them in
docs/pictures/drawing/; tests/test_render_ports.py checks they are current). They are
built from model objects directly, so they need no parser: each is one small
expression whose picture shows one rule of the leg-order convention.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sympy

from ..model import Diagram, Expr, Node, TensorDecl, tensor_op
from . import render

_n = sympy.Symbol("n")


def _decl(name: str, legs: str, **props: Any) -> TensorDecl:
    names = tuple(legs.split())
    return TensorDecl(name, names, tuple(_n for _ in names), **props)


def _product(*factors: tuple) -> Expr:
    """The product of ``(decl, labels)`` or ``(decl, labels, "conj"/"inv")`` factors, einsum
    style (a label used once is free)."""
    nodes: list[Node] = []
    uses: dict[str, int] = {}
    for decl, labels, *how in factors:
        ls = tuple(labels.split())
        nodes.append(Node(tensor_op(decl, conj="conj" in how, inv=1 if "inv" in how else 0), ls))
        for label in ls:
            uses[label] = uses.get(label, 0) + 1
    dims = {label: _n for label in uses}
    free = {label: label for label, k in uses.items() if k == 1}
    return Expr.single(Diagram.build(nodes, dims, free))


def _sum(*parts: Expr) -> Expr:
    return Expr.of([t for p in parts for t in p.terms], parts[0].free_dims)


def _sized_chain() -> Expr:
    """``X[s, e] WQ[e, f] WK[t, f]`` with s, t of size 4, e of 768 (a model width) and f
    of 64 (a head size): three widths of wire."""
    size = {"s": 4, "e": 768, "f": 64, "t": 4}
    decls = [
        TensorDecl(name, tuple(legs.split()), tuple(sympy.Integer(size[x]) for x in legs.split()))
        for name, legs in (("X", "s e"), ("WQ", "e f"), ("WK", "t f"))
    ]
    nodes = [Node(tensor_op(d), d.legs) for d in decls]
    dims = {label: sympy.Integer(n) for label, n in size.items()}
    return Expr.single(Diagram.build(nodes, dims, {"s": "s", "t": "t"}))


D = _decl("D", "i j")
T = _decl("T", "i j k")
T4 = _decl("T", "i j k l")
T5 = _decl("T", "a b c d e")
S = _decl("S", "i j", symmetric=(("i", "j"),))
V = _decl("V", "a b", structure="isometry", inputs=("b",), outputs=("a",))
W = _decl("W", "a b c", structure="isometry", inputs=("b", "c"), outputs=("a",))
X = _decl("X", "i j", structure="invertible", inputs=("j",), outputs=("i",))
Z = _decl("Z", "i j", is_complex=True)
A = _decl("A", "i j")
B = _decl("B", "i j")
x = _decl("x", "i")
C = _decl("C", "i j")
Q = _decl("Q", "i j")
R = _decl("R", "i j")

#: (file name, what it shows, expression)
LEGEND: list[tuple[str, str, Expr]] = [
    ("matrix.svg", "D[i, j]: the first leg leaves on the flagged side", _product((D, "i j"))),
    (
        "transpose.svg",
        "D[i, j] + D[j, i]: the transpose is the shape turned over",
        _sum(_product((D, "i j")), _product((D, "j i"))),
    ),
    ("three-legs.svg", "T[i, j, k]: left, bottom, right", _product((T, "i j k"))),
    ("three-legs-permuted.svg", "T[k, j, i]: turned over", _product((T, "k j i"))),
    ("four-legs.svg", "T[i, j, k, l]: one leg a side, counter-clockwise", _product((T4, "i j k l"))),
    ("five-legs.svg", "T[a, b, c, d, e]: more legs share the sides", _product((T5, "a b c d e"))),
    (
        "isometry.svg",
        "V[a, b] V[a, c], V an isometry(b -> a): tips at the small legs",
        _product((V, "a b"), (V, "a c")),
    ),
    (
        "isometry-legs.svg",
        "W[a, b, c] + W[a, c, b], W an isometry(b, c -> a): inputs at the tip",
        _sum(_product((W, "a b c")), _product((W, "a c b"))),
    ),
    (
        "symmetric.svg",
        "S[i, j] + S[j, i] with S symmetric: no flag, and equal pictures",
        _sum(_product((S, "i j")), _product((S, "j i"))),
    ),
    (
        "inverse-conjugate.svg",
        "inv(X)[j, k] X[k, i] and conj(Z)[k, j] Z[k, i]: marks kept",
        _sum(_product((X, "j k", "inv"), (X, "k i")), _product((Z, "k j", "conj"), (Z, "k i"))),
    ),
    (
        "network.svg",
        "x[i] A[i, j] B[k, j]: each shape turned the way its wires run, its flag showing how",
        _product((x, "i"), (A, "i j"), (B, "k j")),
    ),
    (
        "loop.svg",
        "A[i, j] B[j, k] C[k, i], however written: the first name on the left, the next above",
        _product((C, "k i"), (A, "i j"), (B, "j k")),
    ),
    (
        "thick.svg",
        "X[s, e] WQ[e, f] WK[t, f] with s, t = 4, e = 768, f = 64: wider wires for larger sizes",
        _sized_chain(),
    ),
    (
        "stacked-sum.svg",
        "a sum whose row would be a long strip: its terms stacked, signs on the left",
        _sum(
            _product(*[((A, B, C)[k % 3], f"l{k} l{k + 1}") for k in range(12)]),
            _product(*[((B, C, A)[k % 3], f"l{k} l{k + 1}") for k in range(12)]).scaled(sympy.Integer(-2)),
        ),
    ),
]

#: (file name, what it shows, the steps of one derivation), drawn as the report draws steps
STEPS: list[tuple[str, str, Expr]] = [
    (
        "steady-0.svg",
        "a derivation's start: Q[a, b] V[k, b] V[k, c] R[c, d] S[d, i]",
        _product((Q, "a b"), (V, "k b"), (V, "k c"), (R, "c d"), (S, "d i")),
    ),
    (
        "steady-1.svg",
        "its next step, V V cancelled: R and S stay where they were, Q moves in",
        _product((Q, "a c"), (R, "c d"), (S, "d i")),
    ),
]


def write_legend(out: str | Path) -> list[Path]:
    """Write every picture of :data:`LEGEND` to the directory ``out``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, _, expr in LEGEND:
        path = out / name
        path.write_text(render(expr, None, "svg"), encoding="utf-8")
        written.append(path)
    from .scene import pictures
    from .svg import svg_document

    for (name, what, _), pic in zip(STEPS, pictures([e for _, _, e in STEPS])):
        path = out / name
        path.write_text(svg_document(pic, what), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m diagalg.render.legend DIR", file=sys.stderr)
        return 2
    for path in write_legend(args[0]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
