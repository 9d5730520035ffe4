"""`diagalg check` end to end (spec section 7): output lines, details, JSON
lines, seeds, directories, and the exit status (3 internal error > 1 failure >
4 inconclusive > 0; 2 for static errors, when nothing runs).

The main example file, the exit-2 paths and the installed script run the real
command in a subprocess (``run_cli``); the rest call ``diagalg.cli.main`` in
process (``cli``: same code, same streams, same exit status, much faster).
"""

from __future__ import annotations

import json
import re

import pytest

from diagalg.checker import FAIL, INCONCLUSIVE, INTERNAL, OK, Result, exit_status
from diagalg.program import Source

TRACE = """\
# Trace cyclicity and friends (the paper's first identities)
dim n
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor x[i: n]

assert A[i, j] B[j, k] C[k, i] == C[k, i] A[i, j] B[j, k]
assert A[i, j] B[j, k] C[k, i] == A[i, k] C[k, j] B[j, i]
assert tanh(A[i, j]) == 2 * sigmoid(2 * A[i, j]) - delta[i] delta[j]
assert A[i, j] B[j, k] != A[i, j] B[k, j]
assert numeric A[i, j] B[j, k] == A[i, l] B[l, k]
assert A[i, j] B[j, k] != A[i, l] B[l, k]
rule slide: A[i, j] x[j] -> x[j] A[i, j]
rule wrong: A[i, j] x[j] -> x[j] A[j, i]
show A[i, j] delta[j, k] (B[k, l] + 2 * B[k, l])
"""

NUM = r"[0-9.]+(?:e[-+]?\d+)?"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("trace")
    (d / "trace.diag").write_text(TRACE)
    return d


@pytest.fixture(scope="module", params=["auto", "float"])
def trace_run(trace_dir, request):
    """The trace file checked as by default (polynomial statements decided exactly over prime
    fields) and with ``--path float`` (every statement in floating point)."""
    from conftest import _run

    run = _run("check", "--path", request.param, "trace.diag", cwd=trace_dir)
    run.exact = request.param == "auto"
    return run


def line_for(stdout: str, lineno: int, path: str = "trace.diag") -> str:
    found = [l for l in stdout.splitlines() if l.startswith(f"{path}:{lineno}: ")]
    assert len(found) == 1, f"no single output line for {path}:{lineno} in:\n{stdout}"
    return found[0]


# =========================================================================== line format


def test_ok_line_format(trace_run):
    line = line_for(trace_run.stdout, 8)
    how = "exact" if trace_run.exact else f"numeric {NUM}"
    assert re.fullmatch(
        rf"trace\.diag:8: ok    assert A\[i, j\] B\[j, k\] C\[k, i\] == C\[k, i\] A\[i, j\] .*"
        rf"\[symbolic; {how}\]",
        line,
    ), line


def test_fail_line_not_equal_with_max_error_and_seed(trace_run):
    line = line_for(trace_run.stdout, 9)
    assert line.startswith("trace.diag:9: FAIL  assert A[i, j] B[j, k] C[k, i] == ")
    if trace_run.exact:  # a difference in a prime field, at the sizes it was found at
        assert re.search(r"not equal: exact difference at n=\d+ \(seed 0\)$", line), line
        return
    assert re.search(rf"not equal: max error {NUM} \(seed 0\)$", line), line
    error = float(re.search(rf"max error ({NUM})", line).group(1))
    assert error > 1e-3  # a real counterexample, not rounding


def test_fail_line_not_proved_symbolically_but_numerically_equal(trace_run):
    line = line_for(trace_run.stdout, 10)
    assert line.startswith("trace.diag:10: FAIL  assert tanh(A[i, j]) == ")
    assert line.endswith(
        "not proved symbolically; numerically equal: no built-in rule reaches it; state a rule and name it with by, or use assert numeric"
    )


def test_not_equal_assertion_ok(trace_run):
    line = line_for(trace_run.stdout, 11)
    assert line.startswith("trace.diag:11: ok    assert A[i, j] B[j, k] != A[i, j] B[k, j]")
    how = "exact: differ" if trace_run.exact else f"numeric: differ by {NUM}"
    assert re.search(rf"\[{how}\]$", line), line


def test_assert_numeric_ok(trace_run):
    line = line_for(trace_run.stdout, 12)
    how = "exact" if trace_run.exact else f"numeric {NUM}"
    assert re.fullmatch(
        rf"trace\.diag:12: ok    assert numeric A\[i, j\] B\[j, k\] == A\[i, l\] B\[l, k\] \[{how}\]", line
    ), line


def test_not_equal_assertion_fails_when_the_sides_are_equal(trace_run):
    line = line_for(trace_run.stdout, 13)
    assert line.startswith("trace.diag:13: FAIL  assert A[i, j] B[j, k] != A[i, l] B[l, k]")
    assert ("exactly equal on every draw" if trace_run.exact else "numerically equal") in line


def test_user_rules_are_checked_when_defined(trace_run):
    assert line_for(trace_run.stdout, 14).startswith("trace.diag:14: ok    rule slide: ")
    wrong = line_for(trace_run.stdout, 15)
    assert wrong.startswith("trace.diag:15: FAIL  rule wrong: ")
    how = r"exact difference at n=\d+" if trace_run.exact else f"max error {NUM}"
    assert re.search(rf"{how} \(seed 0\)", wrong), wrong


def test_show_prints_the_simplified_expression(trace_run):
    lines = trace_run.stdout.splitlines()
    k = lines.index(line_for(trace_run.stdout, 16))
    assert lines[k].startswith("trace.diag:16: ok    show A[i, j] delta[j, k] (B[k, l] + 2 * B[k, l])")
    assert lines[k + 1] == "    3 * A[i, j] B[j, l]"


def test_one_line_per_statement_in_order_and_a_summary(trace_run):
    result_lines = [l for l in trace_run.stdout.splitlines() if l.startswith("trace.diag:")]
    assert [int(l.split(":")[1]) for l in result_lines] == list(range(8, 17))
    assert trace_run.stdout.splitlines()[-1] == "checked 1 file (seed 0): 5 ok, 4 failed"


def test_fail_exits_1(trace_run):
    assert trace_run.returncode == 1, trace_run.stderr
    assert trace_run.stderr == ""


def test_long_statements_are_shortened_with_an_ellipsis(write_diag, cli, tmp_path):
    long_rhs = " + ".join(["A[i, j]"] * 12)
    write_diag("long.diag", f"dim n\ntensor A[i: n, j: n]\nassert 12 * A[i, j] == {long_rhs}\n")
    r = cli("check", "long.diag", cwd=tmp_path)
    line = line_for(r.stdout, 3, "long.diag")
    assert "…" in line and long_rhs not in line
    assert line.startswith("long.diag:3: ok    assert 12 * A[i, j] == A[i, j] + ")
    assert r.returncode == 0


# =========================================================================== seeds and JSON


def test_seed_changes_the_printed_seed(trace_dir, cli):
    r = cli("check", "--seed", "7", "trace.diag", cwd=trace_dir)
    assert r.returncode == 1
    assert re.search(r"not equal: (max error \S+|exact difference at n=\d+) \(seed 7\)$", line_for(r.stdout, 9))
    assert r.stdout.splitlines()[-1].startswith("checked 1 file (seed 7): ")


def test_json_lines(trace_dir, cli, trace_run):
    r = cli("check", "--json", "trace.diag", cwd=trace_dir)
    assert r.returncode == trace_run.returncode == 1
    records = [json.loads(l) for l in r.stdout.splitlines()]  # every line is JSON
    assert [rec["line"] for rec in records] == list(range(8, 17))
    for rec in records:
        assert {"file", "line", "status", "statement", "detail"} <= set(rec)
        assert rec["file"] == "trace.diag"
    by_line = {rec["line"]: rec for rec in records}
    assert by_line[8]["status"] == "ok"
    assert by_line[8]["statement"] == "assert A[i, j] B[j, k] C[k, i] == C[k, i] A[i, j] B[j, k]"
    assert by_line[9]["status"] == "FAIL" and by_line[9]["seed"] == 0
    assert by_line[9]["max_error"] > 1e-3
    assert by_line[8]["path"] == by_line[9]["path"] == "exact" and by_line[8]["error"] == 0
    assert by_line[9]["error"] is None  # an exact difference prints no figure
    assert by_line[10]["path"] == "float"  # exp: decided in floating point
    assert "not proved symbolically" in by_line[10]["detail"]
    assert [rec["status"] for rec in records] == ["ok", "FAIL", "FAIL", "ok", "ok", "FAIL", "ok", "FAIL", "ok"]


def test_json_seed(trace_dir, cli):
    r = cli("check", "--json", "--seed", "11", "trace.diag", cwd=trace_dir)
    failing = [json.loads(l) for l in r.stdout.splitlines() if json.loads(l)["status"] == "FAIL"]
    assert any("(seed 11)" in rec["detail"] for rec in failing)
    assert all(rec["seed"] == 11 for rec in failing if rec["seed"] is not None)


# =========================================================================== inconclusive and exit status


def test_inconclusive_memory_cap_exits_4(write_diag, cli, tmp_path):
    write_diag(
        "big.diag",
        """\
        dim d = 64
        tensor A[i: d, j: d]
        tensor B[i: d, j: d]
        assert numeric A[i, j] B[j, k] == A[i, l] B[l, k]
        """,
    )
    capped = cli("check", "--memory", "1K", "big.diag", cwd=tmp_path)
    assert capped.returncode == 4, capped.stdout + capped.stderr
    line = line_for(capped.stdout, 4, "big.diag")
    assert line.startswith("big.diag:4: INCONCLUSIVE assert numeric ")
    assert "memory" in line
    assert "1 inconclusive" in capped.stdout.splitlines()[-1]
    uncapped = cli("check", "big.diag", cwd=tmp_path)
    assert uncapped.returncode == 0


def test_inconclusive_nan_exits_4(write_diag, cli, tmp_path):
    write_diag(
        "nan.diag",
        """\
        dim n
        tensor x[i: n]
        assert numeric log(-exp(x[i])) == log(-exp(x[i]))
        """,
    )
    r = cli("check", "nan.diag", cwd=tmp_path)
    assert r.returncode == 4, r.stdout + r.stderr
    line = line_for(r.stdout, 3, "nan.diag")
    assert line.startswith("nan.diag:3: INCONCLUSIVE ")
    assert "NaN" in line


def test_failure_takes_precedence_over_inconclusive(write_diag, cli, tmp_path):
    write_diag(
        "mixed.diag",
        """\
        dim n
        tensor A[i: n, j: n]
        tensor x[i: n]
        assert numeric log(-exp(x[i])) == log(-exp(x[i]))
        assert A[i, j] == A[j, i]
        assert A[i, j] == A[i, j]
        """,
    )
    r = cli("check", "mixed.diag", cwd=tmp_path)
    statuses = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("mixed.diag:")]
    assert statuses == ["INCONCLUSIVE", "FAIL", "ok"]
    assert r.returncode == 1


def test_failure_in_one_file_and_inconclusive_in_another(write_diag, cli, tmp_path):
    write_diag("a_inconclusive.diag", "dim n\ntensor x[i: n]\nassert numeric log(-exp(x[i])) == log(-exp(x[i]))\n")
    write_diag("b_fail.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[j, i]\n")
    assert cli("check", "a_inconclusive.diag", cwd=tmp_path).returncode == 4
    assert cli("check", "a_inconclusive.diag", "b_fail.diag", cwd=tmp_path).returncode == 1


def _result(status: str) -> Result:
    return Result(Source("f.diag", 1, 1, "assert ..."), "assert", status, "")


@pytest.mark.parametrize(
    "statuses, code",
    [
        ([], 0),
        ([OK, OK], 0),
        ([OK, INCONCLUSIVE], 4),
        ([INCONCLUSIVE, FAIL, OK], 1),
        ([FAIL, INTERNAL, INCONCLUSIVE], 3),
        ([INTERNAL], 3),
    ],
)
def test_exit_status_precedence(statuses, code):
    # 3 internal error > 1 failure > 4 inconclusive > 0 (spec section 7)
    assert exit_status([_result(s) for s in statuses]) == code


def test_all_ok_exits_0(write_diag, cli, tmp_path):
    write_diag("ok.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] delta[j, k] == A[i, k]\n")
    r = cli("check", "ok.diag", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines()[-1] == "checked 1 file (seed 0): 1 ok, 0 failed"


# =========================================================================== calc


CALC = """\
dim n
tensor B[i: n, j: n]
tensor X[i: n, j: n] invertible

calc X[i, j] inv(X)[j, k] B[k, l]
  # cancel the gauge pair
  = delta[i, k] B[k, l]   by inverse

  # absorb the identity
  = B[i, l]               by delta
  = 2 * B[i, l]
"""


def test_calc_prints_one_line_per_step_at_the_steps_own_line(write_diag, cli, tmp_path):
    write_diag("calc.diag", CALC)
    r = cli("check", "calc.diag", cwd=tmp_path)
    step1 = line_for(r.stdout, 7, "calc.diag")
    step2 = line_for(r.stdout, 10, "calc.diag")
    step3 = line_for(r.stdout, 11, "calc.diag")
    assert step1.startswith("calc.diag:7: ok    = delta[i, k] B[k, l]")
    assert step2.startswith("calc.diag:10: ok    = B[i, l]")
    assert step3.startswith("calc.diag:11: FAIL  = 2 * B[i, l]")
    assert "numerically false: exact difference at n=" in step3
    assert r.returncode == 1


def test_calc_step_not_reachable_with_the_named_rules_fails(write_diag, cli, tmp_path):
    # X inv(X) does not cancel `by delta` alone; the step is numerically true and
    # reachable with `inverse`, which the failure should say
    write_diag(
        "calc2.diag",
        """\
        dim n
        tensor B[i: n, j: n]
        tensor X[i: n, j: n] invertible
        calc X[i, j] inv(X)[j, k] B[k, l]
          = B[i, l]   by delta
        """,
    )
    r = cli("check", "calc2.diag", cwd=tmp_path)
    line = line_for(r.stdout, 5, "calc2.diag")
    assert line.startswith("calc2.diag:5: FAIL  = B[i, l]"), line
    assert "not reachable" in line
    assert "inverse" in line or "default rules" in line  # which rules would reach it
    assert r.returncode == 1


# =========================================================================== files and directories


def test_directory_argument_checks_every_diag_file(write_diag, cli, tmp_path):
    write_diag("models/one.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[i, j]\n")
    write_diag("models/deeper/two.diag", "dim n\ntensor x[i: n]\nassert x[i] x[i] == x[j] x[j]\n")
    write_diag("models/notes.txt", "assert this is not diag\n")
    write_diag("models/broken.diag.bak", "assert (\n")
    r = cli("check", "models", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert line_for(r.stdout, 3, "models/one.diag")
    assert line_for(r.stdout, 3, "models/deeper/two.diag")
    assert r.stdout.splitlines()[-1] == "checked 2 files (seed 0): 2 ok, 0 failed"


def test_static_error_in_one_of_two_files_runs_nothing(write_diag, run_cli, cli, tmp_path):
    write_diag("good.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[i, j]\n")
    write_diag("bad.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] == B[i, j]\n")
    for order in (("good.diag", "bad.diag"), ("bad.diag", "good.diag")):
        r = (run_cli if order[0] == "good.diag" else cli)("check", *order, cwd=tmp_path)
        assert r.returncode == 2
        assert " ok " not in r.stdout and "ok    " not in r.stdout
        assert r.stdout == ""
        assert r.stderr.startswith("bad.diag:3:19: error: undeclared name 'B'")
        assert "Traceback" not in r.stderr


def test_static_errors_in_every_file_are_all_reported(write_diag, cli, tmp_path):
    write_diag("bad1.diag", "dim n\ntensor A[i: n, j: n]\nassert A[i, j] == B[i, j]\n")
    write_diag("bad2.diag", "dim n\ndim n\n")
    r = cli("check", "bad1.diag", "bad2.diag", cwd=tmp_path)
    assert r.returncode == 2
    assert "bad1.diag:3:19: error:" in r.stderr and "bad2.diag:2:5: error:" in r.stderr


def test_nonexistent_path(run_cli, tmp_path):
    r = run_cli("check", "no/such/file.diag", cwd=tmp_path)
    assert r.returncode == 2
    assert "no/such/file.diag" in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_directory_without_diag_files(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    r = cli("check", "empty", cwd=tmp_path)
    assert r.returncode == 2
    assert "no .diag files" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [["check"], ["check", "--memory", "lots", "x.diag"], ["frobnicate"], []])
def test_bad_command_lines_exit_2_without_traceback(run_cli, cli, tmp_path, args):
    r = (run_cli if args == ["check"] else cli)(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert "usage" in r.stderr.lower() and "Traceback" not in r.stderr


def test_deeply_nested_sums_are_checked_not_an_internal_error(write_diag, cli, tmp_path):
    depth = 150
    write_diag(
        "nested.diag",
        "dim n\ntensor x[i: n]\nassert " + "(x[i] + " * depth + "x[i]" + ")" * depth + f" == {depth + 1} * x[i]\n",
    )
    r = cli("check", "nested.diag", cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert "internal error" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    assert line_for(r.stdout, 3, "nested.diag").startswith("nested.diag:3: ok    assert ")


def test_the_installed_diagalg_script(trace_dir):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "diagalg"
    if not script.exists():
        script = shutil.which("diagalg")
    assert script, "the `diagalg` console script is not installed"
    r = subprocess.run([str(script), "check", "trace.diag"], cwd=trace_dir, capture_output=True, text=True)
    assert r.returncode == 1
    assert line_for(r.stdout, 8).startswith("trace.diag:8: ok    assert")


def test_json_error_is_the_figure_the_line_prints(write_diag, cli, tmp_path):
    """One definition of the error figure: max|L − R| / S, printed on the line and given as
    ``error`` in --json (``max_error`` is the absolute max|L − R|)."""
    write_diag(
        "fig.diag",
        """\
        dim n
        tensor A[i: n, j: n]
        assert numeric exp(A[i, j]) == exp(A[i, j])
        assert exp(A[i, j]) != exp(A[j, i])
        assert numeric exp(A[i, j]) == 1.5 * exp(A[i, j])
        """,
    )
    text = cli("check", "fig.diag", cwd=tmp_path).stdout.splitlines()
    records = [json.loads(l) for l in cli("check", "--json", "fig.diag", cwd=tmp_path).stdout.splitlines()]
    for line, rec in zip(text, records):
        assert rec["path"] == "float"
        shown = float(re.search(rf"(?:numeric|differ by|max error) ({NUM})", line).group(1))
        assert shown == pytest.approx(rec["error"], rel=0.06, abs=1e-15), (line, rec)
    assert records[2]["error"] == pytest.approx(1 / 3)  # |1 - 1.5| / 1.5 of the larger term


def test_dims_that_contradict_bound_weights_are_refused(write_diag, cli, tmp_path):
    """--dims seq=16 with weights whose arrays make seq 5: neither may silently win."""
    import numpy as np

    np.savez(tmp_path / "w.npz", W=np.ones((5, 3)))
    write_diag(
        "w.diag",
        """\
        dim seq, d
        tensor W[s: seq, e: d]
        weights "w.npz"
        assert numeric W[s, e] == W[s, e]
        """,
    )
    r = cli("check", "--dims", "seq=16", "w.diag", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert "--dims seq=16 contradicts the bound weights, whose arrays make seq 5" in r.stderr
    assert cli("check", "--dims", "seq=5", "w.diag", cwd=tmp_path).returncode == 0


# =========================================================================== timings and progress


def test_timings_end_each_line_with_its_statement_time(trace_dir, cli):
    plain = cli("check", "trace.diag", cwd=trace_dir).stdout.splitlines()
    timed = cli("check", "--timings", "trace.diag", cwd=trace_dir).stdout.splitlines()
    results = [l for l in timed if l.startswith("trace.diag:")]
    assert len(results) == 9 and all(re.search(r" \(\d+\.\d\d s\)$", l) for l in results)
    # the same lines otherwise (the shortening of long statements is unchanged), and the same summary
    assert [re.sub(r" \(\d+\.\d\d s\)$", "", l) for l in timed] == plain


def test_json_always_carries_the_statement_seconds(write_diag, cli, tmp_path):
    write_diag(
        "calc.diag",
        """\
        dim n
        tensor A[i: n, j: n]
        tensor B[i: n, j: n]
        assert A[i, j] B[j, k] == B[j, k] A[i, j]
        calc A[i, j] B[j, k] delta[k, l]
          = A[i, j] B[j, l]      by delta
          = B[j, l] A[i, j]
        """,
    )
    records = [json.loads(l) for l in cli("check", "--json", "calc.diag", cwd=tmp_path).stdout.splitlines()]
    assert len(records) == 3
    assert all(isinstance(rec["seconds"], float) and 0 <= rec["seconds"] < 60 for rec in records)
    assert records[1]["seconds"] == records[2]["seconds"]  # a calc's steps share their statement's time


def test_no_progress_line_when_stdout_is_not_a_terminal(trace_dir, cli, monkeypatch):
    monkeypatch.setenv("DIAGALG_PROGRESS_AFTER", "0")  # due at once, were it a terminal
    r = cli("check", "trace.diag", cwd=trace_dir)
    assert r.stderr == "" and "checking" not in r.stdout and "\x1b" not in r.stdout + r.stderr


def test_progress_line_on_a_terminal_is_drawn_in_place_and_erased(trace_dir):
    """Under a pseudo-terminal (stdout and stderr both the tty) the progress line appears,
    is redrawn with ``\\r`` and erased with ``ESC [K`` before the summary; --json stays silent."""
    import os
    import sys

    pexpect = pytest.importorskip("pexpect", reason="pexpect (a test dependency) is not installed")
    env = dict(os.environ, DIAGALG_PROGRESS_AFTER="0", TERM="xterm", COLUMNS="160")

    def terminal(*args: str) -> str:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "diagalg.cli", "check", *args],
            env=env,
            cwd=str(trace_dir),
            encoding="utf-8",
            timeout=120,
            dimensions=(50, 160),
        )
        child.expect(pexpect.EOF)
        child.close()
        return child.before

    shown = terminal("trace.diag", "trace.diag")
    assert "\r\x1b[Kchecking trace.diag (1/2 files, 0 statements)" in shown
    assert re.search(r"checking trace\.diag \(2/2 files, \d+ statements\)", shown)
    summary = shown.index("checked 2 files")
    last = shown.rindex("checking trace.diag", 0, summary)
    assert "\r\x1b[K" in shown[last:summary]  # the last drawing is erased before the summary
    assert "checking" not in shown[summary:]
    for line in shown.replace("\r\n", "\n").split("\n"):
        if line.startswith("trace.diag:"):  # a result line never carries the progress text
            assert "checking" not in line
    quiet = terminal("--json", "trace.diag")
    assert "checking" not in quiet and "\x1b[K" not in quiet
    assert all(json.loads(l) for l in quiet.splitlines() if l.strip())


def test_a_statement_broken_inside_brackets_reads_as_typed(write_diag, cli, tmp_path):
    """The result line joins a statement's lines as typed: no space put inside a bracket."""
    write_diag(
        "broken.diag",
        """\
        dim n
        tensor A[i: n, j: n]
        assert A[i, j] delta[j, k
                            ] == A[i, k]
        """,
    )
    line = line_for(cli("check", "broken.diag", cwd=tmp_path).stdout, 3, "broken.diag")
    assert "assert A[i, j] delta[j, k] == A[i, k]" in line
