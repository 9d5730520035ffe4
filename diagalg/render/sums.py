"""A sum drawn as its terms with their signs and coefficients: a row, as the paper
writes a short sum, or, when a row would be a long strip, the terms stacked one
below the other (each with its sign on its left), so that a large drawing stays
about as high as it is wide.

Only the arrangement lives here; the terms come already drawn (:mod:`.scene`).
"""

from __future__ import annotations

import sympy

from ..printing import scalar_text
from .shapes import Framed, Picture, Port, Text, text_width

#: a row of terms wider than this (pixels) is stacked when stacking makes it squarer
MAX_ROW = 900.0
ROW_GAP = 18.0  # between stacked terms (room for the labels of legs that end between them)


def coeff_text(c: sympy.Expr, first: bool) -> str:
    """The sign and coefficient written before a term (``""`` for a leading 1, ``+ 2``,
    ``− (a + b)``)."""
    c = sympy.sympify(c)
    neg = c.could_extract_minus_sign()
    mag = -c if neg else c
    text = "" if mag == 1 else scalar_text(mag)
    if text and isinstance(mag, sympy.Add):
        text = f"({text})"
    sign = ("−" if neg else "") if first else ("− " if neg else "+ ")
    return (sign + text).strip()


def _bare(f: Framed) -> bool:
    return not f.pic.shapes and not f.pic.lines and not f.ports


def _row_size(parts: list[tuple[str, Framed]]) -> tuple[float, float]:
    x = 0.0
    for text, f in parts:
        if text:
            x += text_width(text) + 12
        x += -4 if _bare(f) else f.pic.width + 8
    return max(x, 30.0), max(f.pic.height for _, f in parts)


def _aspect(w: float, h: float) -> float:
    return max(w, h) / max(1.0, min(w, h))


def stack_wanted(parts: list[tuple[str, Framed]]) -> bool:
    """Whether the terms should be stacked: the row would be wider than :data:`MAX_ROW`
    and the stack is squarer than the row."""
    if len(parts) < 2:
        return False
    w, h = _row_size(parts)
    if w <= MAX_ROW:
        return False
    cw = max(text_width(t) + 12 for t, _ in parts) + max(f.pic.width for _, f in parts)
    ch = sum(max(f.pic.height, 24.0) for _, f in parts) + ROW_GAP * (len(parts) - 1)
    return _aspect(cw, ch) < _aspect(w, h)


def arrange(parts: list[tuple[str, Framed]]) -> Framed:
    """The drawn terms (each with the sign and coefficient before it) as one framed
    picture: a row, or a stack when :func:`stack_wanted`. The free legs of every term
    end where they ended on that term's frame."""
    if stack_wanted(parts):
        return _stack(parts)
    height = max(f.pic.height for _, f in parts)
    pic = Picture(0.0, height)
    ports: dict[str, list[Port]] = {}
    x = 0.0
    for text, f in parts:
        dy = (height - f.pic.height) / 2
        if text:
            w = text_width(text) + 8
            baseline = height / 2 + 5
            if len(parts) == 1:  # the legs of a lone term continue outside, past its coefficient
                ys = [py + dy for ends in f.ports.values() for _, py, side in ends if side == "left"]
                if any(baseline - 12 <= y <= baseline + 4 for y in ys):
                    baseline = max(12.0, min(ys) - 5)  # just above the highest such leg
            pic.texts.append(Text(x + w / 2, baseline, text, "middle", "coeff"))
            x += w + 4
        if _bare(f):  # a bare scalar
            x -= 4
            continue
        pic.add(f.pic, x, dy)
        for label, ends in f.ports.items():
            ports.setdefault(label, []).extend((px + x, py + dy, s) for px, py, s in ends)
        x += f.pic.width + 8
    pic.width = max(x, 30.0)
    return Framed(pic, (0.0, 0.0, pic.width, height), ports, len(parts) == 1)


def _stack(parts: list[tuple[str, Framed]]) -> Framed:
    """The terms one below the other, their signs in a column on the left, each term
    starting at the same x (so the eye reads down the sum as it reads along a row)."""
    lead = max(text_width(t) + 12 for t, _ in parts)
    pic = Picture(0.0, 0.0)
    ports: dict[str, list[Port]] = {}
    y, width = 0.0, 0.0
    for text, f in parts:
        h = max(f.pic.height, 24.0)
        if text:
            pic.texts.append(Text(lead - 6, y + h / 2 + 5, text, "end", "coeff"))
        if not _bare(f):
            dy = y + (h - f.pic.height) / 2
            pic.add(f.pic, lead, dy)
            for label, ends in f.ports.items():
                ports.setdefault(label, []).extend((px + lead, py + dy, s) for px, py, s in ends)
            width = max(width, lead + f.pic.width)
        else:
            width = max(width, lead + 10)
        y += h + ROW_GAP
    pic.width, pic.height = max(width, 30.0), y - ROW_GAP
    return Framed(pic, (0.0, 0.0, pic.width, pic.height), ports, False, stacked=True)
