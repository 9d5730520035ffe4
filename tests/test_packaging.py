"""Packaging: a regular (non-editable) install carries the grammar and the
``diagalg`` console script, and works from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

# end to end over every example or document: left out of `make test-quick`
pytestmark = pytest.mark.slow

from conftest import ROOT

GRAMMAR_IN_WHEEL = "diagalg/grammar/diag.lark"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("diagalg-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_contains_the_grammar(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert GRAMMAR_IN_WHEEL in names
        assert z.read(GRAMMAR_IN_WHEEL) == (ROOT / "grammar" / "diag.lark").read_bytes()
        # and the parser tables built from it, so an installed copy starts without building them
        assert z.read("diagalg/grammar/diag.tables.json") == (ROOT / "grammar" / "diag.tables.json").read_bytes()


def test_the_wheel_declares_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as z:
        (ep,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = z.read(ep).decode()
    assert "[console_scripts]" in text
    assert "diagalg = diagalg.cli:main" in text


def test_the_wheel_contains_the_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for module in [
        "diagalg/__init__.py",
        "diagalg/parser.py",
        "diagalg/lower/__init__.py",
        "diagalg/cli/__init__.py",
        "diagalg/checker.py",
        "diagalg/numeric/__init__.py",
        "diagalg/rules/__init__.py",
    ]:
        assert module in names


def test_an_installed_wheel_finds_its_grammar_and_parses(wheel, tmp_path):
    # install into a bare target directory and import from there, away from the repo
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    code = (
        "import diagalg, diagalg.parser as p, diagalg.vocabulary as v, pathlib\n"
        "print(pathlib.Path(diagalg.__file__).resolve())\n"
        "print(v.grammar_path().resolve())\n"
        "prog = diagalg.parse('dim n\\ntensor A[i: n, j: n]\\nassert A[i, j] == A[i, j]\\n')\n"
        "print(len(prog.statements))\n"
        "print(p._lark().source_path)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    pkg, grammar, count, source = r.stdout.splitlines()
    assert source == "<deserialized>", "the installed copy built its parser instead of loading the tables"
    assert Path(pkg).is_relative_to(target.resolve()), "imported the repo copy, not the installed one"
    assert Path(grammar) == (target / "diagalg" / "grammar" / "diag.lark").resolve()
    assert count == "1"


def test_pyproject_declares_the_console_script():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["scripts"]["diagalg"] == "diagalg.cli:main"
    assert data["project"]["name"] == "diagalg"


def test_the_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "diagalg"
    assert script.exists(), "the diagalg script is not installed in this environment"
    r = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("diagalg ")
