"""docs/tutorial.md and the README's pictures are generated from examples/ (`make docs`):
regenerating them gives the same tutorial text and the same drawings, so the docs
cannot drift from the examples. Drawings are compared by their content (every
shape's kind and name, every label), not byte for byte, so a last-digit difference
of a coordinate on another machine's BLAS does not count as drift; for the same
reason the text is compared with its round-off figures (``numeric 3e-16``) masked.

Each section shows what ``diagalg check`` prints for the statements it shows; the
tests check those lines against the command itself."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import load_script

# end to end over every example or document: left out of `make test-quick`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
STALE = "docs are stale: run `make docs` and commit docs/tutorial.md and docs/pictures/"


def content(path: Path) -> list[tuple[str, str]]:
    root = ET.parse(path).getroot()
    shapes = [(g.get("class"), g.get("data-name")) for g in root.iter(f"{SVG}g")]
    texts = [(t.get("class"), t.text or "") for t in root.iter(f"{SVG}text") if t.get("class")]
    return sorted(shapes) + sorted(texts)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_docs.py"), "--out", str(out), "--no-screenshot"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return out


_masked = load_script("docs/check_examples.py").masked_roundoff  # one round-off mask for every document


def _sections(text: str) -> list[str]:
    return text.split("\n## ")[1:]


def test_the_tutorial_text_is_what_make_docs_writes(generated):
    made, kept = (generated / "tutorial.md").read_text(), (ROOT / "docs" / "tutorial.md").read_text()
    assert _masked(made) == _masked(kept), STALE


def test_every_picture_is_what_make_docs_draws(generated):
    made = {p.name for p in (generated / "pictures").glob("*.svg")}
    kept = {p.name for p in (ROOT / "docs" / "pictures").glob("*.svg")}
    assert made == kept, STALE
    for name in sorted(made):
        assert content(generated / "pictures" / name) == content(ROOT / "docs" / "pictures" / name), f"{name}: {STALE}"


def test_the_tutorial_covers_every_example_and_its_pictures_exist():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    for example in sorted((ROOT / "examples").rglob("*.diag")):
        assert f"(../{example.relative_to(ROOT).as_posix()})" in text, example
    for doc in ("docs/tutorial.md", "README.md"):
        base = (ROOT / doc).parent
        for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / doc).read_text()):
            assert (base / src).is_file(), f"{doc}: missing picture {src}"
    # the derivations are drawn step by step: the isometry file's first calc has 4 steps
    section = text.split("From [`examples/isometry.diag`]")[1].split("\n## ")[0]
    assert len(re.findall(r"^Step \d, by ", section, re.M)) >= 4


def test_headings_are_whole_sentences_and_counts_agree_in_number():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    for section in _sections(text):
        heading = section.split("\n", 1)[0].split(". ", 1)[1]
        source = re.search(r"From \[`([^`]+)`\]", section).group(1)
        comment = " ".join(l[1:].strip() for l in (ROOT / source).read_text().splitlines() if l.startswith("#")).split(
            "  "
        )[0]
        # the heading is the comment's first sentence, or the part of it before its first colon
        assert comment.startswith(heading) and comment[len(heading)] in ".:", (heading, comment[:120])
    assert not re.search(r"\b1 more \w+ \w+s\b|\b1 more \w+s\b", text)  # "1 more definition", not "definitions"
    assert "(1 more definition in the file.)" in text


def test_every_section_shows_code_pictures_and_what_check_prints():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    sections = _sections(text)
    assert len(sections) == len(list((ROOT / "examples").rglob("*.diag")))
    for section in sections:
        name = section.split("\n", 1)[0]
        assert "```diag\n" in section, name
        assert re.search(r"!\[[^\]]*\]\(pictures/", section), name
        assert "`diagalg check` prints:\n\n```text\nexamples/" in section, name
        assert re.search(r"ends with `checked 1 file \(seed 0\): \d+ ok, 0 failed`", section), name


@pytest.mark.parametrize("example", ["isometry", "decompositions/costs", "transformers/toy_model"])
def test_the_printed_lines_are_what_check_prints(example):
    """A derivation's lines, a cost's output and a weights-bound file's lines, as the command prints them."""
    from conftest import _run_in_process

    rel = f"examples/{example}.diag"
    section = (ROOT / "docs" / "tutorial.md").read_text().split(f"From [`{rel}`]")[1].split("\n## ")[0]
    shown = [l for block in re.findall(r"```text\n(.*?)```", section, re.S) for l in block.splitlines()]
    run = _run_in_process("check", rel, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    printed = _masked(run.stdout).splitlines()
    assert len(shown) >= 3 and all(_masked(l) in printed for l in shown)
    assert f"ends with `{printed[-1]}`" in section
