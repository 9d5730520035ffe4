"""The bench cannot flatter: its summary never counts a peer's wrong answer as a goal
either way, it reports the start-up goals beside the peer goals, and the hopeless
contraction it times is refused from the order's cost alone, with figures a person can
read (the timing itself lives in `make bench`, never in a test)."""

from __future__ import annotations

import json

import pytest

from conftest import load_script
from diagalg.numeric import slicing


@pytest.fixture(scope="module")
def bench():
    """bench/bench_table.py (the summary) and bench/processes.py (the whole commands)."""
    return load_script("bench/bench_table.py"), load_script("bench/processes.py")


def test_a_wrong_peer_answer_is_neither_a_goal_met_nor_one_missed(bench) -> None:
    table, processes = bench
    Row = table.Row
    rows = [
        Row("equal: ring", 10, 0.001, "True", "tensorgrad", "2 ms", "True", "2x", ">= 1x", "yes"),
        Row("equal: ring", 20, 0.001, "True", "tensorgrad", "1 ms", "True", "0.5x", ">= 1x", "NO"),
        Row("equal: MPS", 10, 0.001, "True", "tensorgrad", "9 ms", "False", "peer wrong", ">= 1x", "-"),
    ]
    startup = [
        processes.StartupRow("`diagalg --version`", 0.03, 0.03, "-", "wall < 0.1 s", "yes"),
        processes.StartupRow("`diagalg check` of a one-statement file", 0.7, 0.6, "5.1x numpy", "<= 3x", "NO"),
    ]
    lines = table.goal_summary(rows, startup)
    assert lines[0] == "1 of 2 rows with a goal and a right peer answer meet it."
    assert "not met: equal: ring, N=20: 0.5x against tensorgrad (goal >= 1x)" in lines
    assert "1 rows with a goal have no ratio: the peer answered wrongly (equal: MPS)." in lines
    assert "start-up: 1 of 2 goals met." in lines
    assert any(line.startswith("not met: `diagalg check` of a one-statement file: 0.700 s CPU") for line in lines)


def test_the_hopeless_grid_is_refused_from_its_cost_without_planning_slices(bench, write_diag, cli, monkeypatch):
    _, processes = bench

    def no_slicing(*args, **kwargs):
        raise AssertionError("a contraction hopeless by its FLOPs must not be sliced")

    monkeypatch.setattr(slicing, "plan_slices", no_slicing)
    run = cli("check", write_diag("grid.diag", processes._grid_file()))
    assert run.returncode == 4, run.stdout + run.stderr
    assert "the largest intermediate (1.46e+25 entries; slicing it would take too long) needs 1e+08 EiB" in run.stdout


def test_each_ring_row_reads_its_statements_own_time(bench, write_diag, cli) -> None:
    _, processes = bench
    run = cli("check", "--json", write_diag("ring.diag", processes.check_text("ring", 12)))
    assert run.returncode == 0
    assert processes._statement_share(run).startswith("the statement ")
    seconds = sum(json.loads(line)["seconds"] for line in run.stdout.splitlines() if line.startswith("{"))
    assert processes._statement_share(run) == f"the statement {seconds:.2f} s of it"
