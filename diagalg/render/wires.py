"""Wires between ports: a short straight stub out of each fixed port, then the shortest
of a few simple routes (straight, one bend, or a detour round the shapes in the way)
that passes through no shape.

A wire that leaves its port along the port's direction shows which leg it is even
where it then bends; a detour keeps it from running through a tensor it does not
attach to (which would read as attaching there).
"""

from __future__ import annotations

import math
from typing import Sequence

Point = tuple[float, float]
Box = tuple[float, float, float, float]
Polygon = list[Point]  # a shape's convex outline

STUB = 8.0  # the straight piece of a wire next to a fixed port
DETOUR = 10.0  # how far a detour passes outside the shapes it avoids
#: the cost of passing through a shape: more than any detour in a drawing of any size, so a long
#: way round always beats a short way through
BLOCKED = 1e7


def segment_hits_box(p: Point, q: Point, box: Box, pad: float = -0.5) -> bool:
    """Whether the segment p-q passes through ``box`` grown by ``pad`` (a negative pad lets
    a wire touch a shape's outline without counting as through it)."""
    x0, y0, x1, y1 = box
    return segment_hits(p, q, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], pad)


def segment_hits(p: Point, q: Point, poly: Polygon, pad: float = -0.5) -> bool:
    """Whether the segment p-q passes through the convex polygon ``poly`` grown by ``pad``
    (clipping the segment against each side's half-plane)."""
    xs, ys = [c[0] for c in poly], [c[1] for c in poly]
    if (
        max(p[0], q[0]) < min(xs) - pad
        or min(p[0], q[0]) > max(xs) + pad
        or max(p[1], q[1]) < min(ys) - pad
        or min(p[1], q[1]) > max(ys) + pad
    ):
        return False
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for (ax, ay), (bx, by) in zip(poly, poly[1:] + poly[:1]):
        nx, ny = by - ay, ax - bx  # a normal of the side; turned outwards below
        r = math.hypot(nx, ny)
        if r < 1e-12:
            continue
        nx, ny = nx / r, ny / r
        if nx * (cx - ax) + ny * (cy - ay) > 0:
            nx, ny = -nx, -ny
        # inside: n·(x - a) <= pad
        start = nx * (p[0] - ax) + ny * (p[1] - ay) - pad
        rate = nx * dx + ny * dy
        if abs(rate) < 1e-12:
            if start > 0:
                return False
            continue
        t = -start / rate
        if rate > 0:
            t1 = min(t1, t)
        else:
            t0 = max(t0, t)
        if t0 > t1:
            return False
    return True


def hits(points: Sequence[Point], polys: Sequence[Polygon]) -> list[int]:
    """Indices of the shapes (convex outlines) some segment of the polyline passes through."""
    return [k for k, poly in enumerate(polys) if any(segment_hits(a, b, poly) for a, b in zip(points, points[1:]))]


def bounds(poly: Polygon) -> Box:
    xs, ys = [c[0] for c in poly], [c[1] for c in poly]
    return min(xs), min(ys), max(xs), max(ys)


def length(points: Sequence[Point]) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:]))


def _tidy(points: list[Point]) -> list[Point]:
    """Without repeated points and without middle points of straight runs."""
    out: list[Point] = []
    for p in points:
        if out and abs(out[-1][0] - p[0]) < 1e-6 and abs(out[-1][1] - p[1]) < 1e-6:
            continue
        if len(out) >= 2:
            (ax, ay), (bx, by) = out[-2], out[-1]
            if (
                abs((bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)) < 1e-6
                and (bx - ax) * (p[0] - bx) + (by - ay) * (p[1] - by) >= 0
            ):
                out[-1] = p
                continue
        out.append(p)
    return out


def route(
    p: Point, np_: Point | None, q: Point, nq: Point | None, shapes: Sequence[Polygon]
) -> tuple[list[Point], int]:
    """A wire from ``p`` to ``q`` and the number of shapes it still passes through (0 unless
    every route is blocked). ``np_``/``nq``: the outward direction of a fixed port at that
    end (the wire leaves it straight for :data:`STUB`), None for a free end."""
    a = (p[0] + STUB * np_[0], p[1] + STUB * np_[1]) if np_ is not None else p
    b = (q[0] + STUB * nq[0], q[1] + STUB * nq[1]) if nq is not None else q
    direct = [a, b]
    blocked = [bounds(shapes[k]) for k in hits(direct, shapes)]
    if not blocked:
        return _tidy([p, a, b, q]), 0
    boxes = [bounds(poly) for poly in shapes]
    near = blocked + [bx for bx in boxes if _touches(bx, a) or _touches(bx, b)]
    top = min(min(bx[1] for bx in near), a[1], b[1]) - DETOUR
    bottom = max(max(bx[3] for bx in near), a[1], b[1]) + DETOUR
    left = min(min(bx[0] for bx in near), a[0], b[0]) - DETOUR
    right = max(max(bx[2] for bx in near), a[0], b[0]) + DETOUR
    candidates = [
        [a, (b[0], a[1]), b],
        [a, (a[0], b[1]), b],
        [a, (a[0], top), (b[0], top), b],
        [a, (a[0], bottom), (b[0], bottom), b],
        [a, (left, a[1]), (left, b[1]), b],
        [a, (right, a[1]), (right, b[1]), b],
    ]
    best, best_cost, best_hits = direct, math.inf, len(blocked)
    for core in candidates:
        n = len(hits(core, shapes))
        cost = BLOCKED * n + length(core) + 4.0 * (len(core) - 2)
        if cost < best_cost:
            best, best_cost, best_hits = core, cost, n
    return _tidy([p, *best, q]), best_hits


def _touches(box: Box, p: Point, reach: float = STUB + 2.0) -> bool:
    return box[0] - reach <= p[0] <= box[2] + reach and box[1] - reach <= p[1] <= box[3] + reach


def label_spot(points: Sequence[Point], side: float = 1.0) -> tuple[float, float]:
    """Where a contracted wire's label goes: beside the middle of its longest segment."""
    a, b = max(zip(points, points[1:]), key=lambda s: math.hypot(s[1][0] - s[0][0], s[1][1] - s[0][1]))
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy) or 1.0
    px, py = -dy / n, dx / n
    return (a[0] + b[0]) / 2 + px * 8 * side, (a[1] + b[1]) / 2 + py * 8 * side + 3
