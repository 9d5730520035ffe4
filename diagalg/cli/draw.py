"""The `diagalg draw` subcommand: a let, a tensor or an expression as SVG, TikZ, PNG or HTML."""

from __future__ import annotations

import argparse
import sys

from ..errors import DiagalgError


def cmd_draw(ns: argparse.Namespace) -> int:
    """``diagalg draw FILE NAME [-o OUT]``: draw a let (or a tensor) of FILE, or ``-e EXPR``
    in FILE's declarations. Without ``-o`` the SVG (or ``--format tikz``) goes to stdout.

    A let is drawn as a ``draw`` statement draws it: its definition one level deep (the
    lets inside it folded); ``--folded`` draws the one box, ``--unfold`` every level."""
    from ..engine import unfold
    from ..lower import load_program, parse_expression
    from ..render import EXTENSIONS, let_opened, render, write

    if ns.folded and ns.unfold:
        raise DiagalgError("draw: --folded and --unfold exclude each other")
    program = load_program(ns.file)
    if ns.expr is not None:
        if ns.name is not None:
            raise DiagalgError("draw: give a NAME or -e EXPR, not both")
        expr = parse_expression(program, ns.expr)
    else:
        if ns.name is None:
            names = list(program.lets) + [t for t in program.tensors if t not in program.lets]
            raise DiagalgError(f"draw: which one? give a NAME ({', '.join(names) or 'none declared'}) or -e EXPR")
        if ns.name not in program.lets and ns.name not in program.tensors:
            tensors = [t for t in program.tensors if t not in program.lets]
            raise DiagalgError(f"{ns.file}: no let or tensor named {ns.name!r} "
                               f"(lets: {', '.join(program.lets) or 'none'}; "
                               f"tensors: {', '.join(tensors) or 'none'})")
        expr = parse_expression(program, ns.name) if ns.folded and ns.name in program.lets else program[ns.name]
    if ns.unfold:
        expr = unfold(expr)
    elif not ns.folded:
        expr = let_opened(expr)
    if ns.output is None:
        sys.stdout.write(render(expr, program, ns.format or "svg"))
        return 0
    from pathlib import Path

    out = Path(ns.output)
    if out.suffix.lower() not in EXTENSIONS:
        raise DiagalgError(f"{out}: unknown drawing format '{out.suffix}' (use {', '.join(sorted(EXTENSIONS))})")
    write(expr, program, out, folded=True)  # already opened above, unless --folded
    print(f"wrote {out}")
    return 0


def add_draw_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``draw`` subcommand on the CLI's subparsers."""
    d = sub.add_parser("draw", help="draw a let, a tensor or an expression (svg, tikz, png, html)")
    d.add_argument("file", help=".diag file")
    d.add_argument("name", nargs="?", help="the let or tensor to draw")
    d.add_argument("-e", "--expr", help="draw this expression (in FILE's declarations) instead")
    d.add_argument("-o", "--output", help="output file: .svg, .tex/.tikz, .png or .html (default: SVG on stdout)")
    d.add_argument("--format", choices=("svg", "tikz"), help="format on stdout (default svg)")
    d.add_argument("--unfold", action="store_true", help="unfold let definitions first (every level)")
    d.add_argument("--folded", action="store_true",
                   help="draw a let as one box (by default a let is drawn as its definition, one level deep)")
    d.set_defaults(func=cmd_draw)
