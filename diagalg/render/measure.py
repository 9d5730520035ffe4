"""How readable a picture is, measured the way a reader would judge it: its aspect
ratio, labels that overlap (each other, or a shape they do not belong to) and wires
that pass through a shape they do not attach to.

These are the numbers the layout promises for large drawings (docs/drawing.md): the
tests use them, and ``diagalg draw FILE NAME --measure`` prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .shapes import SMALL_CHAR_W, Picture, Shape, Text, obstacle
from .wires import Box, segment_hits, segment_hits_box

#: (font size, width of one character) of each text role, as the SVG writer draws it
FONTS = {"free": (13.0, 7.4), "leg": (10.0, SMALL_CHAR_W), "coeff": (15.0, 8.6)}
LEAVES_WITH_NAMES = ("tensor", "vector", "triangle", "square")


def text_box(t: Text) -> Box:
    """The box a text covers: from its baseline up by three quarters of its font size and
    down by a fifth, as wide as its characters, placed by its anchor."""
    size, char = FONTS.get(t.role, (12.0, 7.0))
    w = len(t.text) * char
    x0 = {"start": t.x, "middle": t.x - w / 2, "end": t.x - w}[t.anchor]
    return (x0, t.y - 0.75 * size, x0 + w, t.y + 0.2 * size)


def title_box(s: Shape) -> Box | None:
    """The box of a bubble's title (its function name above its contents), if it has one."""
    if s.kind != "bubble" or not (s.name or s.sub):
        return None
    w = len(s.name) * 7.0 + len(s.sub) * SMALL_CHAR_W
    cx = s.x + s.title_x
    cy = s.y + (s.title_y if s.title_y is not None else -s.h * 0.3)
    return (cx - w / 2, cy - 9.0, cx + w / 2, cy + 5.0)


def _meet(a: Box, b: Box, slack: float = 0.5) -> bool:
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


def label_overlaps(pic: Picture) -> list[tuple[str, str]]:
    """Every pair of labels (free-leg, contracted-leg, coefficient and bubble-title texts)
    whose boxes overlap, every label lying over a tensor-like shape (the shape's own name
    is inside it and not counted) and every label a wire is drawn through. Each entry
    names the two things that overlap."""
    labels: list[tuple[str, Box]] = [(t.text, text_box(t)) for t in pic.texts]
    for s in pic.shapes:
        title = title_box(s)
        if title is not None:
            labels.append((f"title {s.name}", title))
    out: list[tuple[str, str]] = []
    for i, (a, ba) in enumerate(labels):
        for b, bb in labels[i + 1 :]:
            if _meet(ba, bb):
                out.append((a, b))
    for s in pic.shapes:
        if s.kind in LEAVES_WITH_NAMES:
            for a, ba in labels:
                if _meet(ba, s.box, 1.0):
                    out.append((a, f"shape {s.name}"))
    for a, (x0, y0, x1, y1) in labels:  # a wire drawn through a label (1 px of slack each side)
        inner = (x0 + 1.0, y0 + 1.0, x1 - 1.0, y1 - 1.0)
        if inner[0] < inner[2] and any(
            segment_hits_box(p, q, inner, pad=0.0) for line in pic.lines for p, q in zip(line.points, line.points[1:])
        ):
            out.append((a, "a wire"))
    return out


def _inside(p: tuple[float, float], box: Box, pad: float = 1.0) -> bool:
    return box[0] - pad <= p[0] <= box[2] + pad and box[1] - pad <= p[1] <= box[3] + pad


def wires_through(pic: Picture) -> list[tuple[int, str]]:
    """Every (wire index, shape name) where a wire passes through a shape it does not
    attach to. A wire attaches to a shape where one of its ends lies on or in the shape
    (a bubble's or box's wall included), so a wire inside a bubble is not through it; a
    wire crossing a container with neither end inside is."""
    out = []
    outlines = [obstacle(s) for s in pic.shapes]
    for k, line in enumerate(pic.lines):
        ends = (line.points[0], line.points[-1])
        for s, poly in zip(pic.shapes, outlines):
            if s.kind == "selfloop":
                continue
            if any(_inside(p, s.box) for p in ends):
                continue
            if any(segment_hits(a, b, poly, pad=-1.0) for a, b in zip(line.points, line.points[1:])):
                out.append((k, s.name or s.kind))
    return out


@dataclass(frozen=True)
class Readability:
    """The measured figures of one picture."""

    width: float
    height: float
    label_overlaps: int
    wires_through: int

    @property
    def aspect(self) -> float:
        """The longer side over the shorter (1 for a square, never below 1)."""
        lo = min(self.width, self.height)
        return max(self.width, self.height) / lo if lo > 0 else math.inf


def readability(pic: Picture) -> Readability:
    """Aspect, label overlaps and wires through shapes of ``pic``."""
    return Readability(pic.width, pic.height, len(label_overlaps(pic)), len(wires_through(pic)))
