"""Values beside diagrams (`diagalg draw ... --values`, the report's spectra): the
panels show the arrays a check uses, cell for cell, labelled along their legs, and
say where the numbers come from. Checked as a reader would: the numbers behind the
picture against numpy, the picture in a real browser."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from browser import MISSING, chromium, read_png, screenshot
from diagalg.cli import main

SVG = "{http://www.w3.org/2000/svg}"
needs_chromium = pytest.mark.skipif(chromium() is None, reason=MISSING)


def _draw(tmp_path: Path, source: str, *args: str, capsys=None) -> ET.Element:
    diag = tmp_path / "model.diag"
    diag.write_text(source)
    out = tmp_path / "out.svg"
    assert main(["draw", str(diag), *args, "--values", "-o", str(out)]) == 0
    return ET.parse(out).getroot()


def _panels(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-name"): g for g in root.iter(f"{SVG}g") if g.get("class") == "values-panel"}


def _cells(panel: ET.Element) -> dict[tuple[int, int], float]:
    return {
        (int(r.get("data-row")), int(r.get("data-col"))): float(r.get("data-value"))
        for r in panel.iter(f"{SVG}rect")
        if r.get("class") == "cell"
    }


def _bars(panel: ET.Element) -> list[float]:
    bars = [
        (int(r.get("data-index")), float(r.get("data-value")))
        for r in panel.iter(f"{SVG}rect")
        if r.get("class") == "bar"
    ]
    return [v for _, v in sorted(bars)]


def _source(root: ET.Element) -> str:
    return next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "values-source")


def _texts(panel: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in panel.iter(f"{SVG}text")]


def test_a_bound_weight_matrix_is_shown_cell_for_cell_along_its_legs(tmp_path):
    W = np.arange(12, dtype=float).reshape(3, 4) - 5.5
    np.savez(tmp_path / "w.npz", W=W)
    root = _draw(tmp_path, 'dim n = 3, m = 4\ntensor W[i: n, j: m]\nweights "w.npz"\n', "W")
    panel = _panels(root)["W[i, j]"]
    assert panel.get("data-origin") == "bound" and panel.get("data-scale") == "signed"
    cells = _cells(panel)
    assert cells == {(i, j): W[i, j] for i in range(3) for j in range(4)}
    # the legs label the axes, with their sizes: rows down i, columns across j
    labels = _texts(panel)
    assert "i (3) →" in labels and "j (4) →" in labels
    assert _source(root).startswith("bound from w.npz: W")
    # the colour says the sign and grows with the magnitude: white is zero only
    fill = {r.get("data-value"): r.get("fill") for r in panel.iter(f"{SVG}rect") if r.get("class") == "cell"}
    red = [int(fill[repr(float(v))][3:5], 16) for v in sorted(W[W > 0])]  # green channel falls as red deepens
    assert red == sorted(red, reverse=True) and len(set(red)) > 1
    assert all(fill[repr(float(v))] != fill[repr(float(-v))] for v in W.ravel() if v)


def test_an_attention_pattern_is_the_softmax_of_the_shown_inputs(tmp_path):
    """The pattern's cells are what numpy computes from the sampled x the panel beside it
    shows: the numbers are the instance's, not a second sample."""
    root = _draw(
        tmp_path, "dim seq = 5, d = 3\ntensor x[s: seq, e: d]\nlet attn[q, k] = softmax[k](x[q, a] x[k, a])\n", "attn"
    )
    panels = _panels(root)
    x = np.zeros((5, 3))
    for (i, j), v in _cells(panels["x[s, e]"]).items():
        x[i, j] = v
    logits = x @ x.T
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    got = _cells(panels["attn[q, k]"])
    assert np.allclose([[got[q, k] for k in range(5)] for q in range(5)], want, atol=1e-12)
    assert panels["attn[q, k]"].get("data-scale") == "sequential"  # a pattern is nowhere negative
    assert panels["x[s, e]"].get("data-origin") == "sampled"
    assert "sampled (seed 0): x" in _source(root)


def test_the_seed_chooses_the_sampled_instance(tmp_path):
    src = "dim n = 4\ntensor v[i: n]\n"
    bars = []
    for seed in ("0", "0", "7"):
        root = _draw(tmp_path, src, "v", "--seed", seed)
        bars.append(_bars(_panels(root)["v[i]"]))
        assert f"seed {seed}" in _source(root)
    assert bars[0] == bars[1] != bars[2] and len(bars[0]) == 4


def test_a_weight_per_head_is_one_heatmap_per_head(tmp_path):
    WQ = np.random.default_rng(1).normal(size=(3, 4, 2))
    np.savez(tmp_path / "w.npz", WQ=WQ)
    root = _draw(tmp_path, 'dim h = 3, d = 4, dh = 2\ntensor WQ[h: h, a: d, f: dh]\nweights "w.npz"\n', "WQ")
    panels = _panels(root)
    for k in range(3):
        cells = _cells(panels[f"WQ[h={k}, a, f]"])
        assert cells == {(i, j): WQ[k, i, j] for i in range(4) for j in range(2)}


def test_a_long_axis_shows_its_first_indices_and_says_so(tmp_path):
    root = _draw(tmp_path, "dim n = 60, m = 2\ntensor A[i: n, j: m]\n", "A")
    panel = _panels(root)["A[i, j]"]
    assert panel.get("data-rows") == "60" and len(_cells(panel)) == 48 * 2
    assert "i (60) (first 48 of 60) →" in _texts(panel)


def test_a_stand_in_size_is_named_in_the_source_line(tmp_path):
    root = _draw(tmp_path, "dim big = 5000\ntensor v[i: big]\n", "v")
    panel = _panels(root)["v[i]"]
    assert int(panel.get("data-size")) < 5000  # the oracle's stand-in, not the declared size
    assert "big=5000 checked as" in _source(root)


def test_a_complex_tensor_is_shown_as_its_magnitude(tmp_path):
    root = _draw(tmp_path, "dim n = 3\ntensor Z[i: n, j: n] complex\n", "Z")
    ((name, panel),) = _panels(root).items()
    assert name == "|Z[i, j]|" and all(v >= 0 for v in _cells(panel).values())


def test_values_without_svg_are_refused_with_a_message(tmp_path, capsys):
    diag = tmp_path / "a.diag"
    diag.write_text("dim n = 3\ntensor v[i: n]\n")
    assert main(["draw", str(diag), "v", "--values", "-o", str(tmp_path / "a.tex")]) != 0
    assert "a drawing with values is SVG panels" in capsys.readouterr().err
    assert not (tmp_path / "a.tex").exists()


def test_the_report_shows_the_spectrum_a_truncated_svd_cuts(tmp_path):
    """The bars are the singular values of the bound target (numpy's), all of them, with
    the cut after the rank the bond keeps."""
    T = np.random.default_rng(3).normal(size=(6, 5))
    np.savez(tmp_path / "t.npz", T=T)
    diag = tmp_path / "svd.diag"
    diag.write_text(
        'dim m = 6, n = 5, q = 2\ntensor T[i: m, j: n]\nweights "t.npz"\n'
        "decompose svd T[i, j] ~ U[i, r: q] s[r] conj(V)[j, r]\n"
    )
    html = tmp_path / "r.html"
    main(["check", str(diag), "--html", str(html)])
    page = html.read_text()
    svg = re.search(r'<figure class="spectrum">(<svg.*?</svg>)', page, re.S).group(1)
    root = ET.fromstring(svg)
    (panel,) = _panels(root).values()
    assert np.allclose(_bars(panel), np.linalg.svd(T, compute_uv=False), rtol=1e-12)
    cut = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "cut")
    assert cut.get("data-kept") == "2"
    assert "keeps 2 of 5" in page


@needs_chromium
def test_in_the_browser_every_panel_is_painted(tmp_path):
    """A screenshot of the drawing with its values: inside every panel's box there are
    coloured pixels (a heatmap is not blank, a bar is drawn)."""
    np.savez(tmp_path / "w.npz", W=np.random.default_rng(0).normal(size=(4, 3)))
    _draw(tmp_path, 'dim n = 4, m = 3\ntensor W[i: n, j: m]\ntensor v[i: n]\nweights "w.npz"\n', "-e", "W[i, j] v[i]")
    root = ET.parse(tmp_path / "out.svg").getroot()
    width, height = int(float(root.get("width"))) + 20, int(float(root.get("height"))) + 20
    shot = screenshot(tmp_path / "out.svg", tmp_path / "out.png", width, height)
    w, _, rows = read_png(shot)
    values = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "values")
    ox, oy = map(float, re.findall(r"[\d.]+", values.get("transform")))
    boxes = [g for g in values.iter(f"{SVG}g") if g.get("class") == "panel-box"]
    assert len(boxes) == 3  # the value of W v, then W, then v
    for box in boxes:
        bx, by = map(float, re.findall(r"[\d.]+", box.get("transform")))
        x0, y0 = int(ox + bx), int(oy + by)
        x1, y1 = x0 + int(float(box.get("data-width"))), y0 + int(float(box.get("data-height")))
        coloured = sum(
            1
            for y in range(y0, min(y1, len(rows)))
            for x in range(x0, min(x1, w))
            if max(rows[y][3 * x : 3 * x + 3]) - min(rows[y][3 * x : 3 * x + 3]) > 40
        )
        assert coloured > 200, (box[0].get("data-name"), coloured)


def test_in_a_notebook_values_display_as_svg():
    import diagalg

    prog = diagalg.parse("dim n = 3\ntensor A[i: n, j: n]\nlet S[i, j] = A[i, j] + A[j, i]\n")
    fig = diagalg.values(prog["S"], prog, seed=2)
    root = ET.fromstring(fig._repr_svg_())
    S = _cells(_panels(root)["A[i, j] + A[j, i]"])
    A = _cells(_panels(root)["A[i, j]"])
    assert S == {(i, j): A[i, j] + A[j, i] for i in range(3) for j in range(3)}
    assert [a.name for a in fig.shown.arrays] == ["A[i, j] + A[j, i]", "A"]


def test_a_draw_statement_with_values_writes_them_and_the_report_shows_them(tmp_path):
    diag = tmp_path / "x.diag"
    diag.write_text(
        "dim n = 4\ntensor x[s: n, e: n]\nlet attn[q, k] = softmax[k](x[q, a] x[k, a])\n"
        'draw attn to "attn.svg" values\ndraw attn to "box.svg" folded values\n'
    )
    assert main(["check", str(diag), "--html", str(tmp_path / "r.html")]) == 0
    opened = _panels(ET.parse(tmp_path / "attn.svg").getroot())
    assert list(opened) == ["attn[q, k]", "x[s, e]"]
    # rows of a softmax over k sum to one, in the let's own order (q down, k across)
    cells = _cells(opened["attn[q, k]"])
    assert all(abs(sum(cells[q, k] for k in range(4)) - 1) < 1e-12 for q in range(4))
    folded = _panels(ET.parse(tmp_path / "box.svg").getroot())
    assert list(folded) == ["attn[q, k]"] and _cells(folded["attn[q, k]"]) == cells
    page = (tmp_path / "r.html").read_text()
    assert page.count('class="values-panel"') == 3 and "sampled (seed 0): x" in page


def test_a_draw_statement_with_values_to_tikz_is_an_error_at_the_statement(tmp_path, capsys):
    diag = tmp_path / "x.diag"
    diag.write_text('dim n = 3\ntensor v[i: n]\ndraw v[i] to "v.tex" values\n')
    assert main(["check", str(diag)]) != 0
    err = capsys.readouterr().err
    assert f"{diag}:3:" in err and "cannot hold the values panels" in err and "^" in err
    assert not (tmp_path / "v.tex").exists()
