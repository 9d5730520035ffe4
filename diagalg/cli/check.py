"""`diagalg check`: parse and check every file first (any static error: exit 2, nothing
runs), then run every statement, print its result lines, and write the HTML report
(``--html``). Exit status: 3 internal error, 1 failure, 4 inconclusive, 0 all ok.

Every result carries the wall time of the statement that produced it (``seconds``
in ``--json``; printed at the end of each line with ``--timings``); the lines of a
``calc`` share their statement's time. On a terminal (stdout and stderr TTYs, not ``--json``)
a run still going after :data:`PROGRESS_AFTER` seconds shows a transient progress
line on stderr, redrawn in place and erased before each result line and before the
summary; the environment variable ``DIAGALG_PROGRESS_AFTER`` overrides the delay."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import TYPE_CHECKING, Iterable, Sequence, TextIO

from ..errors import DiagalgError, SourceError
from .args import files_of, parse_dims, parse_size

if TYPE_CHECKING:
    from ..checker import Checker, Result
    from ..program import RunStmt


def add_check_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``check`` subcommand."""
    c = sub.add_parser("check", help="check the assertions of .diag files")
    c.add_argument("paths", nargs="+", help=".diag files or directories (searched for *.diag)")
    c.add_argument("--json", action="store_true", help="print results as JSON lines")
    c.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    c.add_argument("--memory", type=parse_size, default=2**30, help="memory cap of one numeric check (default 1G)")
    c.add_argument("--unchecked", action="store_true", help="do not verify each rewrite numerically")
    c.add_argument(
        "--full-terms",
        action="store_true",
        help="expand/paths listings: print every term in full (no let folded into its name)",
    )
    c.add_argument(
        "--weights",
        metavar="FILE",
        help="bind declared tensors to the arrays of an .npz/.npy file, or a TransformerLens state dict "
        "(.safetensors or .npz) to a standard model",
    )
    c.add_argument(
        "--fold-ln",
        action="store_true",
        help="with a TransformerLens checkpoint: fold each layer norm into the weights that read it "
        "(as TransformerLens's fold_layer_norm)",
    )
    c.add_argument(
        "--center-unembed",
        action="store_true",
        help="with a TransformerLens checkpoint: centre W_U and b_U over the vocabulary",
    )
    c.add_argument(
        "--dims",
        type=parse_dims,
        metavar="NAME=SIZE,...",
        help="sizes used by numeric checks for these dimensions (e.g. seq=16,vocab=50)",
    )
    c.add_argument(
        "--timings",
        action="store_true",
        help="end each result line with its statement's wall time, e.g. (0.12 s); the lines of a "
        "calc share their statement's time (--json always carries it as seconds)",
    )
    c.add_argument("--html", metavar="FILE", help="also write an HTML report: every statement, each step drawn")
    c.add_argument(
        "--path",
        choices=("auto", "exact", "float"),
        default="auto",
        help="how numeric checks decide: exactly over prime fields where the statement is polynomial "
        "(auto, the default), always exactly (exact), or in floating point (float)",
    )
    c.set_defaults(func=cmd_check)


def cmd_check(ns: argparse.Namespace) -> int:
    from ..checker import Checker, Options, exit_status, summary_text
    from ..lower import load_program

    files = files_of(ns.paths)
    if not files:
        raise DiagalgError("no .diag files found in " + ", ".join(ns.paths))
    programs = []
    errors: list[SourceError] = []
    for f in files:
        try:
            programs.append(load_program(f))
        except SourceError as e:
            errors.append(e)
    if not errors and getattr(ns, "weights", None):
        from ..checkpoints import bind_checkpoint, is_transformerlens, load_state_dict
        from ..weights import Binding, WeightsError, bind

        try:
            arrays = load_state_dict(ns.weights)
            for program in programs:
                if is_transformerlens(arrays):
                    program.binding = bind_checkpoint(
                        ns.weights,
                        ns.weights,
                        "transformerlens",
                        program.tensors,
                        program.env,
                        program.binding or Binding(),
                        fold_ln=getattr(ns, "fold_ln", False),
                        center_unembed=getattr(ns, "center_unembed", False),
                    )
                    continue
                if getattr(ns, "fold_ln", False) or getattr(ns, "center_unembed", False):
                    raise WeightsError(
                        f"{ns.weights}: --fold-ln and --center-unembed need a TransformerLens "
                        "state dict (embed.W_E, blocks.0.attn.W_Q, ...)"
                    )
                own = {k: v for k, v in arrays.items() if k in program.tensors}
                if not own:
                    raise WeightsError(
                        f"{ns.weights}: none of its arrays ({', '.join(sorted(arrays))}) is a "
                        f"tensor declared in {program.path}"
                    )
                program.binding = bind(own, program.tensors, program.env, ns.weights, program.binding or Binding())
        except WeightsError as e:
            raise DiagalgError(str(e)) from None
    if ns.dims:
        from ..numeric.check import dims_conflict

        for program in programs:
            unknown = sorted(set(ns.dims) - set(program.env.symbols))
            if unknown:
                raise DiagalgError(f"--dims: {', '.join(unknown)} is not a dimension of {program.path}")
            clash = dims_conflict(program.env, program.binding, ns.dims)
            if clash:
                raise DiagalgError(f"{program.path}: {clash}")
    if errors:
        for err in errors:
            if ns.json:
                print(
                    json.dumps(
                        {"file": err.path, "line": err.line, "col": err.col, "status": "error", "message": err.message}
                    )
                )
            else:
                print(err.render(), file=sys.stderr)
        return 2
    results: list[Result] = []
    report: list[tuple[Checker, list[tuple[RunStmt, list[Result]]]]] = []  # per file, for --html
    progress = Progress(len(programs), enabled=not ns.json and sys.stdout.isatty() and sys.stderr.isatty())
    timings = getattr(ns, "timings", False)
    for number, program in enumerate(programs, start=1):
        checker = Checker(
            program,
            Options(
                seed=ns.seed,
                memory_cap=ns.memory,
                checked=not ns.unchecked,
                dims=dict(ns.dims or {}),
                path=ns.path,
                full_terms=getattr(ns, "full_terms", False),
            ),
        )
        report.append((checker, []))
        for stmt in program.statements:
            progress.update(str(program.path), number)
            start = time.perf_counter()
            mine = checker.run_statement(stmt)
            seconds = time.perf_counter() - start
            progress.statements += 1
            report[-1][1].append((stmt, mine))
            if mine:
                progress.clear()
            for r in mine:
                r.seconds = seconds
                results.append(r)
                if ns.json:
                    print(json.dumps(r.as_json()))
                else:
                    print(r.line() + (f" ({seconds:.2f} s)" if timings else ""))
                    for line in r.output:
                        print("    " + line)
                sys.stdout.flush()
    progress.clear()
    if ns.html:
        write_report(ns.html, report, ns.seed)
    if not ns.json:
        print(
            f"checked {len(programs)} file{'s' if len(programs) != 1 else ''} (seed {ns.seed}): {summary_text(results)}"
        )
    return exit_status(results)


#: seconds a run goes on before the terminal shows its progress line
PROGRESS_AFTER = 2.0


class Progress:
    """The transient progress line of a long ``check`` on a terminal.

    :meth:`update` (called before each statement runs) draws
    ``checking FILE (i/n files, k statements)`` on stderr, in place, once the run is
    older than :data:`PROGRESS_AFTER` seconds (or ``$DIAGALG_PROGRESS_AFTER``);
    :meth:`clear` erases it, so result lines and the summary never share a line with
    it. A disabled progress (stdout or stderr not a TTY, or ``--json``) writes nothing at all."""

    def __init__(self, files: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.files = files
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.statements = 0  # statements run so far
        self.shown = False
        self.started = time.monotonic()
        try:
            self.after = float(os.environ.get("DIAGALG_PROGRESS_AFTER", PROGRESS_AFTER))
        except ValueError:
            self.after = PROGRESS_AFTER

    def update(self, path: str, number: int) -> None:
        """Draw the line for file ``number`` (1-based) at ``path``, when due."""
        if not self.enabled or time.monotonic() - self.started < self.after:
            return
        text = (
            f"checking {path} ({number}/{self.files} file{'s' if self.files != 1 else ''}, "
            f"{self.statements} statement{'s' if self.statements != 1 else ''})"
        )
        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width > 1:
            text = text[: width - 1] + "…"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line if it is on the terminal."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def write_report(path: str, files: Iterable[tuple[Checker, Sequence[tuple[RunStmt, list[Result]]]]], seed: int) -> None:
    """Write the HTML report of ``check --html`` (see :func:`diagalg.report.report`)."""
    from ..report import report

    try:
        from pathlib import Path

        Path(path).write_text(report(files, seed), encoding="utf-8")
    except OSError as e:
        raise DiagalgError(f"--html {path}: {e.strerror or e}") from None
