"""`diagalg check --html`: every statement with its result, each calc step and each
traced step drawn with its rule and numeric error. The page is checked as HTML
here and, in real headless Chromium, as a browser shows it (its DOM after
loading, and a screenshot whose pixels are inspected)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from browser import MISSING, chromium, color_blobs, dump_dom, read_png, screenshot

ISOMETRY = """\
# the paper's isometry, step by step
dim n, r <= n
tensor V[a: n, b: r] isometry(b -> a)
tensor A[b: r, c: r]
assert V[a, b] V[a, c] == delta[b, c]
assert V[a, b] V[c, b] != delta[a, c]
calc V[a, b] V[a, c] A[c, d] V[f, d] V[f, e]
  = delta[b, c] A[c, d] V[f, d] V[f, e]          by isometry
  = delta[b, c] A[c, d] delta[d, e]              by isometry
  = A[b, e]                                      by delta
show V[a, b] V[a, c] A[c, d]
"""

STEP_BLUE = (0x0B, 0x5C, 0xAD)  # figure.step's top border


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html)
    return p.tags


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from conftest import _run_in_process

    d = tmp_path_factory.mktemp("report")
    (d / "iso.diag").write_text(ISOMETRY)
    run = _run_in_process("check", "--html", d / "report.html", d / "iso.diag", cwd=d)
    return d, run


def test_check_html_prints_the_same_results_and_writes_the_page(report):
    d, run = report
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checked 1 file (seed 0): 6 ok, 0 failed" in run.stdout
    html = (d / "report.html").read_text()
    assert "checked 1 file (seed 0): 6 ok, 0 failed" in html
    for line in run.stdout.splitlines()[:-1]:
        if line.startswith(str(d)):  # each result line is on the page, as check prints it
            status = line.split(": ", 1)[1].split()[0]
            assert f'<span class="status">{status}</span>' in html


def test_every_statement_is_a_section_with_its_figures(report):
    d, _ = report
    tags = _tags((d / "report.html").read_text())
    sections = [a for t, a in tags if t == "section"]
    assert [(s["data-kind"], s["data-line"], s["class"]) for s in sections] == [
        ("assert", "5", "stmt ok"),
        ("assert", "6", "stmt ok"),
        ("calc", "7", "stmt ok"),
        ("show", "11", "stmt ok"),
    ]
    figures = [a.get("class", "") for t, a in tags if t == "figure"]
    # two sides per assert; the calc: start + 3 steps; the show: start + its one rewrite
    assert figures.count("side") == 4
    assert figures.count("step start") == 2 and figures.count("step") == 4


def test_calc_steps_show_their_rule_and_numeric_error(report):
    d, _ = report
    html = (d / "report.html").read_text()
    caps = re.findall(r"<figcaption>(step \d+: .*?)</figcaption>", html, re.S)
    calc = [c for c in caps if ("numeric" in c or "exact" in c) and "check" not in c]
    assert len(calc) == 3
    assert [re.search(r"by (\w+)", c).group(1) for c in calc] == ["isometry", "isometry", "delta"]
    # polynomial steps: decided exactly over prime fields (a float step would show numeric 3e-16)
    assert all(re.search(r"· (exact|numeric (\d(\.\d+)?e-\d+|0)) · ok", c) for c in calc)
    trace = [c for c in caps if "check" in c]  # the show statement's traced rewrite
    assert len(trace) == 1 and "by isometry" in trace[0] and "check exact" in trace[0]


def test_a_failing_step_is_marked(tmp_path, cli):
    (tmp_path / "bad.diag").write_text(
        ISOMETRY.replace(
            "= A[b, e]                                      by delta",
            "= A[e, b]                                      by delta",
        )
    )
    run = cli("check", "--html", tmp_path / "r.html", tmp_path / "bad.diag")
    assert run.returncode == 1
    tags = _tags((tmp_path / "r.html").read_text())
    assert [a["class"] for t, a in tags if t == "section"][2] == "stmt FAIL"
    assert [a.get("class") for t, a in tags if t == "figure"].count("step failed") == 1


def test_unwritable_report_is_an_error_not_a_traceback(report, cli, tmp_path):
    d, _ = report
    run = cli("check", "--html", tmp_path / "no" / "such" / "dir.html", d / "iso.diag")
    assert run.returncode == 2 and "--html" in run.stderr and "Traceback" not in run.stderr


needs_chromium = pytest.mark.skipif(chromium() is None, reason=MISSING)


@needs_chromium
def test_chromium_loads_the_report_with_every_drawing(report):
    d, _ = report
    dom = dump_dom(d / "report.html")
    tags = _tags(dom)
    assert sum(1 for t, _ in tags if t == "svg") == 10  # every figure has its drawing
    assert sum(1 for t, a in tags if t == "figure" and a.get("class", "").startswith("step")) == 6
    assert sum(1 for t, a in tags if t == "polygon") >= 8  # V's triangles, drawn as polygons
    assert "no drawing" not in dom


@needs_chromium
def test_chromium_screenshot_shows_the_step_figures(report):
    d, _ = report
    shot = screenshot(d / "report.html", d / "shot.png", 1400, 1400)
    width, height, rows = read_png(shot)
    assert (width, height) == (1400, 1400)
    white = bytes((255, 255, 255))
    ink = sum(1 for row in rows for x in range(0, width, 4) if row[3 * x : 3 * x + 3] != white)
    assert ink > 0.02 * width * height / 4  # not blank
    # every step figure has a blue bar on top: start + 3 calc steps, start + 1 traced step
    assert color_blobs(rows, width, STEP_BLUE) == 6


# =========================================================================== contents and the failures filter

OK_GREEN = (0x2E, 0x8B, 0x57)  # section.stmt.ok's left border
FAIL_RED = (0xC6, 0x28, 0x28)  # section.stmt.FAIL's left border

#: appended to a copy of the page (never to the report itself): records each section's and heading's display
PROBE = (
    "<script>for (const s of document.querySelectorAll('section.stmt, h2'))"
    " s.dataset.shown = getComputedStyle(s).display;</script>"
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A report of two files: the isometry file (all ok) and one whose calc fails at its last step."""
    from conftest import _run_in_process

    d = tmp_path_factory.mktemp("mixed")
    (d / "good.diag").write_text(ISOMETRY)
    (d / "bad.diag").write_text(
        ISOMETRY.replace(
            "= A[b, e]                                      by delta",
            "= A[e, b]                                      by delta",
        )
    )
    run = _run_in_process("check", "--html", d / "report.html", d / "good.diag", d / "bad.diag", cwd=d)
    assert run.returncode == 1, run.stdout + run.stderr
    return d / "report.html"


def _checked_copy(page, probe: bool = False):
    """A copy of ``page`` with the filter box ticked (its ``checked`` attribute), and optionally the probe."""
    html = page.read_text().replace(
        '<input type="checkbox" id="only-problems">', '<input type="checkbox" id="only-problems" checked>'
    )
    assert " checked>" in html
    if probe:
        html = html.replace("</body>", PROBE + "</body>")
    out = page.with_name(page.stem + ("-probe" if probe else "-checked") + ".html")
    out.write_text(html)
    return out


def test_the_contents_link_every_file_and_every_problem(mixed):
    html = mixed.read_text()
    tags = _tags(html)
    ids = [a["id"] for _, a in tags if "id" in a]
    assert len(ids) == len(set(ids))  # unique anchors
    sections = [a for t, a in tags if t == "section"]
    assert [s["id"] for s in sections] == [f"file-{k}-line-{n}" for k in (1, 2) for n in (5, 6, 7, 11)]
    toc = html.split('<nav class="toc">')[1].split("</nav>")[0]
    links = re.findall(r'href="#([^"]+)"', toc)
    assert links == ["file-1", "file-2", "file-2-line-7"]  # each file, then bad.diag's failing calc
    assert all(link in ids for link in links)
    assert re.search(r'href="#file-1">[^<]*good\.diag</a> <span class="counts">6 ok, 0 failed</span>', toc)
    assert re.search(r'href="#file-2">[^<]*bad\.diag</a> <span class="counts">5 ok, 1 failed</span>', toc)


def test_the_page_stays_script_free_and_self_contained(mixed):
    html = mixed.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"\son[a-z]+\s*=", html)  # no event handlers
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing loaded from outside
    tags = _tags(html)
    assert [(t, a.get("type"), a.get("id")) for t, a in tags if t == "input"] == [
        ("input", "checkbox", "only-problems")
    ]
    assert ("label", {"class": "filter", "for": "only-problems"}) in tags


@needs_chromium
def test_chromium_contents_links_resolve_to_existing_ids(mixed):
    tags = _tags(dump_dom(mixed))
    ids = {a["id"] for _, a in tags if "id" in a}
    links = [a["href"][1:] for t, a in tags if t == "a" and a.get("href", "").startswith("#")]
    assert len(links) == 3 and set(links) <= ids


@needs_chromium
def test_chromium_filter_shows_only_the_problems(mixed):
    probed = _tags(dump_dom(_checked_copy(mixed, probe=True)))
    shown = {a["id"]: a["data-shown"] for t, a in probed if t == "section"}
    assert shown.pop("file-2-line-7") != "none"  # the failing calc stays
    assert set(shown.values()) == {"none"}  # every ok section is hidden
    # the heading of the file without problems is hidden too, the other file's stays
    assert {a["id"]: a["data-shown"] for t, a in probed if t == "h2"} == {"file-1": "none", "file-2": "block"}
    # and as a person sees it: no ok section's green bar is left, the failing one's red bar is
    _, _, rows = read_png(screenshot(mixed, mixed.with_name("all.png"), 1400, 3000))
    assert color_blobs(rows, 1400, OK_GREEN) >= 7
    _, _, rows = read_png(screenshot(_checked_copy(mixed), mixed.with_name("only.png"), 1400, 3000))
    assert color_blobs(rows, 1400, OK_GREEN) == 0 and color_blobs(rows, 1400, FAIL_RED) >= 1
