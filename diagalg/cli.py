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
    if errors:
        for e in errors:
            if ns.json:
                print(json.dumps({"file": e.path, "line": e.line, "col": e.col, "status": "error",
                                  "message": e.message}))
            else:
                print(e.render(), file=sys.stderr)
        return 2
    results = []
    for program in programs:
        for r in Checker(program, Options(seed=ns.seed, memory_cap=ns.memory)).run():
            results.append(r)
            if ns.json:
                print(json.dumps(r.as_json()))
            else:
                print(r.line())
                for line in r.output:
                    print("    " + line)
            sys.stdout.flush()
    if not ns.json:
        counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "FAIL", "INCONCLUSIVE", "ERROR")}
        summary = f"{counts['ok']} ok, {counts['FAIL']} failed"
        if counts["INCONCLUSIVE"]:
            summary += f", {counts['INCONCLUSIVE']} inconclusive"
        if counts["ERROR"]:
            summary += f", {counts['ERROR']} internal errors"
        print(f"checked {len(programs)} file{'s' if len(programs) != 1 else ''} (seed {ns.seed}): {summary}")
    return exit_status(results)


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
    c.set_defaults(func=cmd_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in a thread with a large stack, so deeply nested input is checked
    rather than crashing the interpreter (Python recursion uses the C stack)."""
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
