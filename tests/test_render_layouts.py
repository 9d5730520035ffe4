"""Layouts people can read and trust: large drawings are figures rather than strips,
trains lie flat, a closed loop is always drawn the same way round, and the steps of a
derivation hold still.

Everything is judged from the SVG a reader gets (or from the page Chromium shows),
with the figures of :mod:`diagalg.render.measure`: aspect ratio, labels that overlap,
wires through shapes they do not attach to.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import diagalg
from diagalg.engine import unfold
from diagalg.render import render
from diagalg.render.measure import label_overlaps, readability, text_box, wires_through
from diagalg.render.scene import overlaps, picture, pictures
from diagalg.render.shapes import Line, Picture, Shape, Text
from strategies import cases

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

DECLS = """
dim n, r <= n, d, bond
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor D[i: n, j: n]
tensor x[i: n]
tensor V[a: n, b: r] isometry(b -> a)
tensor y[b: r]
tensor R[i: r, j: n]
tensor Q[i: n, j: r]
tensor S[i: n, j: n]
tensor A1[s: d, b: bond]
tensor T[a: bond, s: d, t: d, b: bond]
tensor A3[a: bond, s: d]
"""


@pytest.fixture(scope="module")
def prog():
    return diagalg.parse(DECLS)


def centres(svg: str) -> list[tuple[str, float, float]]:
    """(name, centre x, centre y) of every tensor rectangle of an SVG, in document order."""
    out = []
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        rect = g.find(f"{SVG}rect")
        if g.get("class") in ("tensor", "square") and rect is not None:
            out.append(
                (
                    g.get("data-name"),
                    float(rect.get("x")) + float(rect.get("width")) / 2,
                    float(rect.get("y")) + float(rect.get("height")) / 2,
                )
            )
    return out


def by_name(svg: str) -> dict[str, tuple[float, float]]:
    got = centres(svg)
    assert len({n for n, _, _ in got}) == len(got), "names must be unique here"
    return {n: (x, y) for n, x, y in got}


# --------------------------------------------------------------------------- the measures themselves


def test_the_measures_see_an_overlap_and_a_wire_through_a_shape():
    pic = Picture(
        200,
        100,
        shapes=[Shape("tensor", 100, 50, 40, 30, "A")],
        lines=[Line([(10, 50), (190, 50)])],  # straight through A, attached to nothing
        texts=[
            Text(20, 20, "q", "middle", "free"),
            Text(22, 21, "k", "middle", "leg"),
            Text(160, 80, "far", "middle", "free"),
        ],
    )
    assert wires_through(pic) == [(0, "A")]
    assert ("q", "k") in label_overlaps(pic) and not any("far" in pair for pair in label_overlaps(pic))
    pic.lines = [Line([(10, 50), (80, 50)])]  # ends on A's left side: attached
    assert wires_through(pic) == [] and ("far", "a wire") not in label_overlaps(pic)
    pic.lines.append(Line([(140, 77), (180, 77)]))  # through the label "far"
    assert ("far", "a wire") in label_overlaps(pic)
    x0, y0, x1, y1 = text_box(Text(50, 40, "abc", "end", "free"))
    assert x1 == 50 and x0 < 50 and y0 < 40 < y1


def test_a_wire_goes_the_long_way_round_a_large_shape_rather_than_through_it():
    from diagalg.render.wires import hits, route

    box = [(0.0, 0.0), (3000.0, 0.0), (3000.0, 2000.0), (0.0, 2000.0)]  # a big dashed box
    # out of a port on its left wall, pointing left, to a tensor far on its right
    points, through = route((0.0, 1000.0), (-1.0, 0.0), (3200.0, 1500.0), (-1.0, 0.0), [box])
    assert through == 0 and hits(points, [box]) == []


# --------------------------------------------------------------------------- large drawings


@pytest.mark.parametrize(
    "where,name",
    [
        ("examples/transformers/two_layer_paths.diag", "y2"),
        ("examples/transformers/gpt2_shapes.diag", "x2"),
        ("examples/transformers/gpt2_shapes.diag", "logits"),
    ],
)
def test_an_unfolded_transformer_is_a_figure_not_a_strip(where, name):
    pic = picture(unfold(diagalg.load(ROOT / where)[name]))
    r = readability(pic)
    assert r.aspect <= 4.0, (r.width, r.height)
    assert r.label_overlaps == 0, label_overlaps(pic)[:5]
    assert r.wires_through == 0, wires_through(pic)[:5]
    # the SVG says the same: its size is the picture's
    svg = render(unfold(diagalg.load(ROOT / where)[name]))
    root = ET.fromstring(svg)
    w, h = float(root.get("width")), float(root.get("height"))
    assert max(w, h) / min(w, h) <= 4.0


def test_draw_measure_prints_the_figures(cli):
    run = cli("draw", ROOT / "examples/transformers/two_layer_paths.diag", "y2", "--unfold", "--measure")
    assert run.returncode == 0, run.stderr
    m = re.fullmatch(
        r"(\d+) x (\d+) px \(aspect ([\d.]+)\), (\d+) label overlaps, (\d+) wires through shapes, "
        r"\d+ shapes, \d+ wires\n",
        run.stdout,
    )
    assert m, run.stdout
    w, h, aspect, overlaps, through = (float(g) for g in m.groups())
    assert abs(aspect - max(w, h) / min(w, h)) < 0.01 and aspect <= 4 and overlaps == through == 0


def test_a_long_sum_is_stacked_and_a_short_one_stays_a_row(prog):
    short = picture(prog.expr("A[i, j] + B[i, j]"))
    signs = [t for t in short.texts if t.role == "coeff"]
    assert len(signs) == 1 and short.width > 2 * short.height  # a row: A + B
    long_term = " ".join(f"{m}[i{k}, i{k + 1}]" for k, m in enumerate("ABCDABCDABCD"))
    pic = picture(prog.expr(f"{long_term} - 2 * {long_term.replace('A[', 'B[')}"))
    signs = [t for t in pic.texts if t.role == "coeff"]
    tensors = [s for s in pic.shapes if s.kind == "tensor"]
    rows = sorted({round(s.y) for s in tensors})
    assert len(rows) == 2  # one row of tensors per term, one below the other
    assert [t.text for t in signs] == ["− 2"] and signs[0].y > rows[0] + 10  # the sign beside its term
    left = [min(s.x - s.w / 2 for s in tensors if round(s.y) == row) for row in rows]
    assert abs(left[0] - left[1]) < 1.0  # the terms start at the same x
    assert (
        readability(pic).aspect < readability(picture(prog.expr(long_term))).aspect + 1e-9
        or pic.width < 2 * picture(prog.expr(long_term)).width
    )


@pytest.mark.parametrize(
    "text", ["A1[s1, a] T[a, s2, t2, b] A3[b, s3]", "A1[s1, a] T[a, s2, t2, b] T[b, s3, t3, c] A3[c, s4]"]
)
def test_a_train_lies_flat_even_with_two_physical_legs_on_a_site(prog, text):
    got = centres(render(prog.expr(text)))
    assert max(y for _, _, y in got) - min(y for _, _, y in got) < 0.5, got
    assert [n for n, _, _ in sorted(got, key=lambda c: c[1])][0] == "A1"
    # the ends' physical legs hang below it (a four-leg site's ports are fixed by its declared
    # order, left, bottom, right, top, so its second physical leg may leave sideways)
    free = {t.text: t for t in picture(prog.expr(text)).texts if t.role == "free"}
    assert free["s1"].y > got[0][2] + 20 and free[max(free, key=lambda s: s[1:])].y > got[0][2] + 20


# --------------------------------------------------------------------------- the same loop, the same way round


LOOPS = ["A[i, j] B[j, k] C[k, i]", "C[k, i] A[i, j] B[j, k]", "B[i, j] C[j, k] A[k, i]", "B[j, k] A[i, j] C[k, i]"]


def test_two_drawings_of_one_loop_come_out_the_same_way_round(prog):
    first = by_name(render(prog.expr(LOOPS[0])))
    assert first["A"][0] < min(first["B"][0], first["C"][0])  # the first name on the left
    assert first["B"][1] < first["C"][1]  # and the next one above
    for text in LOOPS[1:]:
        got = by_name(render(prog.expr(text)))
        assert all(math.dist(got[n], first[n]) < 0.5 for n in "ABC"), (text, got, first)


# --------------------------------------------------------------------------- steady derivations


STEPS = ["Q[a, b] V[k, b] V[k, c] R[c, d] S[d, i]", "Q[a, c] R[c, d] S[d, i]"]


def test_a_tensor_that_survives_a_step_keeps_its_place(prog):
    exprs = [prog.expr(s) for s in STEPS]
    before, after = (by_name_pic(p) for p in pictures(exprs))
    for name in ("R", "S"):
        assert math.dist(before[name], after[name]) < 0.5, name
    # drawn on its own the shorter chain starts further left: steadiness is the seeding
    alone = by_name_pic(picture(exprs[1]))
    assert math.dist(alone["R"], before["R"]) > 50
    # Q, which lost its neighbours V V, comes in just left of R (where the Vs were)
    assert before["Q"][0] < after["Q"][0] < after["R"][0]


def by_name_pic(pic: Picture) -> dict[str, tuple[float, float]]:
    return {s.name: (s.x, s.y) for s in pic.shapes if s.name}


def test_pictures_of_unrelated_steps_are_the_pictures_of_each(prog):
    exprs = [prog.expr("A[i, j] x[j]"), prog.expr("y[b] R[b, i] Q[i, c]")]
    steady = pictures(exprs)
    assert [by_name_pic(p) for p in steady] == [by_name_pic(picture(e)) for e in exprs]


CALC = (
    DECLS
    + """
calc Q[a, b] V[k, b] V[k, c] R[c, d] S[d, i]
   = Q[a, c] R[c, d] S[d, i]                   by isometry, delta
assert A[i, j] B[j, k] C[k, i] == C[k, i] A[i, j] B[j, k]
"""
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from conftest import _run_in_process

    d = tmp_path_factory.mktemp("steady")
    (d / "steady.diag").write_text(CALC)
    run = _run_in_process("check", "--html", d / "report.html", d / "steady.diag", cwd=d)
    assert run.returncode == 0, run.stdout + run.stderr
    return d / "report.html"


def _section_svgs(html: str, kind: str) -> list[str]:
    section = html.split(f'data-kind="{kind}"')[1].split("</section>")[0]
    return re.findall(r"<svg.*?</svg>", section, re.S)


def test_the_reports_calc_steps_hold_still(report):
    start, step = (by_name(s) for s in _section_svgs(report.read_text(), "calc"))
    assert math.dist(start["R"], step["R"]) < 0.5 and math.dist(start["S"], step["S"]) < 0.5
    left, right = (by_name(s) for s in _section_svgs(report.read_text(), "assert"))
    assert all(math.dist(left[n], right[n]) < 0.5 for n in "ABC")


#: appended to a copy of the report: records where Chromium draws each tensor, relative to its figure's drawing
PROBE = (
    "<script>for (const g of document.querySelectorAll('g.tensor')) {"
    " const s = g.closest('svg').getBoundingClientRect(), r = g.querySelector('rect').getBoundingClientRect();"
    " g.dataset.seen = (r.x + r.width / 2 - s.x).toFixed(1) + ',' + (r.y + r.height / 2 - s.y).toFixed(1); }"
    "</script>"
)


def test_in_the_browser_the_steps_of_a_calc_hold_still(report):
    from browser import MISSING, chromium, dump_dom

    if chromium() is None:
        pytest.skip(MISSING)
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = dump_dom(probe)
    section = dom.split('data-kind="calc"')[1].split("</section>")[0]
    figures = re.findall(r"<svg.*?</svg>", section, re.S)
    assert len(figures) == 2
    seen = [
        {
            m.group(1): tuple(map(float, m.group(2).split(",")))
            for m in re.finditer(r'data-name="(\w+)"[^>]*data-seen="([-0-9.,]+)"', f)
        }
        for f in figures
    ]
    assert {"R", "S"} <= set(seen[0]) and {"R", "S"} <= set(seen[1])
    for name in ("R", "S"):
        assert math.dist(seen[0][name], seen[1][name]) < 1.0, (name, seen)


# --------------------------------------------------------------------------- draw … folded


def test_a_draw_statement_can_ask_for_the_folded_let(write_diag, cli, tmp_path):
    f = write_diag(
        "folded.diag",
        "dim n\ntensor A[i: n, j: n]\ntensor x[i: n]\ntensor folded[i: n]\n"
        "let y[i] = A[i, j] x[j]\n"
        'draw y to "open.svg"\ndraw y to "box.svg" folded\n'
        'draw folded to "tensor.svg"\n',
    )  # a tensor named folded still draws
    run = cli("check", "--html", tmp_path / "report.html", f)
    assert run.returncode == 0, run.stdout + run.stderr

    def names(svg: str) -> list[str]:
        return sorted(g.get("data-name") for g in ET.fromstring(svg).iter(f"{SVG}g"))

    assert names((tmp_path / "open.svg").read_text()) == ["A", "x"]
    assert names((tmp_path / "box.svg").read_text()) == ["y"]
    assert names((tmp_path / "tensor.svg").read_text()) == ["folded"]
    page = (tmp_path / "report.html").read_text()
    sections = page.split('data-kind="draw"')[1:]
    shown = [names(re.findall(r"<svg.*?</svg>", s.split("</section>")[0], re.S)[0]) for s in sections]
    assert shown == [["A", "x"], ["y"], ["folded"]]
    bad = write_diag("bad.diag", 'dim n\ntensor A[i: n, j: n]\nlet y[i] = A[i, j]\ndraw y to "y.svg" flded\n')
    run = cli("check", bad)
    assert run.returncode != 0 and "folded" in run.stdout + run.stderr


def test_draw_line_of_a_calc_draws_its_steps_holding_still(tmp_path):
    from diagalg.cli import main

    f = tmp_path / "steady.diag"
    f.write_text(CALC)
    line = next(k for k, text in enumerate(CALC.splitlines(), start=1) if text.startswith("calc"))
    assert main(["draw", str(f), "--line", str(line), "-o", str(tmp_path / "calc.svg")]) == 0
    root = ET.parse(tmp_path / "calc.svg").getroot()
    steps = [g for g in root.iter(f"{SVG}g") if g.get("class") == "stacked"]
    assert len(steps) == 2
    xs = [
        {
            t.get("data-name"): float(t.find(f"{SVG}rect").get("x"))
            for t in g.iter(f"{SVG}g")
            if t.get("class") == "tensor"
        }
        for g in steps
    ]
    assert abs(xs[0]["R"] - xs[1]["R"]) < 0.5 and abs(xs[0]["S"] - xs[1]["S"]) < 0.5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=cases(), second=cases())
def test_any_step_after_any_other_draws_without_overlaps(first, second):
    """Steady layouts never buy stillness with overlaps: whatever the previous step was,
    the next one is drawn with no two shapes overlapping, and a step that changes nothing
    is drawn exactly as before."""
    a, b = first.expr(), second.expr()
    _, after = pictures([a, b])
    assert overlaps(after) == [], (first.text, second.text)
    same = pictures([a, a])
    assert by_shapes(same[0]) == by_shapes(same[1]) == by_shapes(picture(a))


def by_shapes(pic: Picture) -> list[tuple[str, str, float, float]]:
    return [(s.kind, s.name, round(s.x, 3), round(s.y, 3)) for s in pic.shapes]
