"""Thick lines for large dimensions, read from the SVG as a reader sees them: a wire's
stroke width grows with its size (docs/drawing.md, diagalg/render/thickness.py), the
same in TikZ, and a wire whose size is not known is never drawn as if it were large.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import diagalg
from diagalg.render import render
from diagalg.render.thickness import BASE, CAP, stroke_width

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

DECLS = """
dim d = 768, dh = 64, b = 4, n
tensor X[s: b, e: d]
tensor WQ[e: d, f: dh]
tensor WK[t: b, f: dh]
tensor N[i: n, j: n]
tensor F[i: 4, j: 1024]
"""


@pytest.fixture(scope="module")
def prog():
    return diagalg.parse(DECLS)


def wires(svg: str) -> list[dict[str, str]]:
    """Every wire's attributes (``polyline.leg``)."""
    root = ET.fromstring(svg)
    return [dict(p.attrib) for p in root.iter(f"{SVG}polyline") if p.get("class") == "leg"]


def width_of(svg: str, dim: str) -> float:
    """The stroke width of the wires of dimension ``dim`` (all alike)."""
    widths = {float(w["stroke-width"]) for w in wires(svg) if w["data-dim"] == dim}
    assert len(widths) == 1, (dim, widths)
    return widths.pop()


def test_width_grows_with_the_size(prog):
    """A d_model = 768 wire is thicker than a head-size 64 wire, which is thicker than a
    size-4 wire; each says its dimension and size."""
    svg = render(prog.expr("X[s, e] WQ[e, f] WK[t, f]"), prog)
    assert width_of(svg, "d") > width_of(svg, "dh") > width_of(svg, "b")
    assert width_of(svg, "b") == BASE
    sizes = {w["data-dim"]: w["data-size"] for w in wires(svg)}
    assert sizes == {"d": "768", "dh": "64", "b": "4"}


def test_unknown_sizes_are_not_thick(prog):
    """A symbolic dimension with no declared value is drawn at the base width, and says
    that its size is not known (empty data-size); so is every symbolic wire drawn
    without the program."""
    svg = render(prog.expr("N[i, j] N[j, k]"), prog)
    assert [(w["data-dim"], w["data-size"], float(w["stroke-width"])) for w in wires(svg)] == [("n", "", BASE)] * len(
        wires(svg)
    )
    alone = render(prog.expr("X[s, e] WQ[e, f]"))
    assert {float(w["stroke-width"]) for w in wires(alone)} == {BASE}
    assert {w["data-size"] for w in wires(alone)} == {""}


def test_numeric_dimensions_need_no_program(prog):
    """Sizes written as numbers are known from the expression alone."""
    svg = render(prog.expr("F[i, j]"))
    assert width_of(svg, "1024") > width_of(svg, "4") == BASE


def test_the_rule_is_monotone_and_capped():
    sizes = [1, 2, 16, 17, 32, 64, 100, 768, 1024, 3072, 50257, 10**9]
    widths = [stroke_width(n) for n in sizes]
    assert widths == sorted(widths)
    assert stroke_width(None) == stroke_width(16) == BASE
    assert max(widths) == CAP
    assert stroke_width(64) < stroke_width(768) < stroke_width(3072)


def test_tikz_draws_the_same_widths(prog):
    """Each TikZ wire has the SVG wire's width, in points (1 px = 0.75 pt), in the same order."""
    expr = prog.expr("X[s, e] WQ[e, f] WK[t, f]")
    svg_widths = [float(w["stroke-width"]) for w in wires(render(expr, prog))]
    tex_widths = [float(m) for m in re.findall(r"\\draw\[line width=([\d.]+)pt", render(expr, prog, "tikz"))]
    assert len(tex_widths) == len(svg_widths)
    assert tex_widths == pytest.approx([0.75 * w for w in svg_widths], abs=0.006)


def test_gpt2_block_wires_follow_its_declared_sizes():
    """In the GPT-2-shaped example the residual width d = 768 and the positions seq = 1024
    are thick, a head's dh = 64 less so, the heads leg (12) thin."""
    program = diagalg.load(ROOT / "examples/transformers/gpt2_shapes.diag")
    svg = render(program.lets["attn"].expr, program)
    assert width_of(svg, "seq") > width_of(svg, "d") > width_of(svg, "dh") > width_of(svg, "heads") == BASE
