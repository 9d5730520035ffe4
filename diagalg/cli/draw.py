"""The `diagalg draw` subcommand: a let, a tensor or an expression as SVG, TikZ, PNG or HTML."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import DiagalgError

if TYPE_CHECKING:
    from ..model import Expr
    from ..program import Program


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
    if ns.line is not None:
        if ns.expr is not None or ns.name is not None or ns.values:
            raise DiagalgError("draw: --line draws a statement; give no NAME, -e or --values with it")
        return _draw_statement(ns, program)
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
            raise DiagalgError(
                f"{ns.file}: no let or tensor named {ns.name!r} "
                f"(lets: {', '.join(program.lets) or 'none'}; "
                f"tensors: {', '.join(tensors) or 'none'})"
            )
        expr = parse_expression(program, ns.name) if ns.folded and ns.name in program.lets else program[ns.name]
    if ns.unfold:
        expr = unfold(expr)
    elif not ns.folded:
        expr = let_opened(expr)
    if ns.values:
        return _draw_with_values(ns, expr, program)
    if ns.measure:
        return _measure(expr)
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


def _measure(expr: Expr) -> int:
    """``--measure``: how readable the drawing is, by the figures docs/drawing.md promises
    for large drawings (size and aspect ratio, labels that overlap, wires through shapes
    they do not attach to) and the work it took (shapes and wires laid out)."""
    from ..render.measure import readability
    from ..render.scene import picture

    pic = picture(expr)
    r = readability(pic)
    print(
        f"{r.width:.0f} x {r.height:.0f} px (aspect {r.aspect:.2f}), {r.label_overlaps} label overlaps, "
        f"{r.wires_through} wires through shapes, {len(pic.shapes)} shapes, {len(pic.lines)} wires"
    )
    return 0


def _draw_with_values(ns: argparse.Namespace, expr: Expr, program: Program) -> int:
    """``--values``: the drawing with the arrays behind it below (heatmaps, bars), from the
    bound weights or one sampled instance (``--seed``), and a line saying which."""
    from ..values_figure import values_document, write_values

    if ns.output is None and ns.format == "tikz":
        raise DiagalgError("draw: --values draws SVG panels; it has no TikZ form")
    labels = name = None
    if ns.name is not None and ns.name in program.lets:
        labels = program.lets[ns.name].labels
        name = ns.name
    if ns.output is None:
        text, _ = values_document(expr, program, ns.seed, folded=True, name=name, labels=labels)
        sys.stdout.write(text)
        return 0
    write_values(expr, program, ns.output, ns.seed, folded=True, name=name, labels=labels)
    print(f"wrote {ns.output}")
    return 0


def _draw_statement(ns: argparse.Namespace, program: Program) -> int:
    """``--line N``: what the statement starting on line N shows in the report, as one file:
    for ``expand`` and ``paths`` the expression and every listed term drawn under its line
    (label, order, value or bound, as ``check`` prints it), for the others their sides or
    steps. ``.html`` is the report's section of that statement; ``.svg`` (or stdout) stacks
    the drawings top to bottom under their captions."""
    from pathlib import Path

    from ..checker import Checker, Options
    from ..report import report, statement_drawings

    stmt = next((s for s in program.statements if s.source.line == ns.line), None)
    if stmt is None:
        lines = ", ".join(str(s.source.line) for s in program.statements) or "none"
        raise DiagalgError(f"{ns.file}: no statement starts on line {ns.line} (statements start on lines: {lines})")
    checker = Checker(program, Options(seed=ns.seed))
    results = checker.run_statement(stmt)
    out = Path(ns.output) if ns.output is not None else None
    if out is not None and out.suffix.lower() == ".html":
        out.write_text(report([(checker, [(stmt, results)])], ns.seed, f"{ns.file}:{ns.line}"), encoding="utf-8")
    else:
        if out is not None and out.suffix.lower() != ".svg":
            raise DiagalgError(f"{out}: --line writes .svg or .html")
        from ..render.stack import stacked_svg

        items, note = statement_drawings(checker, stmt, results)
        text = stacked_svg(items, f"{ns.file}:{ns.line}: {stmt.source.text}", note)
        if out is None:
            sys.stdout.write(text)
            return 0
        out.write_text(text, encoding="utf-8")
    for r in results:  # what `check` prints for the statement, then the file
        print(r.line())
        for line in r.output:
            print(f"    {line}")
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
    d.add_argument(
        "--folded",
        action="store_true",
        help="draw a let as one box (by default a let is drawn as its definition, one level deep)",
    )
    d.add_argument(
        "--values",
        action="store_true",
        help="show the arrays behind the drawing below it: heatmaps of matrices, bars of vectors "
        "(bound weights, or one sampled instance)",
    )
    d.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the sampled instance --values shows, and of --line's check (default 0)",
    )
    d.add_argument(
        "--line",
        type=int,
        metavar="N",
        help="draw what the statement starting on line N shows: an expansion's terms, one under "
        "another with their labels and values, a statement's sides or steps (.svg or .html)",
    )
    d.add_argument(
        "--measure",
        action="store_true",
        help="print how readable the drawing is instead of drawing it: size and aspect ratio, "
        "overlapping labels, wires through shapes",
    )
    d.set_defaults(func=cmd_draw)
