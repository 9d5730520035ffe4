"""The `diagalg export` and `diagalg repl` subcommands (registered by :mod:`diagalg.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import DiagalgError


def cmd_export(ns: argparse.Namespace) -> int:
    """Print (or write with -o) a Python function computing a let or tensor of FILE."""
    from .export import export_program
    from .lower import load_program

    program = load_program(ns.file)
    sizes = dict(ns.sizes or {})
    unknown = sorted(set(sizes) - set(program.env.symbols))
    if unknown:
        raise DiagalgError(f"--sizes: {', '.join(unknown)} is not a dimension of {ns.file}")
    try:
        exported = export_program(program, ns.name, ns.to, sizes, check=not ns.unchecked)
    except KeyError:
        lets = ", ".join(program.lets) or "none"
        raise DiagalgError(f"{ns.file}: no let or tensor named {ns.name} (lets: {lets})") from None
    if ns.output:
        try:
            Path(ns.output).write_text(exported.code, encoding="utf-8")
        except OSError as e:
            raise DiagalgError(f"{ns.output}: cannot write: {e.strerror}") from None
    else:
        sys.stdout.write(exported.code)
    if exported.check.startswith("CHECK FAILED"):
        print(f"diagalg: internal error: the exported code {exported.check[len('CHECK FAILED '):]}", file=sys.stderr)
        return 3
    return 0


def cmd_repl(ns: argparse.Namespace) -> int:
    """The interactive session (see :mod:`diagalg.repl`)."""
    from .repl import run_repl

    return run_repl(ns.file, seed=ns.seed)


def add_tool_commands(sub, parse_dims) -> None:
    """Register `export` and `repl` on the CLI's subparsers."""
    x = sub.add_parser("export", help="print a Python function computing a let (numpy, torch or einsum)")
    x.add_argument("file", help=".diag file")
    x.add_argument("name", help="the let (or tensor) to export")
    x.add_argument("--to", choices=("numpy", "torch", "einsum"), default="numpy",
                   help="numpy (default): opt_einsum on numpy arrays; torch: on torch tensors; "
                        "einsum: the equations, operands and paths as data")
    x.add_argument("--sizes", type=parse_dims, metavar="NAME=SIZE,...",
                   help="sizes the contraction paths are optimised for (default: concrete "
                        "dimensions as declared, symbolic ones 64)")
    x.add_argument("--unchecked", action="store_true",
                   help="do not run the code once on random tensors against diagalg's evaluation")
    x.add_argument("-o", "--output", metavar="FILE", help="write the code to FILE instead of printing it")
    x.set_defaults(func=cmd_export)
    r = sub.add_parser("repl", help="interactive session: type statements, see results")
    r.add_argument("file", nargs="?", help=".diag file to load first")
    r.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    r.set_defaults(func=cmd_repl)
