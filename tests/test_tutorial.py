"""docs/tutorial.md and the README's pictures are generated from examples/ (`make docs`):
regenerating them gives the same tutorial text and the same drawings, so the docs
cannot drift from the examples. Drawings are compared by their content (every
shape's kind and name, every label), not byte for byte, so a last-digit difference
of a coordinate on another machine's BLAS does not count as drift."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

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
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_docs.py"), "--out", str(out),
                          "--no-screenshot"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


def test_the_tutorial_text_is_what_make_docs_writes(generated):
    assert (generated / "tutorial.md").read_text() == (ROOT / "docs" / "tutorial.md").read_text(), STALE


def test_every_picture_is_what_make_docs_draws(generated):
    made = {p.name for p in (generated / "pictures").glob("*.svg")}
    kept = {p.name for p in (ROOT / "docs" / "pictures").glob("*.svg")}
    assert made == kept, STALE
    for name in sorted(made):
        assert content(generated / "pictures" / name) == content(ROOT / "docs" / "pictures" / name), \
            f"{name}: {STALE}"


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
