"""Every term of an expansion can be seen drawn: in the HTML report (one figure per
listed term under its line, after the expression) and from the command line
(`diagalg draw FILE --line N`), as the paper's path-expansion section draws them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from browser import MISSING, chromium, dump_dom, read_png, screenshot
from diagalg.cli import main

ROOT = Path(__file__).resolve().parent.parent
TWO_LAYER = ROOT / "examples" / "transformers" / "two_layer_paths.diag"
SVG = "{http://www.w3.org/2000/svg}"
needs_chromium = pytest.mark.skipif(chromium() is None, reason=MISSING)

FOUR = """dim n
tensor a[i: n]
tensor b[i: n]
tensor c[i: n]
tensor d[i: n]
expand (p: a[i] + q: b[i]) (r: c[j] + s: d[j])
"""


def _report(tmp_path: Path, source: str) -> str:
    diag = tmp_path / "x.diag"
    diag.write_text(source)
    html = tmp_path / "x.html"
    main(["check", str(diag), "--html", str(html)])
    return html.read_text()


def _term_captions(page: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c)
        for c in re.findall(r'<figure class="term">.*?<figcaption>(.*?)</figcaption>', page, re.S)
    ]


def test_the_report_draws_each_term_of_an_expansion_under_its_line(tmp_path, capsys):
    page = _report(tmp_path, FOUR)
    printed = [line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith("    ")]
    captions = _term_captions(page)
    assert len(captions) == 4
    assert [c.replace("&lt;", "<").replace("&gt;", ">") for c in captions] == printed
    # each figure draws its own term: the tensors its line names
    figures = re.findall(r'<figure class="term">(.*?)</figure>', page, re.S)
    for fig, caption in zip(figures, captions):
        names = set(re.findall(r'<g class="vector" data-name="(\w)"', fig))
        assert names == set(re.findall(r"\b([abcd])\[", caption)), caption


def test_the_ten_paths_of_the_two_layer_model_are_all_drawn(tmp_path):
    html = tmp_path / "two.html"
    main(["check", str(TWO_LAYER), "--html", str(html)])
    page = html.read_text()
    section = re.search(r'<section[^>]*id="file-1-line-32".*?</section>', page, re.S).group(0)
    captions = _term_captions(section)
    assert len(captions) == 10
    assert {c.split(" (")[0] for c in captions} >= {"direct", "attn1", "attn2"}
    assert section.count('<figure class="side">') == 1  # the expression itself, first


def test_a_long_expansion_draws_its_first_terms_and_counts_the_rest(tmp_path):
    source = (
        "dim n\n"
        + "".join(f"tensor t{k}[i: n]\n" for k in range(6))
        + "expand ("
        + " + ".join(f"t{k}[i]" for k in range(6))
        + ") ("
        + " + ".join(f"t{k}[j]" for k in range(6))
        + ")\n"
    )
    page = _report(tmp_path, source)
    assert len(_term_captions(page)) == 24
    assert "… and 12 more listed terms, not drawn" in page


def test_draw_line_stacks_the_terms_with_their_lines(tmp_path, capsys):
    out = tmp_path / "paths.svg"
    assert main(["draw", str(TWO_LAYER), "--line", "32", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    root = ET.parse(out).getroot()
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "stacked"]
    assert len(groups) == 11  # the expression, then the ten paths
    captions = ["".join(t.itertext()) for g in groups[1:] for t in g if t.get("class") == "caption"]
    listed = [line.strip() for line in printed.splitlines() if line.startswith("    ")]
    assert captions == listed
    # the drawings do not overlap: each group starts below the previous one's end
    ys = [float(re.search(r"translate\(10,([\d.]+)\)", g.get("transform")).group(1)) for g in groups]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)


def test_draw_line_names_the_lines_that_have_statements(tmp_path, capsys):
    assert main(["draw", str(TWO_LAYER), "--line", "31", "-o", str(tmp_path / "x.svg")]) != 0
    err = capsys.readouterr().err
    assert "no statement starts on line 31" in err and "32" in err
    assert not (tmp_path / "x.svg").exists()


@needs_chromium
def test_in_the_browser_every_term_figure_is_there_and_painted(tmp_path):
    html = tmp_path / "four.html"
    (tmp_path / "x.diag").write_text(FOUR)
    assert main(["draw", str(tmp_path / "x.diag"), "--line", "6", "-o", str(html)]) == 0
    dom = dump_dom(html)
    assert dom.count('<figure class="term">') == 4
    shot = screenshot(html, tmp_path / "four.png", 1400, 900)
    w, h, rows = read_png(shot)
    # the tensors' fill colour appears in at least eight separate shapes (two per term)
    from browser import color_blobs

    assert color_blobs(rows, w, (0xDB, 0xE9, 0xF6), min_pixels=30) >= 8


def test_in_a_notebook_a_statement_shows_its_terms_drawn():
    import diagalg

    prog = diagalg.parse(FOUR)
    view = diagalg.statement(prog, 6)
    html = view._repr_html_()
    assert html.count('<figure class="term">') == 4 and "<style>" in html
    assert [line for line, _ in view.terms] == [line for r in view.results for line in r.output]
    with pytest.raises(KeyError, match="statements start on lines: 6"):
        diagalg.statement(prog, 5)
