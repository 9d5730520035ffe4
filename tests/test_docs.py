"""The README and the language reference show real output: every example they
contain is run and its output compared (docs/check_examples.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# end to end over every example or document: left out of `make test-quick`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("doc", ["README.md", "docs/language.md"])
def test_documented_examples_print_what_the_docs_show(doc: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "check_examples.py"), str(ROOT / doc), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " 0 mismatches" in run.stdout
    assert "console blocks" in run.stdout and not run.stdout.strip().endswith(": 0 console blocks, 0 mismatches")
