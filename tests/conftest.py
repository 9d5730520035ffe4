"""Shared helpers for the front-end and CLI tests.

* ``run_cli`` runs ``python -m diagalg.cli`` in a subprocess (exactly what a user
  gets from the ``diagalg`` script) and returns the completed process.
* ``cli`` runs the same ``diagalg.cli.main`` in this process (the console script
  is ``sys.exit(main())``), capturing stdout, stderr and the exit status the
  same way; it is ~20 times faster, so most CLI tests use it.
* ``write_diag`` writes a .diag file into the test's temporary directory.
* ``source_error`` parses text that must be rejected and returns the
  :class:`diagalg.SourceError` (failing the test if anything else happens).
* ``load_script`` imports one of the repository's scripts (``bench/``, ``scripts/``,
  ``docs/``) as a module, leaving the environment, ``sys.path`` and ``sys.modules`` as
  they were.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

import diagalg

# `make test` is reproducible: property tests draw the same examples on every run and
# keep no example database (a failure found once is a regression test, not luck).
# HYPOTHESIS_PROFILE=explore (e.g. a longer fuzz run) draws fresh random examples.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent

#: Declarations most front-end tests start from (the paper's usual cast).
PRELUDE = """\
dim n, m
dim d = 4
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor x[i: n]
tensor S[i: n, j: n] symmetric(i, j)
tensor T[i: n, j: n] antisymmetric(i, j)
tensor X[i: n, j: n] invertible
tensor V[a: n, b: m] isometry(b -> a)
"""


def _run(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diagalg.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(cwd) if cwd is not None else None,
        timeout=timeout,
    )


def _run_in_process(*args, cwd=None) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import os

    from diagalg.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """Like ``run_cli`` but in this process: ``cli("check", path, cwd=...)``."""
    return _run_in_process


@pytest.fixture
def run_cli():
    """``run_cli("check", path, ...)`` -> CompletedProcess (stdout, stderr, returncode)."""
    return _run


@pytest.fixture
def write_diag(tmp_path):
    """``write_diag("name.diag", text)`` -> Path; text is dedented."""

    def write(name: str, text: str | bytes) -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(textwrap.dedent(text), encoding="utf-8")
        return p

    return write


def expect_error(text: str, **kw) -> diagalg.SourceError:
    """Parse ``text``; it must raise SourceError (and nothing else). Returns the error."""
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.parse(text, **kw)
    return info.value


@pytest.fixture
def source_error():
    return expect_error


def python_calls(fn, *args, **kwargs):
    """(result, number of Python function calls made while running ``fn``): a
    deterministic measure of work, so "near-linear" is tested by counting instead of
    timing (timings depend on the machine and its load)."""
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(old)
    return result, calls


def load_script(relative: str) -> ModuleType:
    """The script at ``ROOT / relative`` as a module. Its own folder is on ``sys.path``
    while it loads (bench scripts import their siblings), it is in ``sys.modules`` while
    it loads (dataclasses look their module up there), and whatever it sets in
    ``os.environ`` at import (the bench's single-threaded BLAS) is undone, as are the
    sibling modules it imported: no test's process is changed by loading a script."""
    path = ROOT / relative
    env, sys_path, modules = dict(os.environ), list(sys.path), set(sys.modules)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(env)
        sys.path[:] = sys_path
        for name in set(sys.modules) - modules:  # the script and its siblings, nothing else
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == path.parent:
                del sys.modules[name]
    return module
