"""Leg order on the shape: every picture is read back the way docs/drawing.md tells a
reader to read it, from the SVG's geometry alone.

A tensor's legs leave its shape at ports fixed by their declared order; the layout
may turn the whole shape over, and the flag (a small dark wedge on the edge) shows
how: it sits on the first leg's side and points along the edge towards the first
leg, and the legs follow round the shape in the direction it points. A triangle
(an isometry) has its outputs on its base and its inputs at its tip. So D[i, j]
and D[j, i] must read i, j and j, i; C[i, j] + C[j, i] must show two different
terms; the report's two sides of ``assert C[i, j] != C[j, i]`` two different
pictures; and the transpose of every tensor of examples/ that is not symmetric
must draw differently from the tensor itself.
"""

from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

import diagalg
from diagalg.model import BoxOp, BubbleOp, DerivOp, TensorOp
from diagalg.render import let_opened, render
from diagalg.render.scene import picture
from diagalg.render.shapes import base_name, obstacle
from diagalg.render.vertices import symmetric_ports
from diagalg.render.wires import segment_hits
from strategies import cases

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

DECLS = """
dim n, m, r <= n
tensor C[i: n, j: n]
tensor D[i: n, j: m]
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor x[i: n]
tensor T[i: n, j: n, k: n]
tensor T4[i: n, j: n, k: n, l: n]
tensor T5[a: n, b: n, c: n, d: n, e: n]
tensor S[i: n, j: n] symmetric(i, j)
tensor X[i: n, j: n] invertible
tensor Z[i: n, j: n] complex
tensor V[a: n, b: r] isometry(b -> a)
tensor W[a: n, b: n, c: n] isometry(b, c -> a)
tensor Q[a: n, b: n] unitary
tensor R[i: r, j: r]
dim d, bond
tensor A1[s: d, b: bond]
tensor A2[a: bond, s: d, b: bond]
tensor A3[a: bond, s: d]
let M[i, j] = A[i, k] B[k, j]
"""


@pytest.fixture(scope="module")
def prog():
    return diagalg.parse(DECLS)


# --------------------------------------------------------------------------- reading a picture


@dataclass
class Drawn:
    """A shape as a reader sees it: its name, kind, outline (corners in drawing order) and
    the labels of its legs in the order the convention reads them (None: no order shown)."""

    name: str
    kind: str
    outline: list[tuple[float, float]]
    flagged: bool
    legs: tuple[str, ...] | None


def _points(text: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in text.split()]


def _perimeter_position(outline, p) -> tuple[float, float]:
    """(distance along the outline from its first corner to the point nearest p, that nearest distance)."""
    best, at, done = math.inf, 0.0, 0.0
    for a, b in zip(outline, outline[1:] + outline[:1]):
        ex, ey = b[0] - a[0], b[1] - a[1]
        seg = math.hypot(ex, ey)
        t = max(0.0, min(1.0, ((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / (seg * seg)))
        d = math.hypot(a[0] + t * ex - p[0], a[1] + t * ey - p[1])
        if d < best:
            best, at = d, done + t * seg
        done += seg
    return at, best


def _perimeter(outline) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(outline, outline[1:] + outline[:1]))


def read(svg: str) -> list[Drawn]:
    """Every tensor-like shape of the drawing with its legs read by the convention: start at
    the flag, go round the outline in the direction it points; a triangle without a flag
    reads its base leg, then its tip leg. A leg is named by the label on its wire, or, for a
    free leg, by the label at the wire's far end (following wires through bubble walls)."""
    root = ET.fromstring(svg)
    wires = [
        (_points(p.get("points")), p.get("data-name") or "")
        for p in root.iter(f"{SVG}polyline")
        if p.get("class") == "leg"
    ]
    free = [
        (float(t.get("x")), float(t.get("y")), t.text)
        for t in root.iter(f"{SVG}text")
        if t.get("class") == "free-label"
    ]

    def far_label(k: int, end: int) -> str:
        seen = {k}
        pts, name = wires[k]
        while not name:
            tip = pts[-1] if end == 0 else pts[0]
            nxt = [
                (j, e)
                for j, (q, _) in enumerate(wires)
                if j not in seen
                for e, c in ((0, q[0]), (1, q[-1]))
                if math.dist(c, tip) < 1.0
            ]
            if not nxt:
                near = [(math.dist((x, y - 4), tip), text) for x, y, text in free]
                close = [text for d, text in sorted(near) if d < 24]
                return close[0] if close else "?"
            k, end = nxt[0]
            seen.add(k)
            pts, name = wires[k]
        return name

    out = []
    for g in root.iter(f"{SVG}g"):
        kind = g.get("class")
        if kind not in ("tensor", "square", "triangle"):
            continue
        rect = g.find(f"{SVG}rect")
        if rect is not None:
            x0, y0 = float(rect.get("x")), float(rect.get("y"))
            x1, y1 = x0 + float(rect.get("width")), y0 + float(rect.get("height"))
            outline = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        else:
            outline = _points(next(p for p in g.iter(f"{SVG}polygon") if p.get("class") != "flag").get("points"))
        flag = next((p for p in g.iter(f"{SVG}polygon") if p.get("class") == "flag"), None)
        ends = []  # (position along the outline, label)
        for k, (pts, _) in enumerate(wires):
            for end, p in ((0, pts[0]), (1, pts[-1])):
                at, dist = _perimeter_position(outline, p)
                if dist < 0.75:
                    ends.append((at, far_label(k, end)))
        total = _perimeter(outline)
        legs: tuple[str, ...] | None = None
        if flag is not None:
            corners = _points(flag.get("points"))
            inner = max(corners, key=lambda c: _perimeter_position(outline, c)[1])
            on_edge = sorted((c for c in corners if c is not inner), key=lambda c: math.dist(c, inner))
            start, towards = (_perimeter_position(outline, c)[0] for c in on_edge)
            forward = (towards - start) % total < total / 2
            key = (lambda at: (at - start) % total) if forward else (lambda at: (start - at) % total)
            legs = tuple(label for _, label in sorted(ends, key=lambda e: key(e[0])))
        elif kind == "triangle" and len(ends) == 2:
            # the base is the side whose length differs from the other two; the tip faces it
            sides = [math.dist(outline[i], outline[(i + 1) % 3]) for i in range(3)]
            base = max(range(3), key=lambda i: min(abs(sides[i] - sides[j]) for j in range(3) if j != i))
            tip = outline[(base + 2) % 3]
            legs = tuple(
                label for _, label in sorted(ends, key=lambda e: math.dist(_at(outline, e[0]), tip), reverse=True)
            )
        out.append(Drawn(g.get("data-name"), kind, outline, flag is not None, legs))
    return out


def _at(outline, position: float) -> tuple[float, float]:
    for a, b in zip(outline, outline[1:] + outline[:1]):
        seg = math.dist(a, b)
        if position <= seg:
            t = position / seg
            return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        position -= seg
    return outline[0]


def readings(svg: str) -> Counter:
    return Counter((d.name, d.legs) for d in read(svg))


def expected(expr) -> Counter:
    """What the convention should read for every tensor of a one-level expression: each
    port's label in the node's port order (a triangle: base legs, then tip legs; a
    tensor symmetric in all its legs: no order)."""
    out: Counter = Counter()
    for term in expr.terms:
        d = term.diagram
        ends = {e: len(d.incidence[e]) + len(d.edge_labels[e]) for e, _ in d.edge_dims}
        for node in d.nodes:
            op = node.op
            folded_let = isinstance(op, BoxOp) and op.name
            if not (isinstance(op, TensorOp) or folded_let) or len(op.ports) < 2:
                continue
            labels = {}
            for port, e in zip(op.ports, node.edges):
                if d.edge_labels[e]:
                    labels[port] = d.edge_labels[e][0] if ends[e] == 2 else "?"
                else:
                    labels[port] = base_name(e)
            order = list(op.ports)
            if folded_let:
                out[(op.name, tuple(labels[p] for p in order))] += 1
                continue
            if symmetric_ports(op):  # no flag: any order reads right
                out[(op.decl.name, None)] += 1
                continue
            if op.decl.structure == "isometry" and op.inv % 2 == 0:
                order = [p for p in op.ports if p not in op.decl.inputs] + [p for p in op.ports if p in op.decl.inputs]
            out[(op.decl.name, tuple(labels[p] for p in order))] += 1
    return out


def untitled(svg: str) -> str:
    return re.sub(r"<title>.*?</title>", "", svg)


# --------------------------------------------------------------------------- a matrix and its transpose


def test_a_matrix_leaves_its_first_leg_on_the_flagged_side(prog):
    (d,) = read(render(prog.expr("D[i, j]")))
    assert d.flagged and d.legs == ("i", "j")
    (d,) = read(render(prog.expr("D[j, i]")))
    assert d.flagged and d.legs == ("j", "i")


def test_a_transpose_is_the_shape_turned_over(prog):
    # the free labels keep their places (i left, j right); the second shape is turned over
    straight, turned = render(prog.expr("C[i, j]")), render(prog.expr("C[j, i]"))
    assert untitled(straight) != untitled(turned)
    for svg in (straight, turned):
        root = ET.fromstring(svg)
        labels = sorted((float(t.get("x")), t.text) for t in root.iter(f"{SVG}text") if t.get("class") == "free-label")
        assert [text for _, text in labels] == ["i", "j"]
    flags = [
        next(p for p in ET.fromstring(svg).iter(f"{SVG}polygon") if p.get("class") == "flag")
        for svg in (straight, turned)
    ]
    xs = [sum(x for x, _ in _points(f.get("points"))) / 3 for f in flags]
    (shape,) = read(straight)
    centre = sum(x for x, _ in shape.outline) / 4
    assert xs[0] < centre < xs[1]  # the flag moved to the other side


def test_a_sum_of_a_matrix_and_its_transpose_shows_two_different_terms(prog):
    svg = render(prog.expr("C[i, j] + C[j, i]"))
    assert readings(svg) == Counter({("C", ("i", "j")): 1, ("C", ("j", "i")): 1})


def test_a_symmetric_matrix_has_no_flag_and_its_transpose_looks_the_same(prog):
    (s,) = read(render(prog.expr("S[i, j]")))
    assert not s.flagged
    assert untitled(render(prog.expr("S[i, j]"))) == untitled(render(prog.expr("S[j, i]")))


def test_conjugates_and_inverses_keep_their_flags(prog):
    for text, legs in (
        ("conj(Z)[i, j]", ("i", "j")),
        ("conj(Z)[j, i]", ("j", "i")),
        ("inv(X)[i, j]", ("i", "j")),
        ("inv(X)[j, i]", ("j", "i")),
    ):
        (shape,) = read(render(prog.expr(text)))
        assert shape.flagged and shape.legs == legs, text


# --------------------------------------------------------------------------- more legs, triangles


@pytest.mark.parametrize(
    "text",
    [
        "T[i, j, k]",
        "T[j, i, k]",
        "T[k, j, i]",
        "T[i, k, j]",
        "T4[i, j, k, l]",
        "T4[l, k, j, i]",
        "T4[j, i, l, k]",
        "T5[a, b, c, d, e]",
        "T5[e, d, c, b, a]",
    ],
)
def test_more_legs_are_read_round_the_shape_from_the_flag(prog, text):
    (shape,) = read(render(prog.expr(text)))
    labels = tuple(re.findall(r"\w+", text.split("[", 1)[1]))
    assert shape.flagged and shape.legs == labels


def test_a_triangle_has_its_outputs_on_the_base_and_its_inputs_at_the_tip(prog):
    (v,) = read(render(prog.expr("V[a, b]")))
    assert not v.flagged and v.legs == ("a", "b")  # one leg each: the shape tells them apart
    (v,) = read(render(prog.expr("V[b, a]")))
    assert v.legs == ("b", "a")
    for text, legs in (("W[a, b, c]", ("a", "b", "c")), ("W[a, c, b]", ("a", "c", "b"))):
        (w,) = read(render(prog.expr(text)))
        assert w.flagged and w.legs == legs, text


NETWORKS = {
    "chain": "A[i, j] B[j, k] C[k, l] A[l, p]",
    "chain with a transpose": "A[i, j] B[k, j] C[k, l]",
    "ring": "A[i, j] B[j, k] C[k, l] A[l, i]",
    "trace": "A[i, i]",
    "partial trace": "T[i, i, k]",
    "two legs between two tensors": "A[i, j] B[i, j]",
    "two legs crossed": "A[i, j] B[j, i]",
    "matrix product state": "A1[s1, a] A2[a, s2, b] A2[b, s3, c] A3[c, s4]",
    "its norm": "A1[s1, a] A2[a, s2, b] A3[b, s3] A1[s1, c] A2[c, s2, e] A3[e, s3]",
    "isometry cancels": "V[a, b] V[a, c] R[c, d]",
    "three-leg star": "T[i, j, k] x[i] A[j, l] B[k, p]",
    "unitary and inverse": "Q[a, b] inv(X)[b, c] X[c, d]",
    "folded let": "M[i, j] x[i]",
    "in a bubble": "x[i] exp(A[i, j] B[k, j])",
    "mirrored in a bubble": "C[k, i] exp(A[i, j] B[j, l])",
    "a sum": "A[i, j] + B[j, i] - 2 * C[i, k] A[j, k]",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_in_random_expressions_every_leg_attaches_at_its_declared_port(case):
    """Chains, rings, trees, copy tensors, structured pairs under conj and inv, sums with
    coefficients (those with bubbles or parenthesised sums are read elsewhere)."""
    expr = case.expr()
    nested = (BoxOp, BubbleOp, DerivOp)
    assume(
        not any(
            isinstance(n.op, nested) and not (isinstance(n.op, BoxOp) and n.op.name)
            for t in expr.terms
            for n in t.diagram.nodes
        )
    )
    assert readings(render(expr)) == expected(expr), case.text


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_leg_attaches_at_its_declared_port(prog, name):
    expr = prog.expr(NETWORKS[name])
    got = readings(render(expr))
    want = expected(expr)
    if name.startswith(("in a bubble", "mirrored")):  # contents: read through the bubble's wall
        want = expected(prog.expr(NETWORKS[name].replace("exp(", "(")))
    assert got == want, name


def test_wires_go_round_the_shapes_they_do_not_attach_to(prog):
    for name in (
        "chain",
        "chain with a transpose",
        "ring",
        "trace",
        "partial trace",
        "two legs between two tensors",
        "two legs crossed",
        "matrix product state",
        "its norm",
        "isometry cancels",
        "three-leg star",
    ):
        pic = picture(prog.expr(NETWORKS[name]))
        outlines = [obstacle(s) for s in pic.shapes]
        for line in pic.lines:
            for a, b in zip(line.points, line.points[1:]):
                through = [pic.shapes[k].name for k, o in enumerate(outlines) if segment_hits(a, b, o, pad=-1.0)]
                assert not through, (name, line.points, through)


# --------------------------------------------------------------------------- the examples


@functools.cache
def load_example(where: str):
    return diagalg.load(ROOT / where)


def example_tensors():
    """Every tensor with two or more legs declared in examples/ (once each)."""
    seen, out = set(), []
    for path in sorted((ROOT / "examples").rglob("*.diag")):
        program = load_example(path.relative_to(ROOT).as_posix())
        for name, decl in program.tensors.items():
            key = (name, decl.legs, decl.dims, decl.structure, decl.symmetric, decl.antisymmetric)
            if len(decl.legs) >= 2 and key not in seen:
                seen.add(key)
                out.append((path.relative_to(ROOT).as_posix(), name))
    return out


EXAMPLE_TENSORS = example_tensors()


def test_the_examples_have_many_tensors_to_transpose():
    assert len(EXAMPLE_TENSORS) > 100


@pytest.mark.parametrize("where,name", EXAMPLE_TENSORS, ids=[f"{p}:{n}" for p, n in EXAMPLE_TENSORS])
def test_the_transpose_of_every_example_tensor_draws_differently(where, name):
    from diagalg.model import tensor_op

    program = load_example(where)
    decl = program.tensors[name]
    op = tensor_op(decl)
    labels = [f"p{k}" for k in range(len(decl.legs))]
    classes, _ = op.port_classes()
    pair = next(
        (
            (a, b)
            for a in range(len(labels))
            for b in range(a + 1, len(labels))
            if classes[a] != classes[b] or classes[a].startswith("a:")
        ),
        None,
    )
    straight = program.expr(f"{name}[{', '.join(labels)}]")
    if pair is None:  # symmetric in all its legs: the transposes are equal and may look alike
        assert symmetric_ports(op)
        assert not any(d.flagged for d in read(render(straight)))
        return
    swapped = list(labels)
    swapped[pair[0]], swapped[pair[1]] = swapped[pair[1]], swapped[pair[0]]
    transposed = program.expr(f"{name}[{', '.join(swapped)}]")
    a, b = render(straight), render(transposed)
    assert untitled(a) != untitled(b)
    assert readings(a) == expected(straight) and readings(b) == expected(transposed)
    assert readings(a) != readings(b)


# --------------------------------------------------------------------------- the report, TikZ


def test_the_reports_two_sides_of_a_transpose_assertion_are_two_different_pictures(write_diag, cli, tmp_path):
    f = write_diag("transpose.diag", "dim n\ntensor C[i: n, j: n]\nassert C[i, j] != C[j, i]\n")
    run = cli("check", "--html", tmp_path / "report.html", f)
    assert run.returncode == 0, run.stdout + run.stderr
    page = (tmp_path / "report.html").read_text()
    section = page.split('data-kind="assert"')[1].split("</section>")[0]
    svgs = re.findall(r"<svg.*?</svg>", section, re.S)
    assert len(svgs) == 2
    assert untitled(svgs[0]) != untitled(svgs[1])
    assert [readings(s) for s in svgs] == [Counter({("C", ("i", "j")): 1}), Counter({("C", ("j", "i")): 1})]


def test_tikz_draws_the_same_flags_as_the_svg(prog):
    expr = prog.expr(NETWORKS["a sum"])
    flags = sum(d.flagged for d in read(render(expr)))
    assert flags == 4
    assert render(expr, prog, "tikz").count(r"\fill[black!85]") == flags


# --------------------------------------------------------------------------- drawing a let


def test_drawing_a_bare_let_draws_its_definition_one_level_deep(prog, write_diag, cli, tmp_path):
    f = write_diag("lets.diag", DECLS + 'let y[i] = M[i, j] x[j]\ndraw y to "y.svg"\ndraw y[k] to "yk.svg"\n')
    run = cli("check", f)
    assert run.returncode == 0, run.stdout + run.stderr
    names = sorted(g.get("data-name") for g in ET.parse(tmp_path / "y.svg").getroot().iter(f"{SVG}g"))
    assert names == ["M", "x"]  # the definition, with the let inside it still a box
    names = sorted(g.get("data-name") for g in ET.parse(tmp_path / "yk.svg").getroot().iter(f"{SVG}g"))
    assert names == ["y"]  # inside an expression (here: relabelled) a let stays a box
    # the command line: the same by default, one box with --folded, everything with --unfold
    for flags, want in (((), ["M", "x"]), (("--folded",), ["y"]), (("--unfold",), ["A", "B", "x"])):
        run = cli("draw", f, "y", *flags, "-o", tmp_path / "out.svg")
        assert run.returncode == 0, run.stderr
        got = sorted(g.get("data-name") for g in ET.parse(tmp_path / "out.svg").getroot().iter(f"{SVG}g"))
        assert got == want, flags
    run = cli("draw", f, "y", "--folded", "--unfold")
    assert run.returncode == 2 and "exclude each other" in run.stderr
    # the report shows the picture the statement wrote
    run = cli("check", "--html", tmp_path / "report.html", f)
    section = (tmp_path / "report.html").read_text().split('data-kind="draw"')[1].split("</section>")[0]
    assert 'data-name="M"' in section and 'data-name="y"' not in section
    assert let_opened(prog.expr("M[i, j]")) == prog.lets["M"].expr
    assert let_opened(prog.expr("M[j, i]")) == prog.expr("M[j, i]")


# --------------------------------------------------------------------------- the documented picture


def test_the_pictures_of_docs_drawing_are_what_the_renderer_draws(tmp_path):
    from diagalg.render.legend import write_legend

    made = write_legend(tmp_path)
    kept = ROOT / "docs" / "pictures" / "drawing"
    assert sorted(p.name for p in made) == sorted(p.name for p in kept.glob("*.svg")), (
        "run: .venv/bin/python -m diagalg.render.legend docs/pictures/drawing"
    )
    for p in made:
        assert untitled(p.read_text()) == untitled((kept / p.name).read_text()), p.name
    text = (ROOT / "docs" / "drawing.md").read_text()
    for p in made:
        assert f"pictures/drawing/{p.name}" in text, p.name
    for cls in (
        "tensor",
        "vector",
        "triangle",
        "square",
        "dot",
        "bubble",
        "box",
        "flag",
        "leg",
        "free-label",
        "leg-label",
        "coeff-label",
        "data-name",
        "data-index",
    ):
        assert f"`{cls}`" in text or f".{cls}" in text, cls


# --------------------------------------------------------------------------- as a browser shows it


def _dark_pixels_beside_the_edges(svg: str, tmp_path: Path, stem: str) -> tuple[int, int]:
    """Dark pixels just inside the left and the right edge of the drawing's one rectangle, in
    headless Chromium's screenshot (the name in the middle is not counted)."""
    from browser import read_png, screenshot

    root = ET.fromstring(svg)
    rect = [r for r in root.iter(f"{SVG}rect") if r.get("rx")][0]  # the tensor (the page is the other)
    x0, y0 = float(rect.get("x")), float(rect.get("y"))
    x1, y1 = x0 + float(rect.get("width")), y0 + float(rect.get("height"))
    page = tmp_path / f"{stem}.html"
    page.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{svg}</body></html>", encoding="utf-8")
    width, height, rows = read_png(screenshot(page, tmp_path / f"{stem}.png", 300, 200))

    def dark(xa: float, xb: float) -> int:
        return sum(
            1
            for y in range(int(y0) + 3, int(y1) - 2)
            for x in range(int(xa), int(xb))
            if max(rows[y][3 * x : 3 * x + 3]) < 100
        )

    return dark(x0 + 2.5, x0 + 9), dark(x1 - 9, x1 - 2.5)


def test_in_the_browser_the_flag_is_seen_on_the_transposed_side(prog, tmp_path):
    from browser import MISSING, chromium

    if chromium() is None:
        pytest.skip(MISSING)
    left, right = _dark_pixels_beside_the_edges(render(prog.expr("D[i, j]")), tmp_path, "straight")
    assert left >= 10 and right == 0
    left, right = _dark_pixels_beside_the_edges(render(prog.expr("D[j, i]")), tmp_path, "turned")
    assert left == 0 and right >= 10
