"""Every example file passes `diagalg check` (what `make demo` runs), and the
benchmarks' chain builders still produce what they time."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import load_script

# end to end over every example or document: left out of `make test-quick`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.diag"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_checks(cli, path):
    res = cli("check", path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout.splitlines()[-1]
    assert "FAIL" not in res.stdout and "ERROR" not in res.stdout


def _bench(name: str):
    return load_script(f"bench/{name}.py")


@pytest.mark.parametrize("kind", ["mixed", "delta"])
def test_simplify_bench_chain_reduces_to_the_bare_chain(kind):
    bench = _bench("bench_simplify")
    seconds, nodes, checks = bench.time_diagalg(12, kind, checked=True)
    assert nodes == (30 if kind == "mixed" else 24)
    assert checks >= 1
