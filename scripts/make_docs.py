"""Generate docs/tutorial.md and its pictures (docs/pictures/) from examples/.

Usage (from the repository root; `make docs` runs it):

    .venv/bin/python scripts/make_docs.py            # write docs/tutorial.md, docs/pictures/*
    .venv/bin/python scripts/make_docs.py --out DIR  # write DIR/tutorial.md, DIR/pictures/* instead

The tutorial walks through the example files in the paper's order. Each
section is one file: its heading is the opening comment's first sentence (or,
when that sentence is long, its part before the first colon), then the rest of
that comment (the paper's words), its first `let` definitions drawn, its first
`calc` derivations with every step drawn and what `diagalg check` prints for
them, and its first other checked statements (assert, show, cost, ...), each
with its code, its drawing and its `check` output. Every file is checked as
`diagalg check examples/FILE` checks it from the repository root (seed 0), so
the printed lines are the command's own. The README's pictures are made here
too: readme-*.svg from the same drawing code, and, when Chromium is
installed, readme-report.png (a screenshot of `diagalg check --html`) and
readme-notebook.png (a derivation as Jupyter displays it).
Nothing in the tutorial is written by hand, so it stays true to examples/:
tests/test_tutorial.py regenerates it and compares.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))  # headless Chromium as the browser tests drive it

import diagalg  # noqa: E402
from browser import chromium, screenshot  # noqa: E402
from diagalg.checker import Checker, Options, summary_text  # noqa: E402
from diagalg.engine import unfold  # noqa: E402
from diagalg.program import AssertStmt, CalcStmt, CostStmt, DecomposeStmt, DrawStmt, ExpandStmt, RuleStmt, ShowStmt  # noqa: E402
from diagalg.render import render  # noqa: E402
from diagalg.render.scene import pictures  # noqa: E402

#: the paper's order; any other example file follows, sorted
ORDER = [
    "contractions",
    "trace_cyclicity",
    "tensor_product",
    "symmetric",
    "copy_tensor",
    "kronecker",
    "isometry",
    "svd",
    "inverse",
    "mps_gauge",
    "shift_and_reshape",
    "derivatives",
    "transformers/two_layer_paths",
    "transformers/induction_head",
    "transformers/softmax_heads",
    "transformers/toy_model",
    "transformers/gpt2_shapes",
]
CALCS_PER_FILE = 2
LETS_PER_FILE = 6
#: checked statements other than calc shown per file (the rest are counted)
CHECKS_PER_FILE = 4
#: terms of an `expand` or `paths` statement drawn per statement (the rest are counted)
TERMS_PER_STATEMENT = 4
#: lets shown with their values (`diagalg draw FILE NAME --values`): (example, let name)
VALUES_PICTURES = [
    ("transformers/induction_head", "attn"),
    ("transformers/toy_model", "QK1"),
    ("transformers/induction_trained", "A0"),
    ("transformers/induction_trained", "A1"),
]
#: a first sentence longer than this becomes a heading only up to its first colon
TITLE_WIDTH = 100

#: the README's drawings: (file name, example, expression or let name), definitions unfolded
README_PICTURES = [
    ("readme-svd.svg", "svd", "conj(U)[i, a] M[i, j] V[j, c]"),
    ("readme-attention.svg", "transformers/softmax_heads", "A1"),
    ("readme-mps.svg", "mps_gauge", "phi[s1, s2, s3] conj(L1)[s1, a] conj(L2)[a, s2, b] conj(Z3)[b, s3]"),
]


def example_files() -> list[Path]:
    found = {
        p.relative_to(ROOT / "examples").with_suffix("").as_posix(): p
        for p in sorted((ROOT / "examples").rglob("*.diag"))
    }
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    return [found[n] for n in names]


def opening_comment(path: Path) -> tuple[str, list[str]]:
    """(title, prose lines) from the file's first comment block.

    The title is a whole sentence: the first sentence of the comment's first
    paragraph (which may span several comment lines), without its final period.
    When that sentence is longer than :data:`TITLE_WIDTH` characters and has a
    colon, the title is its part before the colon and the prose keeps the whole
    paragraph; otherwise the prose starts with the paragraph's remaining sentences.
    No word of the comment is lost. A file without a comment is titled by its name."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    if not lines or not lines[0]:
        return path.stem, lines
    end = lines.index("") if "" in lines else len(lines)
    first, rest = " ".join(lines[:end]), lines[end:]
    m = re.match(r"(.+?[.!?])(?:\s+(?=[A-Z\"'`(])|$)", first)
    sentence = m.group(1) if m else first
    after = first[len(sentence) :].strip()
    if len(sentence) > TITLE_WIDTH and ": " in sentence:
        return sentence.split(": ", 1)[0], [first] + rest
    return sentence.rstrip("."), ([after] if after else []) + rest


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _plural(n: int, word: str) -> str:
    """``1 definition``, ``2 definitions``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_output(results) -> list[str]:
    """The lines `diagalg check` prints for these results (each result line, then its output indented)."""
    out: list[str] = []
    for r in results:
        out.append(r.line())
        out += ["    " + line for line in r.output]
    return out


def drawn_parts(stmt) -> list[tuple[str, object]]:
    """(caption, expression) of what a checked statement is drawn as: both sides of an
    assertion, a rule or a decomposition, else its one expression."""
    if isinstance(stmt, AssertStmt):
        return [("left", stmt.lhs), ("right", stmt.rhs)]
    if isinstance(stmt, RuleStmt):
        return [("left", stmt.rule.lhs), ("right", stmt.rule.rhs)]
    if isinstance(stmt, DecomposeStmt):
        return [("tensor", stmt.lhs), ("factors", stmt.rhs)]
    if isinstance(stmt, (ShowStmt, ExpandStmt, CostStmt, DrawStmt)):
        return [("expression", stmt.expr)]
    return []


class Writer:
    """The tutorial's markdown (:attr:`md`) and its pictures, written under ``out``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.pictures = out / "pictures"
        self.pictures.mkdir(parents=True, exist_ok=True)
        self.md: list[str] = []

    def picture(self, name: str, expr, pic=None) -> str:
        """Draw ``expr`` (or its already laid out ``pic``: a step of a derivation, laid out
        from the previous step) to pictures/``name`` (SVG); its path relative to the tutorial."""
        if pic is None:
            text = render(expr, None, "svg")
        else:
            from diagalg.printing import expr_text
            from diagalg.render.svg import svg_document

            text = svg_document(pic, expr_text(expr))
        (self.pictures / name).write_text(text, encoding="utf-8")
        return f"pictures/{name}"

    def output(self, results) -> None:
        """What `diagalg check` prints for ``results``, as a text block."""
        lines = check_output(results)
        if lines:
            self.md += ["`diagalg check` prints:", "", "```text", *lines, "```", ""]

    def term_pictures(self, name: str, results) -> None:
        """The first terms an `expand` or `paths` line lists, each drawn under its line (as the
        report and `diagalg draw FILE --line N` draw them), and how many more there are."""
        terms = [t for r in results for t in r.terms]
        if not terms:
            return
        self.md += ["Its terms, drawn (`diagalg draw FILE --line N` draws them all):", ""]
        for j, (line, expr) in enumerate(terms[:TERMS_PER_STATEMENT], start=1):
            self.md += [f"- `{line}`", "", f"  ![term {j}]({self.picture(f'{name}-term{j}.svg', expr)})", ""]
        if len(terms) > TERMS_PER_STATEMENT:
            self.md += [f"({_plural(len(terms) - TERMS_PER_STATEMENT, 'more term')} listed.)", ""]

    def values_picture(self, program, stem: str, rel: str, name: str) -> None:
        """The let ``name`` drawn with the arrays behind it (`draw ... --values`)."""
        from diagalg.values_figure import values_document

        text, shown = values_document(
            program.lets[name].expr, program, 0, folded=True, name=name, labels=program.lets[name].labels
        )
        (self.pictures / f"{stem}-{_slug(name)}-values.svg").write_text(text, encoding="utf-8")
        self.md += [
            f"### Values: `{name}`",
            "",
            f"`diagalg draw {rel} {name} --values -o {name}.svg` draws {name} with the arrays "
            f"behind it ({shown.source}):",
            "",
            f"![{name} with its values](pictures/{stem}-{_slug(name)}-values.svg)",
            "",
        ]

    def example(self, number: int, path: Path) -> None:
        """The section of one example file (see the module docstring); the working
        directory is the repository root, so result lines name ``examples/...``."""
        rel = path.relative_to(ROOT).as_posix()
        stem = _slug(path.relative_to(ROOT / "examples").with_suffix("").as_posix())
        program = diagalg.load(rel)
        checker = Checker(program, Options(seed=0))
        ran = [(stmt, checker.run_statement(stmt)) for stmt in program.statements]
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
        shown = [d for d in lets if d.source.path == rel][:LETS_PER_FILE]
        if shown:
            self.md += ["### Definitions", ""]
            for d in shown:
                src = self.picture(f"{stem}-{_slug(d.name)}.svg", d.expr)
                self.md += ["```diag", d.source.text, "```", "", f"![{d.name}]({src})", ""]
            if len(lets) > len(shown):
                self.md += [f"({_plural(len(lets) - len(shown), 'more definition')} in the file.)", ""]
        for example, name in VALUES_PICTURES:
            if example == path.relative_to(ROOT / "examples").with_suffix("").as_posix():
                self.values_picture(program, stem, rel, name)
        calcs = [(s, results) for s, results in ran if isinstance(s, CalcStmt)][:CALCS_PER_FILE]
        for k, (calc, results) in enumerate(calcs, start=1):
            self.md += [f"### Derivation {k} (line {calc.source.line})", "", "```diag", calc.source.text]
            self.md += ["  " + step.source.text for step in calc.steps] + ["```", ""]
            steady = pictures([calc.expr] + [step.expr for step in calc.steps])  # steps hold still
            src = self.picture(f"{stem}-calc{k}-0.svg", calc.expr, steady[0])
            self.md += [f"Start: ![start]({src})", ""]
            for j, step in enumerate(calc.steps, start=1):
                why = f"by {', '.join(step.rules)}" if step.rules is not None else "by the default rules"
                src = self.picture(f"{stem}-calc{k}-{j}.svg", step.expr, steady[j])
                self.md += [f"Step {j}, {why}: ![step {j}]({src})", ""]
            self.output(results)
        checked = [(s, results) for s, results in ran if results and not isinstance(s, CalcStmt)]
        if checked:
            self.md += ["### Checked statements", ""]
        for k, (stmt, results) in enumerate(checked[:CHECKS_PER_FILE], start=1):
            self.md += ["```diag", stmt.source.text, "```", ""]
            parts = drawn_parts(stmt)
            sides = pictures([e for _, e in parts])  # the sides share one layout where they can
            shown = [
                f"{caption.capitalize()}: ![{caption}]({self.picture(f'{stem}-check{k}-{caption}.svg', e, pic)})"
                for (caption, e), pic in zip(parts, sides)
            ]
            if shown:
                self.md += [" ".join(shown), ""]
            self.output(results)
            if isinstance(stmt, ExpandStmt):
                self.term_pictures(f"{stem}-check{k}", results)
        if len(checked) > CHECKS_PER_FILE:
            self.md += [f"({_plural(len(checked) - CHECKS_PER_FILE, 'more checked statement')} in the file.)", ""]
        every = [r for _, results in ran for r in results]
        if every:
            self.md += [f"`diagalg check {rel}` ends with `checked 1 file (seed 0): {summary_text(every)}`.", ""]

    def readme_pictures(self) -> None:
        """The README's drawings (:data:`README_PICTURES`), definitions unfolded."""
        for name, example, what in README_PICTURES:
            program = diagalg.load(ROOT / "examples" / f"{example}.diag")
            expr = program[what] if what.isidentifier() else program.expr(what)
            self.picture(name, unfold(expr))


def screenshots(out: Path) -> str:
    """readme-report.png (Chromium's screenshot of `check --html` on a short example) and
    readme-notebook.png (a derivation as a notebook displays it, `_repr_html_`)."""
    if chromium() is None:
        return "readme-report.png, readme-notebook.png not made: Chromium is not installed (apt-get install chromium)"
    example = (ROOT / "docs" / "report-example.diag").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "isometry.diag"
        src.write_text(example)
        page = Path(tmp) / "report.html"
        subprocess.run(
            [sys.executable, "-m", "diagalg.cli", "check", "--html", str(page), src.name],
            cwd=tmp,
            capture_output=True,
            check=False,
        )
        screenshot(page, out / "pictures" / "readme-report.png", 1000, 760)
        program = diagalg.parse(example)
        d = diagalg.simplify(program.expr("V[a, b] V[a, c] A[c, d] V[f, d] V[f, e]"), program=program)
        nb = Path(tmp) / "notebook.html"
        nb.write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{d._repr_html_()}</body></html>",
            encoding="utf-8",
        )
        screenshot(nb, out / "pictures" / "readme-notebook.png", 900, 200)
    return "wrote readme-report.png, readme-notebook.png"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="directory for tutorial.md and pictures/")
    ap.add_argument("--no-screenshot", action="store_true", help="skip the two PNG screenshots")
    ns = ap.parse_args(argv)
    ns.out = ns.out.resolve()
    os.chdir(ROOT)  # result lines as `diagalg check examples/...` prints them from the root
    w = Writer(ns.out)
    w.md += [
        "# Tutorial: the paper's examples, drawn",
        "",
        "Generated by `make docs` (scripts/make_docs.py) from the files in `examples/`: every",
        "definition and derivation below is the example file's own text, every picture is",
        "`diagalg.render`'s drawing of it. Check any of them with `diagalg check FILE`,",
        "or see every step with its rule and numeric error in `diagalg check --html report.html FILE`.",
        "",
        "Conventions: a tensor is a box (a vector a circle) with one line per leg; an isometry",
        "is a triangle whose tip points at its smaller legs, a unitary a square; a copy tensor,",
        "or an index shared by three or more legs, is a black dot; a nonlinear function is a",
        "bubble around its argument; free legs end at the border with their labels; contracted",
        "legs are lines with their index in small grey type; `*` marks a complex conjugate.",
        "",
    ]
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
