"""Whole commands timed from outside, as a user waits for them: the *whole process* rows
of the table and its start-up section (issue 19).

Start-up is measured as CPU time (user + system of the child, from ``getrusage``),
which does not depend on how busy the other core is, with the wall time beside it;
BLAS threading is the user's (bench_table.py's single-threaded default is dropped);
the anchors (``python -c pass``, ``import numpy``, ``import sympy``) are measured in the
same run by the same function. Every command runs with Python's bytecode cache on, in a
directory of its own (``PYTHONPYCACHEPREFIX``), and once untimed first: an installed
package ships its ``.pyc`` files, and a machine that sets ``PYTHONDONTWRITEBYTECODE``
(this one does) would otherwise time the compilation of every diagalg module too.

Usage: .venv/bin/python bench/processes.py   (prints the start-up section)
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402

#: The repeat policy of both sides (peer_worker.py follows it too): the best of up to
#: REPEATS runs, one run only when a run takes over 2 s.
REPEATS = 3
#: Start-up commands are short and noisy: the best of more runs.
STARTUP_REPEATS = 7

PY = sys.executable
DIAGALG = str(Path(sys.executable).parent / "diagalg")
_CACHE = tempfile.mkdtemp(prefix="diagalg-bench-pyc-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
#: The environment of every timed command: the user's, with the bytecode cache on, and
#: without the single-threaded BLAS that bench_table.py sets for its in-process rows (a
#: user's ``import numpy`` starts its BLAS threads, and so does diagalg's).
_DROPPED = {
    "PYTHONDONTWRITEBYTECODE",
    "DIAGALG_BENCH_DEFAULTED",
    *os.environ.get("DIAGALG_BENCH_DEFAULTED", "").split(","),
}
ENV = {k: v for k, v in os.environ.items() if k not in _DROPPED} | {"PYTHONPYCACHEPREFIX": _CACHE}


def timed_command(
    cmd: list[str], limit: float = 600, repeats: int = REPEATS
) -> tuple[float, float, subprocess.CompletedProcess | None]:
    """(best CPU seconds, best wall seconds, the last run) of ``cmd`` under the repeat
    policy; (inf, inf, None) when a run passes ``limit``."""
    cpu = wall = math.inf
    proc = None
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=ENV)
        except subprocess.TimeoutExpired:
            return math.inf, math.inf, None
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        wall = min(wall, dt)
        if dt > 2:
            break
    return cpu, wall, proc


def warm(cmd: list[str]) -> None:
    """Run ``cmd`` once untimed, so the bytecode cache holds every module it imports."""
    subprocess.run(cmd, capture_output=True, env=ENV, timeout=600)


def check_text(case: str, n: int) -> str:
    """A .diag file asserting ``case``'s two sides equal (:mod:`cases`' builders)."""
    decls, lhs, rhs = getattr(cases, case)(n)
    return decls + f"assert {lhs} == {rhs}\n"


def diagalg_process(case: str, n: int) -> tuple[float, str]:
    """``diagalg check FILE`` end to end, as a user runs it: interpreter start, imports,
    parsing, the proof and the numeric confirmation of the claim."""
    path = Path(tempfile.gettempdir()) / f"diagalg-bench-{case}-{n}.diag"
    path.write_text(check_text(case, n))
    warm([DIAGALG, "check", str(path)])
    _, wall, proc = timed_command([DIAGALG, "check", str(path)])
    path.unlink()
    ok = proc is not None and proc.returncode == 0
    return wall, ("True" if ok else "False")


ONE_STATEMENT = "dim n\ntensor A[i: n, j: n]\nassert A[i, i] == A[j, j]\n"


def _hopeless_file(legs: int = 12) -> str:
    names = [f"a{i}" for i in range(legs)]
    swapped = [names[1], names[0], *names[2:]]
    return (
        "dim n\n"
        f"tensor E[{', '.join(f'{a}: n' for a in names)}] antisymmetric({', '.join(names)})\n"
        f"assert numeric E[{', '.join(names)}] == -E[{', '.join(swapped)}]\n"
    )


def import_shares(path: Path) -> str:
    """Who the one-statement check's import time belongs to: each package's share of the
    self times ``python -X importtime`` reports (the instrument slows every import alike)."""
    code = f"from diagalg.cli import main; main(['check', {str(path)!r}])"
    err = subprocess.run([PY, "-X", "importtime", "-c", code], capture_output=True, text=True, env=ENV).stderr
    totals: dict[str, int] = {}
    for m in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|\s*([\w.]+)", err):
        top = m.group(2).split(".")[0]
        top = "sympy" if top == "mpmath" else top  # sympy's own dependency, imported only by it
        group = top if top in ("sympy", "numpy", "igraph", "lark", "diagalg", "opt_einsum") else "other"
        totals[group] = totals.get(group, 0) + int(m.group(1))
    whole = sum(totals.values()) or 1
    return ", ".join(f"{k} {100 * v / whole:.0f}%" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]))


def _grid_file(side: int = 16) -> str:
    """A periodic ``side`` x ``side`` grid of one 4-leg tensor: a small input whose
    contraction has no order with a small intermediate (1.5e25 entries at side 16)."""
    h = lambda i, j: f"h{i % side}x{j % side}"  # noqa: E731
    v = lambda i, j: f"v{i % side}x{j % side}"  # noqa: E731
    factors = [f"T[{h(i, j)}, {v(i, j)}, {h(i, j - 1)}, {v(i - 1, j)}]" for i in range(side) for j in range(side)]
    grid = " ".join(factors)
    return f"dim n\ntensor T[a: n, b: n, c: n, d: n]\nassert numeric {grid} == {grid}\n"


def _statement_share(proc: subprocess.CompletedProcess) -> str:
    """The statements' own time from ``--json`` (the rest is start-up, parsing, lowering)."""
    seconds = [json.loads(line).get("seconds", 0.0) for line in proc.stdout.splitlines() if line.startswith("{")]
    return f"the statement {sum(seconds):.2f} s of it" if seconds else "-"


@dataclass
class StartupRow:
    what: str
    cpu: float
    wall: float
    against: str
    goal: str = "-"
    met: str = "-"


def startup_section(log=print) -> tuple[list[str], list[StartupRow]]:
    """The start-up and large-file section as markdown lines, and its rows (each row is
    also given to ``log`` as it is measured)."""
    work = Path(tempfile.mkdtemp(prefix="diagalg-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    (work / "one.diag").write_text(ONE_STATEMENT)
    (work / "inputs.diag").write_text(_hopeless_file())
    (work / "grid.diag").write_text(_grid_file())
    rows: list[StartupRow] = []

    def row(what: str, cmd: list[str], repeats: int, against=None, goal: str = "-", met=None, warm_with=None) -> float:
        warm(warm_with or cmd)  # a small instance fills the bytecode cache as well as a large one
        cpu, wall, proc = timed_command(cmd, repeats=repeats)
        verdict = "-" if met is None else ("yes" if proc is not None and met(cpu, wall, proc) else "NO")
        shown = "-" if against is None or proc is None else against(cpu, proc)
        rows.append(StartupRow(what, cpu, wall, shown, goal, verdict))
        log(f"  {what:<66} cpu {cpu:7.3f} s  wall {wall:7.3f} s  {shown}  {goal}  {verdict}")
        return cpu

    def refused(cpu: float, wall: float, proc: subprocess.CompletedProcess) -> bool:
        return cpu <= 1.5 * one_cpu and proc.returncode == 4 and "memory cap" in proc.stdout

    row("`python -c pass`", [PY, "-c", "pass"], STARTUP_REPEATS)
    numpy_cpu = row("`python -c 'import numpy'`", [PY, "-c", "import numpy"], STARTUP_REPEATS)
    times_numpy = lambda cpu, proc: f"{cpu / numpy_cpu:.1f}x numpy"  # noqa: E731
    row("`python -c 'import sympy'`", [PY, "-c", "import sympy"], STARTUP_REPEATS, times_numpy)
    under = lambda cpu, wall, proc: wall < 0.1  # noqa: E731
    row("`diagalg --version`", [DIAGALG, "--version"], STARTUP_REPEATS, goal="wall < 0.1 s", met=under)
    row("`diagalg --help`", [DIAGALG, "--help"], STARTUP_REPEATS, goal="wall < 0.1 s", met=under)
    one_cpu = row(
        "`diagalg check` of a one-statement file",
        [DIAGALG, "check", str(work / "one.diag")],
        STARTUP_REPEATS,
        times_numpy,
        "<= 3x numpy CPU",
        lambda cpu, wall, proc: cpu <= 3 * numpy_cpu and proc.returncode == 0,
    )
    for n in (10, 1000, 5000, 20000):
        (work / f"ring{n}.diag").write_text(check_text("ring", n))
    small = [DIAGALG, "check", "--json", str(work / "ring10.diag")]
    for n in (1000, 5000, 20000):
        cmd = [DIAGALG, "check", "--json", str(work / f"ring{n}.diag")]
        share = lambda c, p: _statement_share(p)  # noqa: E731
        row(f"`diagalg check` of a ring of {n:,} matrices vs a rotated copy", cmd, 1, share, warm_with=small)
    for what, name in (
        ("whose contraction is hopeless (16 x 16 periodic grid)", "grid.diag"),
        ("whose inputs cannot fit (12-leg antisymmetric, n >= 12)", "inputs.diag"),
    ):
        cmd = [DIAGALG, "check", str(work / name)]
        row(
            f"`diagalg check` {what}",
            cmd,
            REPEATS,
            goal="refused (exit 4) within 1.5x the one-statement check",
            met=refused,
        )
    shares = import_shares(work / "one.diag")
    log(f"  imports of the one-statement check: {shares}")
    out = [
        "## Start-up and large files",
        "",
        "Whole commands timed from outside: CPU time (user + system) and wall time, the best of "
        f"{STARTUP_REPEATS} runs for start-up rows and of up to {REPEATS} (one over 2 s) for the others, after "
        "one untimed run that fills the bytecode cache (an installed package ships its `.pyc` files), with "
        "the user's BLAS threading. The anchors are measured in the same run.",
        "",
        "| what | CPU | wall | against | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    out += [f"| {r.what} | {r.cpu:.3f} s | {r.wall:.3f} s | {r.against} | {r.goal} | {r.met} |" for r in rows]
    out += ["", f"Import time of the one-statement check by package (self times under `-X importtime`): {shares}."]
    return out, rows


if __name__ == "__main__":
    startup_section()
