"""Where a tensor's legs leave its shape: the leg-order convention of the drawings.

In graphical notation the position of a leg on its shape carries the meaning, so
every shape with two or more legs has one *port* per leg at a place fixed by the
declared leg order (docs/drawing.md shows the convention):

* In the shape's own (canonical) frame the ports go counter-clockwise around it,
  starting at the top of its left side: two legs leave left and right, three
  left, bottom and right, four one per side; more are shared out over the sides
  in that order, the earlier sides taking the extra ones.
* An isometry's triangle groups its legs by role: its outputs (big legs) on the
  base, its inputs (small legs) at the tip, each group in declared order.
* The layout may turn the whole shape (any of the eight symmetries of the
  square) to keep wires short, never move a port on it. A *flag*, a small dark
  wedge on the edge, records the turn: it sits on the first leg's side, at the
  end where counting starts, and points along the edge towards the first leg.
  Counting goes round the shape in the direction the flag points, so a shape
  turned over (a transpose) reads correctly and visibly differently.

Shapes whose legs are all interchangeable (declared symmetric) carry no flag:
their transposes are equal and may look alike. So do shapes whose legs the
shape itself tells apart (a triangle with one leg at its base and one at its tip).

An orientation is a 2×2 integer matrix ``(a, b, c, d)`` acting on canonical
coordinates ``(u, v)`` in ``[-1, 1]²`` (u to the right, v down, like the page):
``(u, v) -> (a·u + b·v, c·u + d·v)``. The shape's box stays upright (its name
stays readable); the symmetry moves ports, flag and a triangle's tip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Orient = tuple[int, int, int, int]

IDENTITY: Orient = (1, 0, 0, 1)
#: the eight symmetries of the square, in order of preference when they cost the same: the
#: shape as declared, turned over left-right (the paper's transpose), turned half round, ...
ORIENTS: tuple[Orient, ...] = (
    IDENTITY,
    (-1, 0, 0, 1),
    (-1, 0, 0, -1),
    (1, 0, 0, -1),
    (0, -1, 1, 0),
    (0, 1, -1, 0),
    (0, 1, 1, 0),
    (0, -1, -1, 0),
)
#: mirror images: left-right (``"x"``) and top-bottom (``"y"``)
MIRROR: dict[str, Orient] = {"x": (-1, 0, 0, 1), "y": (1, 0, 0, -1)}

PORT_GAP = 15.0  # the least distance between two ports on one side, and from a corner
FLAG_LEN, FLAG_DEPTH = 11.0, 6.0


def apply(m: Orient, u: float, v: float) -> tuple[float, float]:
    """The canonical point or direction ``(u, v)`` after the symmetry ``m``."""
    a, b, c, d = m
    return a * u + b * v, c * u + d * v


def compose(m: Orient, n: Orient) -> Orient:
    """The symmetry ``m`` applied after ``n``."""
    a, b, c, d = m
    e, f, g, h = n
    return (a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h)


def is_reflection(m: Orient) -> bool:
    a, b, c, d = m
    return a * d - b * c < 0


def side_of(nx: float, ny: float) -> str:
    """The side of a box a port with outward direction (nx, ny) is on."""
    if abs(nx) >= abs(ny):
        return "right" if nx > 0 else "left"
    return "bottom" if ny > 0 else "top"


def apex_of(m: Orient) -> str:
    """Where a triangle's tip points after ``m`` (canonically it points right)."""
    return {"right": "right", "left": "left", "bottom": "down", "top": "up"}[side_of(*apply(m, 1.0, 0.0))]


@dataclass(frozen=True)
class PortPlan:
    """The ports of one shape in its canonical frame: for each leg (in the node's port
    order) its point ``at`` and outward direction ``normal``, in canonical coordinates.
    ``marked``: the shape carries the flag. ``per_side``: the most ports on one side
    (the shape is made big enough to space them)."""

    names: tuple[str, ...]
    at: tuple[tuple[float, float], ...]
    normal: tuple[tuple[float, float], ...]
    marked: bool
    per_side: int
    triangle: bool = False

    def min_size(self) -> float:
        """The least width and height that keep the ports :data:`PORT_GAP` apart."""
        return PORT_GAP * (self.per_side + 1) if self.per_side > 1 else 0.0


_SIDE_NORMAL = {"left": (-1.0, 0.0), "bottom": (0.0, 1.0), "right": (1.0, 0.0), "top": (0.0, -1.0)}


def _along(side: str, t: float) -> tuple[float, float]:
    """The point a fraction ``t`` along ``side``, walking counter-clockwise."""
    s = -1.0 + 2.0 * t
    return {"left": (-1.0, s), "bottom": (s, 1.0), "right": (1.0, -s), "top": (-s, -1.0)}[side]


def box_plan(names: tuple[str, ...], marked: bool) -> PortPlan:
    """Ports of a box (a tensor's rectangle, a unitary's square, a folded let, a small
    operator box) for legs ``names`` in declared order: counter-clockwise from the top
    of the left side."""
    k = len(names)
    sides = ("left", "bottom", "right", "top")
    if k == 2:
        counts = [1, 0, 1, 0]
    elif k == 3:
        counts = [1, 1, 1, 0]
    else:
        counts = [k // 4 + (1 if s < k % 4 else 0) for s in range(4)]
    at, normal = [], []
    for side, n in zip(sides, counts):
        for j in range(n):
            at.append(_along(side, (j + 1) / (n + 1)))
            normal.append(_SIDE_NORMAL[side])
    return PortPlan(tuple(names), tuple(at), tuple(normal), marked, max(counts))


def triangle_plan(ports: tuple[str, ...], inputs: tuple[str, ...]) -> PortPlan:
    """Ports of an isometry's triangle (canonically its tip points right): the legs not in
    ``inputs`` on the base (the left side, top to bottom), the inputs at the tip (from
    the lower edge over the tip to the upper edge), each group in the order of ``ports``."""
    base = [p for p in ports if p not in inputs]
    tip = [p for p in ports if p in inputs]
    where: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
    for j, p in enumerate(base):
        where[p] = (_along("left", (j + 1) / (len(base) + 1)), (-1.0, 0.0))
    n = len(tip)
    for j, p in enumerate(tip):
        # s runs from -1 (lower edge) over 0 (the tip) to 1 (upper edge)
        s = 0.0 if n == 1 else -1.0 + 2.0 * j / (n - 1)
        back = 0.6 * abs(s)  # how far from the tip along its edge
        ny = 0.5 * s
        where[p] = ((1.0 - back, -back / 2 if s > 0 else back / 2), _unit(1.0, -ny))
    marked = len(base) > 1 or n > 1
    return PortPlan(
        tuple(ports),
        tuple(where[p][0] for p in ports),
        tuple(where[p][1] for p in ports),
        marked,
        max(len(base), 1),
        triangle=True,
    )


def _unit(x: float, y: float) -> tuple[float, float]:
    r = math.hypot(x, y) or 1.0
    return x / r, y / r


@dataclass(frozen=True)
class PlacedPort:
    """A port on a drawn shape: its point relative to the shape's centre, its outward
    direction and the side of the box it faces."""

    x: float
    y: float
    nx: float
    ny: float
    side: str


def place(plan: PortPlan, m: Orient, w: float, h: float) -> dict[str, PlacedPort]:
    """Every port of ``plan`` on a ``w`` × ``h`` shape turned by ``m`` (relative to its centre)."""
    out = {}
    for name, (u, v), (nu, nv) in zip(plan.names, plan.at, plan.normal):
        x, y = apply(m, u, v)
        nx, ny = apply(m, nu, nv)
        out[name] = PlacedPort(x * w / 2, y * h / 2, nx, ny, side_of(nx, ny))
    return out


def flag_polygon(kind: str, x: float, y: float, w: float, h: float, m: Orient) -> list[tuple[float, float]]:
    """The flag of a shape centred at (x, y), turned by ``m``: a small wedge on the edge
    where counting starts, its point towards the first leg (three corners, in pixels)."""
    cu, cv = apply(m, -1.0, -1.0)  # the corner where counting starts
    ax, ay = apply(m, 0.0, 1.0)  # along the first side, towards the first leg
    ix, iy = apply(m, 1.0, 0.0)  # into the shape
    corner = (x + cu * w / 2, y + cv * h / 2)
    start = 5.0 if kind == "triangle" else 3.0  # a triangle's corner is sharp: start further in
    inset = 1.4

    def p(along: float, inward: float) -> tuple[float, float]:
        return corner[0] + ax * along + ix * inward, corner[1] + ay * along + iy * inward

    return [p(start, inset), p(start + FLAG_LEN, inset), p(start, inset + FLAG_DEPTH)]
