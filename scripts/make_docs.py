"""Generate docs/tutorial.md and its pictures (docs/pictures/) from examples/.

Usage (from the repository root; `make docs` runs it):

    .venv/bin/python scripts/make_docs.py            # write docs/tutorial.md, docs/pictures/*
    .venv/bin/python scripts/make_docs.py --out DIR  # write DIR/tutorial.md, DIR/pictures/* instead

The tutorial walks through the example files in the paper's order: each
file's opening comment (the paper's words), every `let` drawn, and its first
`calc` derivations with every step drawn. The README's pictures are made here
too: readme-*.svg from the same drawing code, and, when Chromium is
installed, readme-report.png (a screenshot of `diagalg check --html`) and
readme-notebook.png (a derivation as Jupyter displays it).
Nothing in the tutorial is written by hand, so it stays true to examples/:
tests/test_tutorial.py regenerates it and compares.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import diagalg  # noqa: E402
from diagalg.engine import unfold  # noqa: E402
from diagalg.program import CalcStmt  # noqa: E402
from diagalg.render import render  # noqa: E402

#: the paper's order; any other example file follows, sorted
ORDER = ["contractions", "trace_cyclicity", "tensor_product", "symmetric", "copy_tensor", "kronecker",
         "isometry", "svd", "inverse", "mps_gauge", "shift_and_reshape", "derivatives",
         "transformers/two_layer_paths", "transformers/induction_head", "transformers/softmax_heads",
         "transformers/toy_model", "transformers/gpt2_shapes"]
CALCS_PER_FILE = 2
LETS_PER_FILE = 6

#: the README's drawings: (file name, example, expression or let name), definitions unfolded
README_PICTURES = [
    ("readme-svd.svg", "svd", "conj(U)[i, a] M[i, j] V[j, c]"),
    ("readme-attention.svg", "transformers/softmax_heads", "A1"),
    ("readme-mps.svg", "mps_gauge", "phi[s1, s2, s3] conj(L1)[s1, a] conj(L2)[a, s2, b] conj(Z3)[b, s3]"),
]


def example_files() -> list[Path]:
    found = {p.relative_to(ROOT / "examples").with_suffix("").as_posix(): p
             for p in sorted((ROOT / "examples").rglob("*.diag"))}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    return [found[n] for n in names]


def opening_comment(path: Path) -> tuple[str, list[str]]:
    """(title, prose lines) from the file's first comment block."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    title = lines[0].rstrip(".") if lines else path.stem
    return title, lines[1:]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.pictures = out / "pictures"
        self.pictures.mkdir(parents=True, exist_ok=True)
        self.md: list[str] = []

    def picture(self, name: str, expr) -> str:
        (self.pictures / name).write_text(render(expr, None, "svg"), encoding="utf-8")
        return f"pictures/{name}"

    def example(self, number: int, path: Path) -> None:
        rel = path.relative_to(ROOT).as_posix()
        stem = _slug(path.relative_to(ROOT / "examples").with_suffix("").as_posix())
        program = diagalg.load(path)
        title, prose = opening_comment(path)
        self.md += [f"## {number}. {title}", "", f"From [`{rel}`](../{rel}).", ""]
        paragraph: list[str] = []
        for line in prose + [""]:
            if line:
                paragraph.append(line)
            elif paragraph:
                self.md += ["> " + " ".join(paragraph), ">"]
                paragraph = []
        if self.md[-1] == ">":
            self.md[-1] = ""
        lets = list(program.lets.values())
        shown = [d for d in lets if d.source.path == str(path) or Path(d.source.path) == path][:LETS_PER_FILE]
        if shown:
            self.md += ["### Definitions", ""]
            for d in shown:
                src = self.picture(f"{stem}-{_slug(d.name)}.svg", d.expr)
                self.md += ["```diag", d.source.text, "```", "", f"![{d.name}]({src})", ""]
            if len(lets) > len(shown):
                self.md += [f"({len(lets) - len(shown)} more definitions in the file.)", ""]
        calcs = [s for s in program.statements if isinstance(s, CalcStmt)][:CALCS_PER_FILE]
        for k, calc in enumerate(calcs, start=1):
            self.md += [f"### Derivation {k} (line {calc.source.line})", "", "```diag", calc.source.text]
            self.md += ["  " + step.source.text for step in calc.steps] + ["```", ""]
            src = self.picture(f"{stem}-calc{k}-0.svg", calc.expr)
            self.md += [f"Start: ![start]({src})", ""]
            for j, step in enumerate(calc.steps, start=1):
                why = f"by {', '.join(step.rules)}" if step.rules is not None else "by the default rules"
                src = self.picture(f"{stem}-calc{k}-{j}.svg", step.expr)
                self.md += [f"Step {j}, {why}: ![step {j}]({src})", ""]

    def readme_pictures(self) -> None:
        for name, example, what in README_PICTURES:
            program = diagalg.load(ROOT / "examples" / f"{example}.diag")
            expr = program[what] if what.isidentifier() else program.expr(what)
            self.picture(name, unfold(expr))


def _screenshot(exe: str, page: Path, png: Path, size: str, tmp: str) -> None:
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", f"--user-data-dir={tmp}/profile", f"--screenshot={png}",
                    f"--window-size={size}", page.as_uri()], capture_output=True, check=True, timeout=120)


def screenshots(out: Path) -> str:
    """readme-report.png (Chromium's screenshot of `check --html` on a short example) and
    readme-notebook.png (a derivation as a notebook displays it, `_repr_html_`)."""
    exe = shutil.which("chromium")
    if exe is None:
        return "readme-report.png, readme-notebook.png not made: Chromium is not installed (apt-get install chromium)"
    example = (ROOT / "docs" / "report-example.diag").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "isometry.diag"
        src.write_text(example)
        page = Path(tmp) / "report.html"
        subprocess.run([sys.executable, "-m", "diagalg.cli", "check", "--html", str(page), src.name],
                       cwd=tmp, capture_output=True, check=False)
        _screenshot(exe, page, out / "pictures" / "readme-report.png", "1000,760", tmp)
        program = diagalg.parse(example)
        d = diagalg.simplify(program.expr("V[a, b] V[a, c] A[c, d] V[f, d] V[f, e]"), program=program)
        nb = Path(tmp) / "notebook.html"
        nb.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{d._repr_html_()}"
                      "</body></html>", encoding="utf-8")
        _screenshot(exe, nb, out / "pictures" / "readme-notebook.png", "900,200", tmp)
    return "wrote readme-report.png, readme-notebook.png"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="directory for tutorial.md and pictures/")
    ap.add_argument("--no-screenshot", action="store_true", help="skip the two PNG screenshots")
    ns = ap.parse_args(argv)
    w = Writer(ns.out)
    w.md += ["# Tutorial: the paper's examples, drawn", "",
             "Generated by `make docs` (scripts/make_docs.py) from the files in `examples/`: every",
             "definition and derivation below is the example file's own text, every picture is",
             "`diagalg.render`'s drawing of it. Check any of them with `diagalg check FILE`,",
             "or see every step with its rule and numeric error in `diagalg check --html report.html FILE`.",
             "", "Conventions: a tensor is a box (a vector a circle) with one line per leg; an isometry",
             "is a triangle whose tip points at its smaller legs, a unitary a square; a copy tensor,",
             "or an index shared by three or more legs, is a black dot; a nonlinear function is a",
             "bubble around its argument; free legs end at the border with their labels; contracted",
             "legs are lines with their index in small grey type; `*` marks a complex conjugate.", ""]
    for k, path in enumerate(example_files(), start=1):
        w.example(k, path)
    (ns.out / "tutorial.md").write_text("\n".join(w.md).rstrip() + "\n", encoding="utf-8")
    w.readme_pictures()
    print(f"wrote {ns.out / 'tutorial.md'} and {len(list(w.pictures.glob('*.svg')))} pictures")
    if not ns.no_screenshot:
        print(screenshots(ns.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
