"""The `diagalg` command line: one module per group of subcommands (:mod:`.check`,
:mod:`.draw`, :mod:`.tools`), and here the parser, the shared argument types and the
top level that turns every error into a message and an exit status. No input
produces a Python traceback (``--debug`` shows one for an internal error).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import traceback
from typing import Sequence

from .. import __version__
from ..collector import collected_in_batches
from ..errors import DiagalgError, SourceError
from .args import files_of, parse_dims, parse_size

__all__ = ["build_parser", "files_of", "main", "parse_dims", "parse_size"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from .check import add_check_parser
    from .draw import add_draw_parser
    from .probe import add_probe_parser
    from .tools import add_tool_commands

    p = argparse.ArgumentParser(prog="diagalg", description="Symbolic tensor-diagram algebra.")
    p.add_argument("--version", action="version", version=f"diagalg {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    sub = p.add_subparsers(dest="command", required=True)
    add_check_parser(sub)
    add_draw_parser(sub)
    add_tool_commands(sub)  # simplify, scores, export, repl
    add_probe_parser(sub)
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
        with collected_in_batches():  # a command is bulk work from start to end
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
        print(f"diagalg: internal error: {type(e).__name__}: {e} (rerun with --debug for details)", file=sys.stderr)
        return 3
