"""The paper's figures as diagalg draws them: the pictures the golden tests hold still.

Each figure is one small expression built from model objects (no parser, so a change
to the language cannot move a golden picture; only a change to the drawing can):

- ``ring``: the trace of a product of four matrices, a closed ring;
- ``svd``: ``U[i, k] s[k] V[j, k]``, the two isometries' triangles around the copy dot
  of the singular values;
- ``mps``: a left-canonical matrix product state, a flat train of isometries with its
  physical legs below;
- ``norm``: the ladder ⟨ψ|ψ⟩ of that train, its conjugate above;
- ``transpose``: ``D[i, j] + D[j, i]``, the second shape turned over.

tests/test_render_golden.py compares each, rendered by headless Chromium, with its
PNG in tests/golden/; ``make goldens`` (scripts/make_goldens.py) redraws them after
an intended change to the drawing (docs/drawing.md).
"""

from __future__ import annotations

from ..model import Expr
from .legend import _decl, _product, _sum

A = _decl("A", "i j")
B = _decl("B", "i j")
C = _decl("C", "i j")
D = _decl("D", "i j")
U = _decl("U", "i k", structure="isometry", inputs=("k",), outputs=("i",))
V = _decl("V", "j k", structure="isometry", inputs=("k",), outputs=("j",))
s = _decl("s", "k")
# a left-canonical train: each site an isometry from its right bond to its left bond and
# physical leg; complex, so that the norm's upper row is drawn conjugated (L1*)
L1 = _decl("L1", "p b", structure="isometry", inputs=("b",), outputs=("p",), is_complex=True)
L2 = _decl("L2", "a p b", structure="isometry", inputs=("b",), outputs=("a", "p"), is_complex=True)
L3 = _decl("L3", "a p", is_complex=True)


def _mps(bonds: str, conj: bool) -> list[tuple]:
    b1, b2 = bonds.split()
    how = ("conj",) if conj else ()
    return [(L1, f"p1 {b1}", *how), (L2, f"{b1} p2 {b2}", *how), (L3, f"{b2} p3", *how)]


#: (name, what it shows, expression), in the order the tests and the script go through them
FIGURES: list[tuple[str, str, Expr]] = [
    (
        "ring",
        "A[i, j] B[j, k] C[k, l] D[l, i]: a trace, drawn as a ring",
        _product((A, "i j"), (B, "j k"), (C, "k l"), (D, "l i")),
    ),
    ("svd", "U[i, k] s[k] V[j, k]: isometry triangles around the copy dot", _product((U, "i k"), (s, "k"), (V, "j k"))),
    ("mps", "a left-canonical matrix product state: a flat train", _product(*_mps("b1 b2", False))),
    ("norm", "<psi|psi> of that train: a ladder", _product(*_mps("c1 c2", True), *_mps("b1 b2", False))),
    ("transpose", "D[i, j] + D[j, i]: the transpose turned over", _sum(_product((D, "i j")), _product((D, "j i")))),
]
