"""Choosing how each shape is turned, once the layout has placed the shapes.

Ports never move on a shape (:mod:`.ports`); what the layout may choose is one of
the eight symmetries of the square for the whole shape. Each shape takes the one
whose wires are shortest and pass through no other shape, with its free legs
pointing where the layout meant them to go (the first free label on the left,
physical legs down). A few rounds over the shapes let neighbours settle
together. Ties go to the order of :data:`~.ports.ORIENTS`: the shape as
declared first, then turned over left-right, as the paper draws a transpose.
Deterministic: the same positions give the same choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from .ports import IDENTITY, ORIENTS, Orient, PlacedPort, PortPlan, apex_of, place
from .shapes import Shape, obstacle
from .wires import STUB, Box, Point, Polygon, hits, length, route

FREE_WEIGHT = 60.0  # the cost of a free leg leaving at right angles to where it was meant to go
THROUGH = 1000.0  # the cost of a wire through a shape


@dataclass
class Item:
    """One vertex as the search sees it: its centre, its shape's size and offset below
    the centre, its port plan (None: not turnable), its fixed ports (containers: fixed by
    their contents) and whether it is a free leg's end."""

    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    dy: float = 0.0
    plan: PortPlan | None = None
    fixed: dict[str, PlacedPort] = field(default_factory=dict)
    terminal: bool = False
    kind: str = "tensor"  # the shape's kind (its outline is what wires must not cross)

    @property
    def box(self) -> Box:
        return (self.x - self.w / 2, self.y + self.dy - self.h / 2, self.x + self.w / 2, self.y + self.dy + self.h / 2)

    def outline(self, m: Orient) -> Polygon:
        """The shape's outline when turned by ``m`` (only a triangle's changes)."""
        apex = apex_of(m) if self.kind == "triangle" else ""
        return obstacle(Shape(self.kind, self.x, self.y + self.dy, self.w, self.h, apex=apex))


Link = tuple[int, str | None, int, str | None]


def choose_orientations(items: Sequence[Item], links: Sequence[Link], rounds: int = 3) -> list[Orient]:
    """The orientation of every item (:data:`~.ports.IDENTITY` for those without a plan)."""
    orient = [IDENTITY for _ in items]
    turnable = [k for k, it in enumerate(items) if it.plan is not None]
    if not turnable:
        return orient
    solid = [k for k, it in enumerate(items) if not it.terminal]
    boxes = {k: items[k].outline(IDENTITY) for k in solid}
    x0 = min(items[k].box[0] for k in solid)
    y0 = min(items[k].box[1] for k in solid)
    x1 = max(items[k].box[2] for k in solid)
    y1 = max(items[k].box[3] for k in solid)
    frame = (x0 - 20, y0 - 20, x1 + 20, y1 + 20)
    mine: dict[int, list[Link]] = {k: [] for k in turnable}
    for link in links:
        for k in {link[0], link[2]}:
            if k in mine:
                mine[k].append(link)
    placed: dict[int, dict[str, PlacedPort]] = {k: _placed(items[k], IDENTITY) for k in turnable}

    def end(k: int, port: str | None) -> tuple[tuple[float, float], tuple[float, float] | None]:
        it = items[k]
        fixed = placed.get(k, it.fixed)
        if port is not None and port in fixed:
            p = fixed[port]
            return (it.x + p.x, it.y + p.y), (p.nx, p.ny)
        return (it.x, it.y + it.dy), None

    def cost(k: int) -> float:
        total = 0.0
        for u, pu, v, pv in mine[k]:
            me, port, other, oport = (u, pu, v, pv) if u == k else (v, pv, u, pu)
            p, n = end(me, port)
            if items[other].terminal and other != k:
                total += _free_cost(items[k], items[other], p, n, frame, [b for b in boxes.values()])
                continue
            q, m = end(other, oport)
            obstacles = [b for o, b in boxes.items() if m is not None or o != other]
            points, through = route(p, n, q, m, obstacles)
            total += length(points) + THROUGH * through + 4.0 * (len(points) - 2)
        return total

    for _ in range(rounds):
        changed = False
        for k in turnable:
            best, best_cost = orient[k], math.inf
            for rank, m in enumerate(ORIENTS):
                placed[k] = _placed(items[k], m)
                boxes[k] = items[k].outline(m)
                c = cost(k) + 0.01 * rank
                if c < best_cost - 1e-9:
                    best, best_cost = m, c
            if best != orient[k]:
                changed = True
            orient[k] = best
            placed[k] = _placed(items[k], best)
            boxes[k] = items[k].outline(best)
        if not changed:
            break
    return orient


def _placed(it: Item, m: Orient) -> dict[str, PlacedPort]:
    assert it.plan is not None
    out = place(it.plan, m, it.w, it.h)
    return {k: PlacedPort(p.x, p.y + it.dy, p.nx, p.ny, p.side) for k, p in out.items()}


def _free_cost(it: Item, term: Item, p: Point, n: Point | None, frame: Box, boxes: list[Polygon]) -> float:
    """A free leg leaves straight out of its port to the frame: it should point where the
    layout meant (towards ``term``) and pass through no shape on its way."""
    if n is None:
        return 0.0
    dx, dy = term.x - it.x, term.y - it.y
    r = math.hypot(dx, dy) or 1.0
    cost = FREE_WEIGHT * (1.0 - (n[0] * dx + n[1] * dy) / r)
    a = (p[0] + STUB * n[0], p[1] + STUB * n[1])
    reach = []
    for d, lo, hi, start in ((n[0], frame[0], frame[2], a[0]), (n[1], frame[1], frame[3], a[1])):
        if abs(d) > 1e-9:
            reach.append(((hi if d > 0 else lo) - start) / d)
    t = max(0.0, min(reach)) if reach else 0.0
    b = (a[0] + n[0] * t, a[1] + n[1] * t)
    return cost + THROUGH * len(hits([a, b], boxes))
