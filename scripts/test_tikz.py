"""`make test-tikz`: compile the TikZ drawing of every definition and calc step in
examples/ with pdflatex, and fail (listing each LaTeX error) if any does not compile.

pdflatex comes from Debian's texlive-latex-base, texlive-latex-extra (standalone)
and texlive-pictures (tikz); when pdflatex is missing and apt-get can be used, they
are installed, otherwise the script says what to install and exits 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACKAGES = ["texlive-latex-base", "texlive-latex-extra", "texlive-pictures"]


def ensure_pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe:
        return exe
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(PACKAGES)} (apt-get) ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env, check=False)
        exe = shutil.which("pdflatex")
        if exe:
            return exe
    sys.exit(f"test-tikz: pdflatex not found; install it with: apt-get install {' '.join(PACKAGES)}")


def drawings():
    """(name, expression) for every let and every calc step of the examples."""
    import diagalg
    from diagalg.program import CalcStmt

    for path in sorted((ROOT / "examples").rglob("*.diag")):
        program = diagalg.load(path)
        rel = path.relative_to(ROOT).as_posix()
        for name, let in program.lets.items():
            yield f"{rel}: let {name}", let.expr
        for s in program.statements:
            if isinstance(s, CalcStmt):
                yield f"{rel}:{s.source.line}: calc start", s.expr
                for k, step in enumerate(s.steps, start=1):
                    yield f"{rel}:{step.source.line}: calc step {k}", step.expr


def main() -> int:
    from diagalg.render import render

    pdflatex = ensure_pdflatex()
    failures, count = [], 0
    with tempfile.TemporaryDirectory(prefix="diagalg-tikz-") as tmp:
        for k, (name, expr) in enumerate(drawings()):
            tex = Path(tmp) / f"d{k}.tex"
            tex.write_text(render(expr, None, "tikz"), encoding="utf-8")
            run = subprocess.run(
                [pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=120,
            )
            count += 1
            pdf = tex.with_suffix(".pdf")
            if run.returncode != 0 or not pdf.exists() or pdf.stat().st_size < 1000:
                errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
                failures.append(f"{name}: {'; '.join(errors) or 'no PDF'}")
    for f in failures:
        print("FAIL", f)
    print(f"test-tikz: {count - len(failures)} of {count} TikZ drawings compiled with {pdflatex}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
