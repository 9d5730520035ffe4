"""Drawings in the paper's graphical notation (diagalg.render).

The pictures are judged the way a reader would: no two shapes overlap on the
paper's usual networks (chains, rings, matrix product states, SVDs, attention),
isometries are triangles whose tip points at the small leg, copy tensors and
shared indices are dots, bubbles enclose what they apply to, free legs end at
the border with their labels, and the same input gives the same picture.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings

import diagalg
from diagalg.errors import DiagalgError
from diagalg.render import render, write
from diagalg.render.png import INSTALL_HINT
from diagalg.render.scene import overlaps, picture
from strategies import cases

DECLS = """
dim n, m, r <= min(n, m)
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor D[i: n, j: n]
tensor x[i: n]
tensor V[a: n, b: r] isometry(b -> a)
tensor Q[a: n, b: n] unitary
tensor U[i: n, k: r] isometry(k -> i), complex
tensor W[j: m, k: r] isometry(k -> j), complex
tensor s[k: r]
dim d, bond
tensor A1[s: d, b: bond]
tensor A2[a: bond, s: d, b: bond]
tensor A3[a: bond, s: d]
dim seq, dm, dh, heads = 2
tensor X[s: seq, e: dm]
tensor WQ[h: heads, a: dm, f: dh]
tensor WK[h: heads, a: dm, f: dh]
tensor OV[h: heads, a: dm, e: dm]
let M[i, j] = U[i, k] s[k] conj(W)[j, k]
"""

NETWORKS = {
    "chain": "A[i, j] B[j, k] C[k, l] D[l, p]",
    "ring": "A[i, j] B[j, k] C[k, l] D[l, i]",
    "trace": "A[i, i]",
    "matrix-vector": "A[i, j] x[j]",
    "mps": "A1[s1, a] A2[a, s2, b] A2[b, s3, c] A3[c, s4]",
    "mps norm": "A1[s1, a] A2[a, s2, b] A3[b, s3] A1[s1, c] A2[c, s2, e] A3[e, s3]",
    "svd": "U[i, k] s[k] conj(W)[j, k]",
    "svd diagonal": "U[i, k] delta[k, l, p] s[p] conj(W)[j, l]",
    "isometry cancels": "conj(U)[i, a] U[i, k] s[k] conj(W)[j, k]",
    "attention": "softmax[k](causal[q, k](keep[h, q, k](X[q, a] WQ[h, a, f] WK[h, b, f] X[k, b]))) X[k, c] OV[h, c, e]",
    "sum": "A[i, j] x[j] - 2 * B[i, j] x[j] + x[i]",
    "nested bubbles": "exp(A[i, j] relu(B[j, k] x[k]))",
    "folded let": "M[i, j] x[i]",
    "identity and ones": "delta[i: n, j] x[k] + delta[i: n, j] delta[k: n]",
}


@pytest.fixture(scope="module")
def prog():
    return diagalg.parse(DECLS)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_no_two_shapes_overlap_and_nested_shapes_stay_inside(prog, name):
    pic = picture(prog.expr(NETWORKS[name]))
    assert pic.shapes
    assert overlaps(pic, gap=4.0) == [], name
    for s in pic.shapes:  # everything is inside the picture
        x0, y0, x1, y1 = s.box
        assert 0 <= x0 and 0 <= y0 and x1 <= pic.width and y1 <= pic.height, (name, s)


def test_a_chain_lies_on_one_horizontal_line_in_reading_order(prog):
    pic = picture(prog.expr(NETWORKS["chain"]))
    tensors = [s for s in pic.shapes if s.kind == "tensor"]
    assert [s.name for s in sorted(tensors, key=lambda s: s.x)] == ["A", "B", "C", "D"]
    assert max(s.y for s in tensors) - min(s.y for s in tensors) < 1.0
    free = {t.text: t for t in pic.texts if t.role == "free"}
    assert free["i"].x < min(s.x for s in tensors) and free["p"].x > max(s.x for s in tensors)


def test_a_ring_is_round_and_has_no_free_legs(prog):
    pic = picture(prog.expr(NETWORKS["ring"]))
    tensors = [s for s in pic.shapes if s.kind == "tensor"]
    cx = sum(s.x for s in tensors) / 4
    cy = sum(s.y for s in tensors) / 4
    radii = [((s.x - cx) ** 2 + (s.y - cy) ** 2) ** 0.5 for s in tensors]
    assert max(radii) - min(radii) < 0.15 * max(radii)
    assert not [t for t in pic.texts if t.role == "free"]
    assert len(pic.lines) == 4


def test_a_matrix_product_state_is_a_flat_train_with_its_physical_legs_down(prog):
    pic = picture(prog.expr(NETWORKS["mps"]))
    sites = sorted(pic.shapes, key=lambda s: s.x)
    assert [s.name for s in sites] == ["A1", "A2", "A2", "A3"]
    assert len({s.y for s in sites}) == 1
    legs = sorted((t for t in pic.texts if t.role == "free"), key=lambda t: t.x)
    assert [t.text for t in legs] == ["s1", "s2", "s3", "s4"]
    assert all(t.y > sites[0].y + sites[0].h for t in legs)
    assert all(abs(t.x - s.x) < 1 for t, s in zip(legs, sites))  # each leg straight below its site


def test_the_norm_of_a_matrix_product_state_is_a_ladder(prog):
    pic = picture(prog.expr(NETWORKS["mps norm"]))
    rows: dict[float, list[str]] = {}
    for s in pic.shapes:
        rows.setdefault(round(s.y / 10), []).append(s.name)
    assert sorted(len(v) for v in rows.values()) == [3, 3]
    assert all(sorted(v) == ["A1", "A2", "A3"] for v in rows.values())


def test_isometry_triangles_point_at_their_small_legs(prog):
    # V† V: the big legs meet in the middle, each tip points outwards at its small leg
    pic = picture(prog.expr("V[a, b] V[a, c]"))
    tri = sorted((s for s in pic.shapes if s.kind == "triangle"), key=lambda s: s.x)
    assert [t.apex for t in tri] == ["left", "right"]
    free = {t.text: t.x for t in pic.texts if t.role == "free"}
    assert free["b"] < tri[0].x < tri[1].x < free["c"]
    # V x: the small leg b is contracted with x on the right of V
    pic = picture(prog.expr("V[a, b] s[b]"))
    (t,) = [s for s in pic.shapes if s.kind == "triangle"]
    (v,) = [s for s in pic.shapes if s.kind == "vector"]
    assert t.apex == ("right" if v.x > t.x else "left")


def test_unitaries_are_squares_vectors_circles_and_conjugates_are_starred(prog):
    pic = picture(prog.expr("Q[a, b] x[b] conj(U)[a, k]"))
    kinds = {s.name: (s.kind, s.sup) for s in pic.shapes}
    assert kinds == {"Q": ("square", ""), "x": ("vector", ""), "U": ("triangle", "*")}


def test_copy_tensors_and_shared_indices_are_dots(prog):
    pic = picture(prog.expr(NETWORKS["svd"]))  # k is used three times
    assert [s.kind for s in pic.shapes].count("dot") == 1
    pic = picture(prog.expr(NETWORKS["svd diagonal"]))  # delta[k, l, p] is a copy tensor
    assert [s.kind for s in pic.shapes].count("dot") == 1
    assert len(pic.lines) == 5


def test_bubbles_are_ellipses_around_their_contents(prog):
    pic = picture(prog.expr(NETWORKS["nested bubbles"]))
    bubbles = {s.name: i for i, s in enumerate(pic.shapes) if s.kind == "bubble"}
    assert set(bubbles) == {"exp", "relu"}
    inner = {s.name: s.parent for s in pic.shapes if s.kind != "bubble"}
    assert inner == {"A": bubbles["exp"], "B": bubbles["relu"], "x": bubbles["relu"]}
    assert pic.shapes[bubbles["relu"]].parent == bubbles["exp"]


def test_free_legs_end_at_the_border_with_their_labels(prog):
    pic = picture(prog.expr("A1[s1, a] A2[a, s2, b] A3[b, s3]"))
    free = {t.text for t in pic.texts if t.role == "free"}
    assert free == {"s1", "s2", "s3"}
    x0 = min(s.box[0] for s in pic.shapes)
    x1 = max(s.box[2] for s in pic.shapes)
    y1 = max(s.box[3] for s in pic.shapes)
    for t in pic.texts:
        if t.role == "free":
            assert t.x < x0 or t.x > x1 or t.y > y1, t
    legs = {t.text for t in pic.texts if t.role == "leg"}
    assert legs == {"a", "b"}  # contracted legs are labelled lines


def test_a_sum_is_a_row_of_terms_with_signs_and_coefficients(prog):
    pic = picture(prog.expr(NETWORKS["sum"]))
    coeffs = [t.text for t in sorted(pic.texts, key=lambda t: t.x) if t.role == "coeff"]
    assert coeffs == ["− 2", "+"]
    assert [t.text for t in pic.texts if t.role == "free"] == ["i", "i", "i"]


def test_svg_is_a_self_contained_document(prog):
    svg = render(prog.expr(NETWORKS["attention"]), prog, "svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "href" not in svg and "<script" not in svg and "url(" not in svg
    classes = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert classes.count("bubble") == 2 and classes.count("tensor") == 6
    assert root.find("{http://www.w3.org/2000/svg}title").text.startswith("softmax[k](")


def test_the_picture_is_the_same_in_every_process(tmp_path, write_diag):
    f = write_diag("mps.diag", DECLS)
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run(
            [sys.executable, "-m", "diagalg.cli", "draw", str(f), "-e", NETWORKS["mps norm"]],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        outs.append(run.stdout)
    assert outs[0] == outs[1] and outs[0].startswith("<svg")


def test_tikz_is_a_standalone_document_with_every_shape(prog):
    expr = prog.expr(NETWORKS["attention"])
    tex = render(expr, prog, "tikz")
    assert tex.startswith("\\documentclass[tikz, border=2pt]{standalone}")
    assert tex.count("\\begin{tikzpicture}") == tex.count("\\end{tikzpicture}") == 1
    assert tex.rstrip().endswith("\\end{document}")
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert tex.count("% shape ") == len(picture(expr).shapes)
    assert "softmax" in tex and "\\mathrm{WQ}" in tex
    body = tex.split("\\begin{document}")[1]
    assert not re.search(r"(?<!\\)_(?![{])", body.replace("\\_", "")), "unescaped underscore"


def test_png_when_a_converter_exists_and_a_clear_error_otherwise(prog, tmp_path, monkeypatch):
    from diagalg.render import png

    expr = prog.expr(NETWORKS["chain"])
    if png.converter() is not None:
        write(expr, prog, tmp_path / "chain.png")
        data = (tmp_path / "chain.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    monkeypatch.setattr(png, "converter", lambda: None)
    with pytest.raises(DiagalgError) as info:
        write(expr, prog, tmp_path / "none.png")
    assert str(info.value) == INSTALL_HINT
    assert not (tmp_path / "none.png").exists()


def test_write_picks_the_format_from_the_extension(prog, tmp_path):
    expr = prog.expr(NETWORKS["svd"])
    write(expr, prog, tmp_path / "a.svg")
    write(expr, prog, tmp_path / "a.tex")
    write(expr, prog, tmp_path / "a.html")
    assert (tmp_path / "a.svg").read_text().startswith("<svg")
    assert (tmp_path / "a.tex").read_text().startswith("\\documentclass")
    assert "<svg" in (tmp_path / "a.html").read_text()
    with pytest.raises(DiagalgError, match="unknown drawing format '.pdf'"):
        write(expr, prog, tmp_path / "a.pdf")


# --------------------------------------------------------------------------- the draw statement


def test_draw_statement_writes_next_to_the_diag_file(write_diag, cli, tmp_path):
    f = write_diag(
        "sub/svd.diag", DECLS + 'draw U[i, k] s[k] conj(W)[j, k] to "pics/svd.svg"\ndraw M[i, j] to "m.tex"\n'
    )
    (tmp_path / "sub" / "pics").mkdir()
    run = cli("check", f, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'ok    draw U[i, k] s[k] conj(W)[j, k] to "pics/svd.svg" [wrote pics/svd.svg]' in run.stdout
    svg = (tmp_path / "sub" / "pics" / "svd.svg").read_text()
    assert svg.count('class="triangle"') == 2
    assert (tmp_path / "sub" / "m.tex").read_text().startswith("\\documentclass")


def test_draw_statement_errors(write_diag, cli, tmp_path):
    f = write_diag("bad.diag", DECLS + 'draw A[i, j] to "a.pdf"\n')
    run = cli("check", f)
    assert run.returncode == 2
    assert "bad.diag:" in run.stderr and "error: draw: unknown drawing format '.pdf'" in run.stderr
    assert "^" in run.stderr and "Traceback" not in run.stderr
    f = write_diag("nodir.diag", DECLS + 'draw A[i, j] to "missing/a.svg"\n')
    run = cli("check", f)
    assert run.returncode == 1
    assert 'FAIL  draw A[i, j] to "missing/a.svg" not drawn:' in run.stdout


def test_diagalg_draw_command(write_diag, cli, tmp_path):
    f = write_diag("svd.diag", DECLS)
    run = cli("draw", f, "M", "-o", tmp_path / "m.svg")
    assert run.returncode == 0 and "wrote" in run.stdout
    root = ET.parse(tmp_path / "m.svg").getroot()
    names = sorted(g.get("data-name") for g in root.iter("{http://www.w3.org/2000/svg}g"))
    assert names == ["", "U", "W", "s"]  # the dot has no name
    run = cli("draw", f, "M", "--format", "tikz")
    assert run.returncode == 0 and run.stdout.startswith("\\documentclass")
    run = cli("draw", f, "nope")
    assert run.returncode == 2 and "no let or tensor named 'nope'" in run.stderr
    assert "lets: M" in run.stderr and "tensors: " in run.stderr and "U" in run.stderr.split("tensors: ")[1]
    run = cli("draw", f, "-e", "A[i, j] B[j]")
    assert run.returncode == 2 and "error:" in run.stderr and "Traceback" not in run.stderr
    run = cli("draw", f)
    assert run.returncode == 2 and "give a NAME" in run.stderr


# --------------------------------------------------------------------------- notebooks


def test_notebook_display_of_expressions_diagrams_and_derivations(prog):
    e = prog.expr("conj(U)[i, a] U[i, k] s[k] conj(W)[j, k]")
    assert e._repr_svg_().startswith("<svg")
    assert "<svg" in e._repr_html_() and "conj(U)[i, a]" in e._repr_html_()
    assert e._repr_latex_() == r"$\mathrm{U}^{*}_{ia}\,\mathrm{U}_{ik}\,\mathrm{s}_{k}\,\mathrm{W}^{*}_{jk}$"
    assert e.terms[0].diagram._repr_latex_() == e._repr_latex_()
    assert (
        prog.expr("A[i, j] x[j] - 2 * x[i]")._repr_latex_() == r"$\mathrm{A}_{ij}\,\mathrm{x}_{j} - 2\,\mathrm{x}_{i}$"
    )
    d = diagalg.simplify(e, program=prog)
    html = d._repr_html_()
    assert html.count('<figure class="step') == 2 and "by isometry" in html
    assert d._repr_latex_().endswith(r"&& \text{by isometry}\end{aligned}$")
    assert d._repr_svg_().startswith("<svg")


def test_a_sum_inside_a_bubble_still_reads_left_to_right(prog):
    # C sits on the bubble's right, its leg i leaves the sum on the left: the legs would be
    # shorter mirrored, but read right to left "A − 2 B" would become "B − 2 A"
    pic = picture(prog.expr("C[k, i] exp(A[i, j] - 2 * B[i, j])"))
    (coeff,) = [t for t in pic.texts if t.role == "coeff"]
    inside = sorted((s for s in pic.shapes if s.parent is not None), key=lambda s: s.x)
    assert [s.name for s in inside] == ["A", "B"]
    assert inside[0].x < coeff.x < inside[1].x and coeff.text == "− 2"
    # a single term is mirrored freely: its legs then leave towards what they connect to
    pic = picture(prog.expr("C[k, i] exp(A[i, j] B[j, l])"))
    (c,) = [s for s in pic.shapes if s.name == "C"]
    (a,) = [s for s in pic.shapes if s.name == "A"]
    (bubble,) = [s for s in pic.shapes if s.kind == "bubble"]
    assert (a.x - bubble.x) * (c.x - bubble.x) > 0  # A, which C's leg reaches, is on C's side


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_every_random_expression_draws_without_overlaps(case):
    """Chains, rings, trees, copy tensors with self-loops and closed loops, structured pairs
    under conj and inv, nested sums with coefficients: all drawn, nothing overlapping."""
    expr = case.expr()
    pic = picture(expr)
    assert overlaps(pic) == [], case.text
    root = ET.fromstring(render(expr, None, "svg"))
    drawn = [g for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert len(drawn) == len(pic.shapes)
    assert render(expr, None, "tikz").count("% shape ") == len(pic.shapes)
