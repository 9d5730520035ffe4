"""The `diagalg` command line.

`diagalg check FILE|DIR...` parses and checks every file first (any static error:
exit 2, nothing runs), then runs every statement. Exit status: 3 internal error,
1 failure, 4 inconclusive, 0 all ok. No input produces a Python traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import re
import sys
import traceback
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import DiagalgError, SourceError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$")


def parse_size(text: str) -> int:
    """'1G', '512M', '2GiB', '1000000' -> bytes."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 512M or 2G)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def parse_dims(text: str) -> dict[str, int]:
    """'seq=16,vocab=50' -> {'seq': 16, 'vocab': 50}."""
    out: dict[str, int] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"not a dimension size: {part!r} (use e.g. seq=16,vocab=50)")
        out[name.strip()] = int(value)
    return out


def _files(args: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.diag") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise DiagalgError(f"{a}: no such file or directory")
    return out


def cmd_check(ns: argparse.Namespace) -> int:
    from .checker import Checker, Options, exit_status
    from .lower import load_program

    files = _files(ns.paths)
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
        from .weights import Binding, WeightsError, bind, load_arrays

        try:
            arrays = load_arrays(ns.weights)
            for program in programs:
                mine = {k: v for k, v in arrays.items() if k in program.tensors}
                if not mine:
                    raise WeightsError(f"{ns.weights}: none of its arrays ({', '.join(sorted(arrays))}) is a "
                                       f"tensor declared in {program.path}")
                program.binding = bind(mine, program.tensors, program.env, ns.weights,
                                       program.binding or Binding())
        except WeightsError as e:
            raise DiagalgError(str(e)) from None
    if ns.dims:
        for program in programs:
            unknown = sorted(set(ns.dims) - set(program.env.symbols))
            if unknown:
                raise DiagalgError(f"--dims: {', '.join(unknown)} is not a dimension of {program.path}")
    if errors:
        for e in errors:
            if ns.json:
                print(json.dumps({"file": e.path, "line": e.line, "col": e.col, "status": "error",
                                  "message": e.message}))
            else:
                print(e.render(), file=sys.stderr)
        return 2
    results = []
    report = []  # (checker, [(statement, its results)]) per file, for --html
    for program in programs:
        checker = Checker(program, Options(seed=ns.seed, memory_cap=ns.memory, checked=not ns.unchecked,
                                           dims=dict(ns.dims or {}), path=ns.path))
        report.append((checker, []))
        for stmt in program.statements:
            mine = checker.run_statement(stmt)
            report[-1][1].append((stmt, mine))
            for r in mine:
                results.append(r)
                if ns.json:
                    print(json.dumps(r.as_json()))
                else:
                    print(r.line())
                    for line in r.output:
                        print("    " + line)
                sys.stdout.flush()
    if ns.html:
        from .render.commands import write_report

        write_report(ns.html, report, ns.seed)
    if not ns.json:
        counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "FAIL", "INCONCLUSIVE", "ERROR")}
        unconfirmed = sum(1 for r in results if r.status == "ok" and r.unconfirmed)
        summary = f"{counts['ok'] - unconfirmed} ok"
        if unconfirmed:
            summary += f", {unconfirmed} ok unconfirmed"
        summary += f", {counts['FAIL']} failed"
        if counts["INCONCLUSIVE"]:
            summary += f", {counts['INCONCLUSIVE']} inconclusive"
        if counts["ERROR"]:
            summary += f", {counts['ERROR']} internal errors"
        print(f"checked {len(programs)} file{'s' if len(programs) != 1 else ''} (seed {ns.seed}): {summary}")
    return exit_status(results)


def cmd_scores(ns: argparse.Namespace) -> int:
    from .scores import composition_scores, format_table, layers_from_arrays, random_baseline
    from .weights import WeightsError, load_arrays

    try:
        layers = layers_from_arrays(load_arrays(ns.weights))
    except (WeightsError, ValueError) as e:
        raise DiagalgError(f"{ns.weights}: {e}" if not str(e).startswith(ns.weights) else str(e)) from None
    if len(layers) < 2:
        raise DiagalgError(f"{ns.weights}: composition needs at least two layers, found {len(layers)}")
    scores = composition_scores(layers)
    first = layers[0]
    baseline = random_baseline(first.d_model, first.d_head, first.n_heads, seed=ns.seed, samples=ns.samples)
    print(format_table(scores, baseline))
    return 0


def cmd_simplify(ns: argparse.Namespace) -> int:
    from .engine import simplify, unfold
    from .lower import load_program, parse_expression
    from .printing import expr_text
    from .rules import DEFAULT_RULES, implemented_rules

    if ns.expr is not None:
        if ns.decl is None and ns.file is not None:
            ns.decl = ns.file
        program = load_program(ns.decl) if ns.decl else __import__("diagalg").parse("")
        targets = [(ns.expr, parse_expression(program, ns.expr))]
    else:
        if ns.file is None:
            raise DiagalgError("simplify needs a FILE, or -e EXPR (with --decl FILE for its declarations)")
        program = load_program(ns.file)
        names = ns.names or list(program.lets)
        missing = [n for n in names if n not in program.lets]
        if missing:
            raise DiagalgError(f"{ns.file}: no let named {', '.join(missing)} (lets: {', '.join(program.lets) or 'none'})")
        targets = [(n, program.lets[n].expr) for n in names]
        if not ns.names:
            from .program import ShowStmt

            targets += [(s.source.text, s.expr) for s in program.statements if isinstance(s, ShowStmt)]
    rules = tuple(r.strip() for r in ns.rules.split(",")) if ns.rules else DEFAULT_RULES
    unknown = [r for r in rules if r not in implemented_rules()]
    if unknown:
        raise DiagalgError(f"unknown rule {unknown[0]!r} (known: {', '.join(implemented_rules())})")
    subs = program.env.concrete_subs()
    for name, expr in targets:
        start = unfold(expr) if ns.unfold else expr
        d = simplify(start, rules=rules, subs=subs, checked=not ns.unchecked, env=program.env, seed=ns.seed)
        print(f"{name} = {expr_text(d.result)}")
        if ns.trace:
            from .printing import derivation_lines

            print("\n".join(derivation_lines(d)))
        sys.stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diagalg", description="Symbolic tensor-diagram algebra.")
    p.add_argument("--version", action="version", version=f"diagalg {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check the assertions of .diag files")
    c.add_argument("paths", nargs="+", help=".diag files or directories (searched for *.diag)")
    c.add_argument("--json", action="store_true", help="print results as JSON lines")
    c.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    c.add_argument("--memory", type=parse_size, default=2**30,
                   help="memory cap of one numeric check (default 1G)")
    c.add_argument("--unchecked", action="store_true", help="do not verify each rewrite numerically")
    c.add_argument("--weights", metavar="FILE", help="bind declared tensors to the arrays of an .npz/.npy file")
    c.add_argument("--dims", type=parse_dims, metavar="NAME=SIZE,...",
                   help="sizes used by numeric checks for these dimensions (e.g. seq=16,vocab=50)")
    c.add_argument("--html", metavar="FILE", help="also write an HTML report: every statement, each step drawn")
    c.add_argument("--path", choices=("auto", "exact", "float"), default="auto",
                   help="how numeric checks decide: exactly over prime fields where the statement is polynomial "
                        "(auto, the default), always exactly (exact), or in floating point (float)")
    c.set_defaults(func=cmd_check)
    s = sub.add_parser("simplify", help="simplify the lets (or named ones) of a file, or an expression")
    s.add_argument("file", nargs="?", help=".diag file")
    s.add_argument("names", nargs="*", help="lets to simplify (default: every let and show)")
    s.add_argument("-e", "--expr", help="simplify this expression instead")
    s.add_argument("--decl", help="file whose declarations -e uses")
    s.add_argument("--rules", help="comma-separated rules (default: the default rules)")
    s.add_argument("--unfold", action="store_true", help="unfold let definitions first")
    s.add_argument("--trace", action="store_true", help="print the derivation step by step")
    s.add_argument("--seed", type=int, default=0, help="seed of the rewrite checks")
    s.add_argument("--unchecked", action="store_true", help="do not verify each rewrite numerically")
    s.set_defaults(func=cmd_simplify)
    from .render.commands import add_draw_parser

    add_draw_parser(sub)
    k = sub.add_parser("scores", help="Q/K/V composition scores between the attention heads of a weights file")
    k.add_argument("weights", help=".npz with WQ1, WK1, WV1, WO1, WQ2, ... ([heads, d_model, d_head]; WO [h, dh, d])")
    k.add_argument("--seed", type=int, default=0, help="seed of the random-weight baseline")
    k.add_argument("--samples", type=int, default=16, help="random layers drawn for the baseline")
    k.set_defaults(func=cmd_scores)
    from .tools_cli import add_tool_commands

    add_tool_commands(sub, parse_dims)  # export, repl
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in a thread with a large stack, so deeply nested input is checked
    rather than crashing the interpreter (Python recursion uses the C stack)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["repl"]:
        return _main(args)  # interactive: in the main thread, so Ctrl-C interrupts one statement
    result: list[int] = []
    old_limit = sys.getrecursionlimit()
    threading.stack_size(512 * 1024 * 1024)
    sys.setrecursionlimit(max(old_limit, 60_000))
    try:
        t = threading.Thread(target=lambda: result.append(_main(argv)), daemon=True)
        t.start()
        t.join()
    finally:
        threading.stack_size(0)
        sys.setrecursionlimit(old_limit)
    return result[0] if result else 3


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return ns.func(ns)
    except DiagalgError as e:
        print(f"diagalg: error: {e}", file=sys.stderr)
        return 2
    except SourceError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`diagalg check ... | head`): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print("diagalg: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in diagalg: say so, without a traceback unless asked
        if getattr(ns, "debug", False):
            traceback.print_exc()
        print(f"diagalg: internal error: {type(e).__name__}: {e} (rerun with --debug for details)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
