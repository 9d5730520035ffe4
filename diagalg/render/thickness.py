"""Thick lines for large dimensions (the paper's convention): a wire's stroke width says
how large its dimension is.

The rule, the same in SVG and TikZ (docs/drawing.md shows it):

- a wire whose size is known and at most :data:`SMALL` (16) is drawn :data:`BASE`
  (1.4 px) wide;
- above that, every doubling of the size adds :data:`PER_DOUBLING` (0.45 px), up to
  :data:`CAP` (5 px, reached at about 3,500): 64 is 2.3 px, 768 is 3.9 px, 3072 is 4.8 px;
- a wire whose size is **not known** (a symbolic dimension with no declared value, such
  as ``dim n``) is drawn at the base width, like a small one. Thickness is only ever
  claimed from a number: a symbolic ``n`` is never guessed large or small from its name
  or its constraints, because a guess could make a wire look larger than another that
  is in fact larger.

The size of a symbolic dimension comes from the program's declarations
(``dim d = 768``) where a drawing is made with the program (:func:`with_sizes`,
which :func:`diagalg.render.render` applies); an expression alone only knows the sizes
written as numbers (``tensor T[i: 4]``). The width is monotone in the size, so of two
wires with known sizes the thicker one is never the smaller. Each wire also says what
it is in the SVG: ``data-dim`` (the dimension as written) and ``data-size`` (the number
the width was computed from, empty when unknown), so a reader can check.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping

import sympy

from ..printing import scalar_text
from .shapes import Line, Picture

BASE = 1.4  # px: the width of a wire of size at most SMALL, or of unknown size
SMALL = 16
PER_DOUBLING = 0.45  # px added per doubling of the size above SMALL
CAP = 5.0  # px: no wire is wider


def stroke_width(size: int | None) -> float:
    """The stroke width (px) of a wire of dimension ``size`` (None: not known), rounded
    to 0.1 px so that equal sizes draw exactly alike."""
    if size is None or size <= SMALL:
        return BASE
    return round(min(CAP, BASE + PER_DOUBLING * math.log2(size / SMALL)), 1)


def known_size(dim: sympy.Expr | None, subs: Mapping[sympy.Symbol, sympy.Expr] | None = None) -> int | None:
    """The dimension as a positive integer when it is one (after ``subs``, the program's
    declared sizes), else None."""
    if dim is None:
        return None
    value = sympy.sympify(dim)
    if subs and value.free_symbols:
        value = value.subs(subs)
    if value.is_Integer and int(value) > 0:
        return int(value)
    return None


def leg(points: list[tuple[float, float]], label: str, dim: sympy.Expr | None) -> Line:
    """A wire of dimension ``dim``, its size filled in when the dimension is a number."""
    return Line(points, label, dim, known_size(dim))


def with_sizes(pic: Picture, subs: Mapping[sympy.Symbol, sympy.Expr]) -> Picture:
    """The picture with the sizes of its symbolic wires resolved by ``subs`` (the
    program's ``dim d = 768`` declarations: ``DimEnv.concrete_subs()``); shapes and
    texts are shared, only the lines are new."""
    if not subs:
        return pic
    lines = [
        replace(line, size=known_size(line.dim, subs)) if line.size is None and line.dim is not None else line
        for line in pic.lines
    ]
    return Picture(pic.width, pic.height, pic.shapes, lines, pic.texts)


def program_sizes(program: object) -> dict[sympy.Symbol, sympy.Expr]:
    """The declared sizes of a program (its ``env.concrete_subs()``), empty for None or
    for anything without declared dimensions."""
    env = getattr(program, "env", None)
    subs = getattr(env, "concrete_subs", None)
    return dict(subs()) if callable(subs) else {}


def dim_text(line: Line) -> str:
    """What ``data-dim`` says: the wire's dimension as written, empty when not known."""
    return scalar_text(line.dim) if line.dim is not None else ""
