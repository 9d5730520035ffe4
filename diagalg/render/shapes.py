"""What a picture is made of: shapes, lines and texts in one coordinate system (pixels,
y pointing down), the geometry of their outlines, and the overlap test the drawing
tests use. :mod:`.scene` lays expressions out as these; the SVG and TikZ writers
translate them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import sympy

from .ports import IDENTITY, Orient, flag_polygon

CHAR_W = 7.4  # estimated width of one character of the 13px font
SMALL_CHAR_W = 5.8  # of the 10px font
CONTAINERS = ("bubble", "box")


@dataclass
class Shape:
    """One drawn node. ``kind``: tensor (rectangle), vector (circle), triangle, square, dot,
    bubble (ellipse around nested contents), box (dashed rectangle around a sum), loop (a
    closed index loop), selfloop. ``apex``: where a triangle's tip points (left, right, up,
    down). ``parent``: index of the enclosing bubble or box in :attr:`Picture.shapes`.
    ``orient``: the symmetry the shape was turned by (see :mod:`.ports`); ``flag``: it
    carries the leg-order flag, drawn where :meth:`flag_points` says."""

    kind: str
    x: float
    y: float
    w: float
    h: float
    name: str = ""
    sup: str = ""
    sub: str = ""
    apex: str = ""
    parent: int | None = None
    depth: int = 0
    title_y: float | None = None  # a bubble's title baseline, relative to its centre
    title_x: float = 0.0  # and the title's centre, relative to the shape's centre
    orient: Orient = IDENTITY
    flag: bool = False

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)

    def flag_points(self) -> list[tuple[float, float]]:
        """The corners of the leg-order flag (empty when the shape has none)."""
        return flag_polygon(self.kind, self.x, self.y, self.w, self.h, self.orient) if self.flag else []


@dataclass
class Line:
    """A leg: a polyline from ``points[0]`` to ``points[-1]``. ``dim``: its dimension (a
    sympy expression; None where not known), ``size``: that dimension as a number when it
    is one, which sets the stroke width (:mod:`.thickness`)."""

    points: list[tuple[float, float]]
    label: str = ""
    dim: sympy.Expr | None = None
    size: int | None = None


@dataclass
class Text:
    """``role``: free (a free leg's label), leg (a contracted leg's label), coeff, op."""

    x: float
    y: float
    text: str
    anchor: str = "middle"  # start, middle, end
    role: str = "free"


@dataclass
class Picture:
    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)

    def shifted(self, dx: float, dy: float, parent_offset: int = 0, parent: int | None = None) -> "Picture":
        """A copy moved by (dx, dy); shape parents are renumbered by ``parent_offset`` and
        top-level shapes get ``parent``."""
        shapes = [
            replace(s, x=s.x + dx, y=s.y + dy, parent=parent if s.parent is None else s.parent + parent_offset)
            for s in self.shapes
        ]
        lines = [replace(l, points=[(x + dx, y + dy) for x, y in l.points]) for l in self.lines]
        texts = [Text(t.x + dx, t.y + dy, t.text, t.anchor, t.role) for t in self.texts]
        return Picture(self.width, self.height, shapes, lines, texts)

    def add(self, other: "Picture", dx: float, dy: float, parent: int | None = None) -> None:
        moved = other.shifted(dx, dy, len(self.shapes), parent)
        self.shapes.extend(moved.shapes)
        self.lines.extend(moved.lines)
        self.texts.extend(moved.texts)


#: a free leg's end on a frame: (x, y, side) with side in left/right/top/bottom
Port = tuple[float, float, str]


@dataclass
class Framed:
    """A picture of an expression whose free legs end on the frame ``rect``."""

    pic: Picture
    rect: tuple[float, float, float, float]
    ports: dict[str, list[Port]]
    single: bool  # one term: its legs can be continued by lines outside
    stacked: bool = False  # a sum drawn as terms one below the other (never mirrored)


def text_width(text: str, small: bool = False) -> float:
    return len(text) * (SMALL_CHAR_W if small else CHAR_W)


def base_name(edge: str) -> str:
    return edge.split("~")[0]


# --------------------------------------------------------------------------- geometry


def ray_exit(shape: Shape, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from the shape's centre in direction (dx, dy) leaves its outline."""
    norm = math.hypot(dx, dy) or 1.0
    dx, dy = dx / norm, dy / norm
    if shape.kind in ("vector", "dot", "bubble", "loop"):
        rx, ry = shape.w / 2, shape.h / 2
        t = 1.0 / math.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
        return shape.x + t * dx, shape.y + t * dy
    poly = outline(shape)
    best = None
    for (ax, ay), (bx, by) in zip(poly, poly[1:] + poly[:1]):
        ex, ey = bx - ax, by - ay
        den = dx * ey - dy * ex
        if abs(den) < 1e-12:
            continue
        t = ((ax - shape.x) * ey - (ay - shape.y) * ex) / den
        u = ((ax - shape.x) * dy - (ay - shape.y) * dx) / den
        if t >= 0 and -1e-9 <= u <= 1 + 1e-9 and (best is None or t < best):
            best = t
    t = best if best is not None else max(shape.w, shape.h) / 2
    return shape.x + t * dx, shape.y + t * dy


def outline(shape: Shape) -> list[tuple[float, float]]:
    """The polygon of a rectangle-like shape or a triangle (tip towards ``apex``)."""
    x0, y0, x1, y1 = shape.box
    if shape.kind == "triangle":
        cx, cy = shape.x, shape.y
        return {
            "right": [(x0, y0), (x1, cy), (x0, y1)],
            "left": [(x1, y0), (x1, y1), (x0, cy)],
            "down": [(x0, y0), (x1, y0), (cx, y1)],
            "up": [(cx, y0), (x1, y1), (x0, y1)],
        }[shape.apex or "right"]
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def obstacle(shape: Shape) -> list[tuple[float, float]]:
    """The shape's outline as a convex polygon, for telling whether a wire passes through
    it: the outline itself, or an octagon inside a round shape."""
    if shape.kind in ("vector", "dot", "bubble", "loop", "selfloop"):
        rx, ry = shape.w / 2, shape.h / 2
        return [
            (shape.x + rx * math.cos(a), shape.y + ry * math.sin(a))
            for a in (k * math.pi / 4 + math.pi / 8 for k in range(8))
        ]
    return outline(shape)


def to_ellipse(shape: Shape, px: float, py: float, side: str) -> tuple[float, float]:
    """From a point inside an ellipse shape, go straight out through ``side`` to its outline."""
    rx, ry = shape.w / 2, shape.h / 2
    dx, dy = px - shape.x, py - shape.y
    if side in ("left", "right"):
        dy = max(-ry * 0.98, min(ry * 0.98, dy))
        x = rx * math.sqrt(max(0.0, 1 - (dy / ry) ** 2))
        return shape.x + (x if side == "right" else -x), shape.y + dy
    dx = max(-rx * 0.98, min(rx * 0.98, dx))
    y = ry * math.sqrt(max(0.0, 1 - (dx / rx) ** 2))
    return shape.x + dx, shape.y + (y if side == "bottom" else -y)


def to_rect(shape: Shape, px: float, py: float, side: str) -> tuple[float, float]:
    x0, y0, x1, y1 = shape.box
    return {"left": (x0, py), "right": (x1, py), "top": (px, y0), "bottom": (px, y1)}[side]


def overlaps(pic: Picture, gap: float = 0.0) -> list[tuple[int, int]]:
    """Pairs of sibling shapes (same container) whose boxes overlap, and shapes that stick
    out of their container's box. Used by the tests: a readable layout has none."""
    bad = []
    real = [i for i, s in enumerate(pic.shapes) if s.kind != "selfloop"]
    for a_pos, i in enumerate(real):
        si = pic.shapes[i]
        for j in real[a_pos + 1 :]:
            sj = pic.shapes[j]
            if si.parent != sj.parent:
                continue
            ax0, ay0, ax1, ay1 = si.box
            bx0, by0, bx1, by1 = sj.box
            if ax0 < bx1 + gap and bx0 < ax1 + gap and ay0 < by1 + gap and by0 < ay1 + gap:
                bad.append((i, j))
        if si.parent is not None:
            px0, py0, px1, py1 = pic.shapes[si.parent].box
            x0, y0, x1, y1 = si.box
            if x0 < px0 or y0 < py0 or x1 > px1 or y1 > py1:
                bad.append((si.parent, i))
    return bad
