"""From model expressions to a picture: shapes, lines and texts in one coordinate system.

The conventions are the paper's: a tensor is a shape with one line per leg, each
leaving at the port its declared position gives it (:mod:`.ports`: the layout may
turn a whole shape over, and a flag on the shape shows how); an isometry is a
triangle whose tip points towards its smaller legs (a unitary is a square); copy
tensors, and indices shared by three or more legs, are black dots; a nonlinear
function is a bubble (an ellipse) around its contents; a parenthesised sum is a
dashed box; free legs end at the border of the term's frame with their label;
contracted legs are lines, labelled in small grey type, that go round the shapes
they do not attach to (:mod:`.wires`). A sum is drawn as a row of terms with
their coefficients.

Coordinates are in pixels, y pointing down. :func:`picture` is the entry point;
the SVG and TikZ writers only translate a :class:`Picture`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import numpy as np
import sympy

from ..model import Diagram, Expr, Op
from ..printing import scalar_text
from .layout import principal_axes, separate, shortest_paths, stress_layout
from .orient import Item, choose_orientations
from .ports import ORIENTS, Orient, PlacedPort, apex_of, place
from .shapes import Framed, Line, Picture, Port, Shape, Text, base_name, obstacle, overlaps, ray_exit, text_width  # noqa: F401  (overlaps: re-exported for the tests)
from .steady import Memory, TermMemory, align, choose, match, node_keys
from .sums import arrange, coeff_text
from .thickness import leg
from .vertices import Vertex as _Vertex  # noqa: F401
from .vertices import node_vertex, reflect, set_container_ports
from .wires import Box, Point, Polygon, label_spot, route, segment_hits_box

#: a network laid out wider than this (pixels) and :data:`LONG` times wider than high
#: is turned to run down the page instead (a long chain inside a large drawing)
MAX_WIDTH = 1500.0
LONG = 3.0
MARGIN = 26.0  # between the outermost shapes and a term's frame
HUG = 12.0  # between the shapes and a side of the frame that no free leg ends on


def _crosses(p: Point, q: Point, center: np.ndarray, v: "_Vertex") -> bool:
    """Whether segment p-q passes through the box of vertex ``v`` centred at ``center``."""
    box = (center[0] - v.w / 2, center[1] - v.h / 2, center[0] + v.w / 2, center[1] + v.h / 2)
    return segment_hits_box(p, q, box, pad=2.0)


def upright(x: np.ndarray, sizes: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """``x`` with its axes swapped (reflected in the diagonal: what was leftmost is now at
    the top) when the shapes ``solid`` span more than :data:`MAX_WIDTH` across and
    :data:`LONG` times more across than down: a long network of large shapes then runs
    down the page, which keeps the drawing around it from becoming a long strip."""
    if not solid.any():
        return x
    lo = (x - sizes / 2)[solid].min(axis=0)
    hi = (x + sizes / 2)[solid].max(axis=0)
    w, h = hi - lo
    if w <= MAX_WIDTH or w <= LONG * h:
        return x
    # would it be squarer turned? (the shapes keep their own width and height)
    tx = x[:, ::-1]
    tlo = (tx - sizes / 2)[solid].min(axis=0)
    thi = (tx + sizes / 2)[solid].max(axis=0)
    tw, th = thi - tlo
    if max(tw, th) / max(1.0, min(tw, th)) >= w / max(1.0, h):
        return x
    return tx.copy()


# --------------------------------------------------------------------------- one term


class _TermLayout:
    """Lays out one diagram (one term of a sum) inside its frame."""

    def __init__(self, d: Diagram, depth: int, seed: TermMemory | None = None) -> None:
        self.d = d
        self.depth = depth
        self.seed = seed  # where the previous step put this term's shapes (steady derivations)
        self.memory: TermMemory | None = None  # where this layout put them, once laid out
        self._origin = (0.0, 0.0)
        self.verts: list[_Vertex] = []
        self.conns: list[tuple[int, str | None, int, str | None, str]] = []
        self.node_vertex: dict[int, int] = {}
        self._fixed_end: dict[int, tuple[float, float]] = {}
        self._fixed_side: dict[int, str] = {}  # free legs that leave a fixed port keep its side
        self._ends: dict[int, dict[str, PlacedPort]] = {}  # fixed leg ends when drawn, absolute
        self._build_graph()

    def _add(self, v: _Vertex) -> int:
        self.verts.append(v)
        return len(self.verts) - 1

    def _build_graph(self) -> None:
        d = self.d
        for ni, node in enumerate(d.nodes):
            self.node_vertex[ni] = self._add(self._vertex(node.op, ni))
        for label, _ in d.free:
            self._add(_Vertex("terminal", 0.0, 0.0, label=label))
        terminal = {v.label: k for k, v in enumerate(self.verts) if v.kind == "terminal"}
        for e, dim in d.edge_dims:
            ends: list[tuple[int, str | None]] = [
                (self.node_vertex[ni], d.nodes[ni].op.ports[pi]) for ni, pi in d.incidence[e]
            ]
            ends += [(terminal[label], None) for label in d.edge_labels[e]]
            if not ends:
                size = 30.0
                self._add(_Vertex("loop", size, size, Shape("loop", 0, 0, size, size, scalar_text(dim))))
            elif len(ends) == 2:
                (u, pu), (v, pv) = ends
                self.conns.append((u, pu, v, pv, e))
            else:
                j = self._add(_Vertex("junction", 10.0, 10.0, Shape("dot", 0, 0, 10.0, 10.0)))
                for u, pu in ends:
                    self.conns.append((u, pu, j, None, e))

    def _vertex(self, op: Op, ni: int) -> _Vertex:
        v = node_vertex(op, lambda inner: framed_expr(inner, self.depth + 1))
        v.node = ni
        loops = sum(
            1
            for e in set(self.d.nodes[ni].edges)
            if sum(1 for m, _ in self.d.incidence[e] if m == ni) == 2
            and len(self.d.incidence[e]) == 2
            and not self.d.edge_labels[e]
        )
        if loops:  # room above the shape for its self-loops
            v.h += 24.0 * loops
            v.shape_dy = 12.0 * loops
        return v

    # -------------------------------------------------------------- placement
    def _components(self) -> list[list[int]]:
        parent = list(range(len(self.verts)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for u, _, v, _, _ in self.conns:
            parent[find(u)] = find(v)
        comps: dict[int, list[int]] = {}
        for k in range(len(self.verts)):
            comps.setdefault(find(k), []).append(k)
        return sorted(comps.values(), key=lambda c: c[0])

    def _extent(self, k: int) -> float:
        v = self.verts[k]
        return 6.0 if v.kind == "terminal" else max(v.w, v.h) / 2

    def _train(self, comp: list[int]) -> list[int] | None:
        """The tensors of a matrix product state in chain order, when ``comp`` is one: a
        path of three or more tensors, each with at least one free leg (a site of a
        matrix product operator has two). None otherwise."""
        solid = [k for k in comp if self.verts[k].kind != "terminal"]
        if len(solid) < 3 or any(self.verts[k].kind != "node" for k in solid):
            return None
        nbrs: dict[int, set[int]] = {k: set() for k in solid}
        free: dict[int, list[str]] = {k: [] for k in solid}
        for u, _, v, _, _ in self.conns:
            if u == v:
                return None
            for a, b in ((u, v), (v, u)):
                if a in nbrs:
                    if self.verts[b].kind == "terminal":
                        free[a].append(self.verts[b].label)
                    else:
                        nbrs[a].add(b)
        if any(not free[k] or len(nbrs[k]) > 2 for k in solid):
            return None
        ends = sorted((k for k in solid if len(nbrs[k]) == 1), key=lambda k: min(free[k]))
        if len(ends) != 2:
            return None  # a ring, not a chain
        order, prev = [ends[0]], None
        while len(order) < len(solid):
            nxt = [k for k in nbrs[order[-1]] if k != prev]
            prev = order[-1]
            order.append(nxt[0])
        return order

    def _place_component(self, comp: list[int]) -> np.ndarray:
        train = self._train(comp)
        if train is not None:  # the paper's picture: the chain flat, every physical leg down
            index = {k: i for i, k in enumerate(comp)}
            x = np.zeros((len(comp), 2))
            at = 0.0
            for n, k in enumerate(train):
                if n:
                    at += self.verts[train[n - 1]].w / 2 + self.verts[k].w / 2 + 40.0
                x[index[k]] = (at, 0.0)
            legs: dict[int, list[int]] = {}
            for u, _, v, _, _ in self.conns:
                for a, b in ((u, v), (v, u)):
                    if a in index and self.verts[a].kind == "terminal" and b in index:
                        legs.setdefault(b, []).append(a)
            for b, ends in legs.items():  # a site's free legs side by side below it
                ends.sort(key=lambda a: self.verts[a].label)
                for j, a in enumerate(ends):
                    x[index[a]] = (x[index[b], 0] + 24.0 * (j - (len(ends) - 1) / 2), self.verts[b].h / 2 + 40.0)
            return x
        index = {k: i for i, k in enumerate(comp)}
        edges = []
        for u, _, v, _, _ in self.conns:
            if u in index and v in index and u != v:
                edges.append((index[u], index[v], self._extent(u) + self._extent(v) + 34.0))
        dist = shortest_paths(len(comp), edges)
        x = principal_axes(stress_layout(dist))
        terms = [i for i, k in enumerate(comp) if self.verts[k].kind == "terminal"]
        others = [i for i in range(len(comp)) if i not in terms]
        # left-right: the first free label (alphabetically) on the left; without free legs
        # (a closed loop) the canonically first shape, whatever order the nodes came in
        if terms:
            first = min(terms, key=lambda i: self.verts[comp[i]].label)
            if x[first, 0] > x[:, 0].mean() + 1e-6:
                x[:, 0] = -x[:, 0]
        elif len(comp) > 1:
            x = self._canonical_turn(comp, x)
        # up-down: free legs hang downwards, as the paper's matrix product states do
        if terms and others and x[terms, 1].mean() < x[others, 1].mean() - 1e-6:
            x[:, 1] = -x[:, 1]
        sizes = np.array([[self.verts[k].w, self.verts[k].h] for k in comp])
        movable = np.array([self.verts[k].kind != "terminal" for k in comp])
        return separate(upright(x, sizes, movable), sizes, movable)

    def _collides(self, comp: list[int], x: np.ndarray, placed: list[list[int]], pos: np.ndarray) -> bool:
        """Whether a shape of ``comp`` at ``x`` would overlap one of the components already
        ``placed`` at ``pos`` (two parts of a step both wanting the same old place)."""
        mine = [(x[i], self.verts[k]) for i, k in enumerate(comp) if self.verts[k].kind != "terminal"]
        for other in placed:
            for k in other:
                v = self.verts[k]
                if v.kind == "terminal":
                    continue
                for c, u in mine:
                    if abs(c[0] - pos[k, 0]) < (u.w + v.w) / 2 + 4 and abs(c[1] - pos[k, 1]) < (u.h + v.h) / 2 + 4:
                        return True
        return False

    def _rank(self, comp: list[int]) -> list[int]:
        """The component's vertices (as indices into ``comp``) in an order that does not
        depend on the order of the diagram's nodes: by what the shape shows and how many
        legs it has, the node order breaking ties only between shapes that look alike."""
        keys = node_keys(self.d)

        def key(i: int) -> tuple[int, str, str, str, int]:
            v = self.verts[comp[i]]
            if v.node is None:
                return (1, v.kind, v.label, "", i)
            degree = sum(1 for u, _, w, _, _ in self.conns if comp[i] in (u, w))
            return (0, keys[v.node][0], str(degree), "", i)

        return sorted(range(len(comp)), key=key)

    def _canonical_turn(self, comp: list[int], x: np.ndarray) -> np.ndarray:
        """A closed network turned the same way however it was written (``A B C`` and
        ``C A B`` are one loop): its canonically first shape on the left, and the second
        above the middle. A round layout (a ring: no longest axis) is first rotated to put
        the first shape exactly on the left."""
        order = self._rank(comp)
        first, second = order[0], order[1]
        c = x - x.mean(axis=0)
        spread = np.linalg.eigvalsh(c.T @ c)
        if abs(spread[1] - spread[0]) < 0.02 * max(1.0, spread[1]):  # round: rotate first to the left
            ang = np.arctan2(c[first, 1], c[first, 0])
            turn = np.pi - ang
            rot = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
            c = c @ rot
            c[np.abs(c) < 1e-9] = 0.0
        if c[first, 0] > 1e-6:
            c[:, 0] = -c[:, 0]
        if c[second, 1] > 1e-6:
            c[:, 1] = -c[:, 1]
        return c

    def layout(self) -> Framed:
        comps = self._components()
        pos = np.zeros((len(self.verts), 2))
        cursor = 0.0
        keys = node_keys(self.d)
        placed: list[list[int]] = []  # the components laid where the previous step had them
        taken: set[int] = set()  # the remembered places they took
        for comp in comps:
            x = self._place_component(comp)
            if self.seed is not None:
                node_of = {i: n for i, k in enumerate(comp) if (n := self.verts[k].node) is not None}
                nodes = list(node_of)
                trial = set(taken)
                found = match([keys[node_of[i]] for i in nodes], self.seed, trial)
                if found:
                    y = align(x, {nodes[j]: at for j, at in found.items()})
                    if not self._collides(comp, y, placed, pos):  # else: laid out as new, to the right
                        for i, k in enumerate(comp):
                            pos[k] = y[i]
                        placed.append(comp)
                        taken = trial
                        continue
            solid = [i for i, k in enumerate(comp) if self.verts[k].kind != "terminal"]
            if solid:
                lo = min(x[i, 0] - self.verts[comp[i]].w / 2 for i in solid)
                hi = max(x[i, 0] + self.verts[comp[i]].w / 2 for i in solid)
                ymid = (
                    min(x[i, 1] - self.verts[comp[i]].h / 2 for i in solid)
                    + max(x[i, 1] + self.verts[comp[i]].h / 2 for i in solid)
                ) / 2
            else:  # an identity line between two free legs
                lo, hi, ymid = x[:, 0].mean() - 10, x[:, 0].mean() + 10, 0.0
            for i, k in enumerate(comp):
                pos[k] = (x[i, 0] - lo + cursor, x[i, 1] - ymid)
            cursor += hi - lo + 40.0
        if placed:  # what is new goes to the right of what stayed in place
            right = max(pos[k, 0] + self.verts[k].w / 2 for comp in placed for k in comp)
            new = [k for comp in comps if comp not in placed for k in comp]
            for k in new:
                pos[k, 0] += right + 40.0
        self._orient_nested(pos)
        self._orient_ports(pos)
        framed = self._frame(pos)
        self.memory = TermMemory(
            tuple(
                (keys[v.node], (float(pos[k, 0]), float(pos[k, 1])))
                for k, v in enumerate(self.verts)
                if v.node is not None
            ),
            self._origin,
        )
        return framed

    def _orient_nested(self, pos: np.ndarray) -> None:
        """Mirror a bubble's contents when that brings its legs nearer to what they connect to."""
        for k, v in enumerate(self.verts):
            if v.inner is None or not v.inner.ports:
                continue
            ends = []
            for a, pa, b, pb, _ in self.conns:
                if a == k and pa in v.port_at and b != k:
                    ends.append((pa, pos[b]))
                if b == k and pb in v.port_at and a != k:
                    ends.append((pb, pos[a]))
            if not ends:
                continue

            def cost(vert: _Vertex) -> float:
                return sum(
                    float(np.hypot(pos[k, 0] + vert.port_at[p].x - q[0], pos[k, 1] + vert.port_at[p].y - q[1]))
                    for p, q in ends
                )

            best, best_cost = (v.inner, dict(v.port_at)), cost(v) - 1e-6
            # a row of terms read right to left would change its meaning: sums only flip top-bottom
            ordered = any(t.role == "coeff" for t in v.inner.pic.texts)
            # nor may a stack of terms (its sums' signs right-aligned: anchor "end"), either way
            stack = v.inner.stacked or any(t.role == "coeff" and t.anchor == "end" for t in v.inner.pic.texts)
            choices = () if stack else ((("y",),) if ordered else (("x",), ("y",), ("x", "y")))
            for axes in choices:
                f = v.inner
                for axis in axes:
                    f = reflect(f, axis)
                trial = _Vertex(v.kind, v.w, v.h, v.shape, inner=f, inner_at=v.inner_at)
                set_container_ports(trial)
                c = cost(trial)
                if c < best_cost - 1.0:
                    best, best_cost = (f, trial.port_at), c
            v.inner, v.port_at = best

    def _orient_ports(self, pos: np.ndarray) -> None:
        """Turn every shape with fixed ports the way its wires are shortest
        (:func:`~.orient.choose_orientations`); its ports, tip and flag turn with it."""
        items = [
            Item(
                float(pos[k, 0]),
                float(pos[k, 1]),
                v.shape.w if v.shape else 0.0,
                v.shape.h if v.shape else 0.0,
                v.shape_dy,
                v.plan,
                dict(v.port_at) if v.plan is None else {},
                v.kind == "terminal",
                v.shape.kind if v.shape else "",
            )
            for k, v in enumerate(self.verts)
        ]
        links = [(u, pu, v, pv) for u, pu, v, pv, _ in self.conns]
        chosen = choose_orientations(items, links)
        for k, m in self._lone_orientations().items():
            chosen[k] = m
        for k, m in enumerate(chosen):
            v = self.verts[k]
            if v.plan is None or v.shape is None:
                continue
            v.orient = m
            v.port_at = {
                name: PlacedPort(pp.x, pp.y + v.shape_dy, pp.nx, pp.ny, pp.side)
                for name, pp in place(v.plan, m, v.shape.w, v.shape.h).items()
            }

    def _lone_orientations(self) -> dict[int, Orient]:
        """A tensor alone with its free legs is turned so that its alphabetically first
        free label leaves on the left (as the layout puts it elsewhere): the terms of
        ``C[i, j] + C[j, i]`` then both read i … j, the second turned over."""
        out = {}
        for comp in self._components():
            solid = [k for k in comp if self.verts[k].kind != "terminal"]
            if len(solid) != 1 or self.verts[solid[0]].plan is None or self.verts[solid[0]].shape is None:
                continue
            k = solid[0]
            v = self.verts[k]
            assert v.plan is not None and v.shape is not None  # checked above
            label_of: dict[str, str] = {}
            for a, pa, b, pb, _ in self.conns:
                for me, port, other in ((a, pa, b), (b, pb, a)):
                    if me == k and other != k and self.verts[other].kind == "terminal":
                        assert port is not None  # a shape's wires end at its ports
                        label_of[port] = self.verts[other].label
            if not label_of:
                continue
            first = min(label_of, key=lambda port: label_of[port])
            for m in ORIENTS:
                if place(v.plan, m, v.shape.w, v.shape.h)[first].side == "left":
                    out[k] = m
                    break
        return out

    def _frame(self, pos: np.ndarray) -> Framed:
        verts = self.verts
        solid = [k for k, v in enumerate(verts) if v.kind != "terminal"]
        if solid:
            x0 = min(pos[k, 0] - verts[k].w / 2 for k in solid) - MARGIN
            x1 = max(pos[k, 0] + verts[k].w / 2 for k in solid) + MARGIN
            y0 = min(pos[k, 1] - verts[k].h / 2 for k in solid) - MARGIN
            y1 = max(pos[k, 1] + verts[k].h / 2 for k in solid) + MARGIN
        else:
            x0, x1, y0, y1 = -MARGIN, pos[:, 0].max() + MARGIN, -MARGIN, MARGIN
        # each free leg ends on the side of the frame it points to
        attached: dict[int, int] = {}
        for u, pu, v, pv, _ in self.conns:
            for me, other, port in ((u, v, pv), (v, u, pu)):
                if verts[me].kind == "terminal":
                    attached[me] = other
                    fixed = verts[other].port_at.get(port) if port is not None else None
                    if fixed is not None:  # it leaves its shape at a fixed port, straight out
                        self._fixed_end[me] = (pos[other, 0] + fixed.x, pos[other, 1] + fixed.y)
                        self._fixed_side[me] = fixed.side
        sides: dict[int, str] = {}
        for k, vert in enumerate(verts):
            if vert.kind != "terminal":
                continue
            a = attached.get(k)
            if a is None or verts[a].kind == "terminal":
                sides[k] = "top" if a is None or verts[a].label > vert.label else "bottom"
                continue
            sides[k] = self._fixed_side.get(k) or self._side(pos, k, a, solid, (x0, y0, x1, y1))
        spot: dict[int, float] = {}
        for side in ("left", "right", "top", "bottom"):
            axis = 1 if side in ("left", "right") else 0
            ks = sorted(
                (k for k in sides if sides[k] == side),
                key=lambda k: (
                    self._fixed_end[k][axis] if k in self._fixed_end else pos[attached.get(k, k), axis],
                    verts[k].label,
                ),
            )
            last = -math.inf
            for k in ks:
                a = attached.get(k, k)
                want = pos[a, axis] if verts[a].kind != "terminal" else pos[k, axis]
                if k in self._fixed_end:
                    want = self._fixed_end[k][axis]
                spot[k] = max(want, last + 22.0)
                last = spot[k]
            if ks:
                lo, hi = spot[ks[0]], spot[ks[-1]]
                if axis == 1:
                    y0, y1 = min(y0, lo - 16), max(y1, hi + 16)
                else:
                    x0, x1 = min(x0, lo - 16), max(x1, hi + 16)
        # sides without free legs hug the shapes
        used = set(sides.values())
        if solid:
            x0 += 0 if "left" in used else MARGIN - HUG
            x1 -= 0 if "right" in used else MARGIN - HUG
            y0 += 0 if "top" in used else MARGIN - HUG
            y1 -= 0 if "bottom" in used else MARGIN - HUG
        for k, side in sides.items():
            pos[k] = {"left": (x0, spot[k]), "right": (x1, spot[k]), "top": (spot[k], y0), "bottom": (spot[k], y1)}[
                side
            ]
        return self._draw(pos, (x0, y0, x1, y1), sides)

    def _side(self, pos: np.ndarray, k: int, a: int, solid: list[int], rect: Box) -> str:
        """The side of the frame for free leg ``k`` of vertex ``a``: the one it points to,
        unless the straight leg to that side would cross another shape."""
        dx, dy = pos[k] - pos[a]
        if abs(dx) < 1e-9 and abs(dy) < 1e-9:
            dx = 1.0
        prefs = {"right": dx, "left": -dx, "bottom": dy, "top": -dy}
        order = sorted(prefs, key=lambda side: -prefs[side])
        x0, y0, x1, y1 = rect
        ax, ay = pos[a]
        for side in order:
            end = {"left": (x0, ay), "right": (x1, ay), "top": (ax, y0), "bottom": (ax, y1)}[side]
            if not any(_crosses((ax, ay), end, pos[o], self.verts[o]) for o in solid if o != a):
                return side
        return order[0]

    # -------------------------------------------------------------- drawing
    def _draw(self, pos: np.ndarray, rect: Box, sides: dict[int, str]) -> Framed:
        verts = self.verts
        x0, y0, x1, y1 = rect
        show_labels = self.depth == 0
        lpad = max([text_width(verts[k].label) for k, s in sides.items() if s == "left"] + [0.0])
        rpad = max([text_width(verts[k].label) for k, s in sides.items() if s == "right"] + [0.0])
        tpad = 16.0 if any(s == "top" for s in sides.values()) else 0.0
        bpad = 16.0 if any(s == "bottom" for s in sides.values()) else 0.0
        if show_labels:
            ox, oy = -x0 + lpad + 6, -y0 + tpad + 4
        else:
            ox, oy = -x0, -y0
        if self.seed is not None:  # the frame keeps the previous step's origin where it can
            ox, oy = max(ox, self.seed.origin[0]), max(oy, self.seed.origin[1])
        self._origin = (float(ox), float(oy))
        pos = pos + np.array([ox, oy])
        rect = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
        width = rect[2] + (rpad + 6 if show_labels else 0)
        height = rect[3] + (bpad + 4 if show_labels else 0)
        pic = Picture(width, height)
        shape_of: dict[int, int] = {}
        self._ends = {}
        for k, v in enumerate(verts):
            if v.shape is None:
                continue
            shape = replace(v.shape, x=float(pos[k, 0]), y=float(pos[k, 1]) + v.shape_dy, parent=None, depth=self.depth)
            if v.plan is not None:  # turned as the layout chose: its ports, tip and flag with it
                shape = replace(
                    shape,
                    orient=v.orient,
                    flag=v.plan.marked,
                    apex=apex_of(v.orient) if shape.kind == "triangle" else shape.apex,
                )
                self._ends[k] = {
                    name: replace(pp, x=float(pos[k, 0]) + pp.x, y=float(pos[k, 1]) + pp.y)
                    for name, pp in v.port_at.items()
                }
            shape_of[k] = len(pic.shapes)
            pic.shapes.append(shape)
            if v.inner is not None:
                self._place_inner(pic, shape_of[k], v, k)
        ports: dict[str, list[Port]] = {}
        for k, side in sides.items():
            ports.setdefault(verts[k].label, []).append((float(pos[k, 0]), float(pos[k, 1]), side))
            if show_labels:
                px, py = pos[k]
                t = {
                    "left": (px - 4, py + 4, "end"),
                    "right": (px + 4, py + 4, "start"),
                    "top": (px, py - 5, "middle"),
                    "bottom": (px, py + 14, "middle"),
                }[side]
                pic.texts.append(Text(t[0], t[1], verts[k].label, t[2], "free"))
        self._lines(pic, pos, shape_of)
        return Framed(pic, rect, ports, True)

    def _place_inner(self, pic: Picture, parent: int, v: "_Vertex", k: int) -> None:
        s, inner = pic.shapes[parent], v.inner
        assert inner is not None
        dx, dy = s.x + v.inner_at[0], s.y + v.inner_at[1]
        pic.add(inner.pic, dx, dy, parent)
        s_ports: dict[str, PlacedPort] = {}
        for label, ends in inner.ports.items():
            pp = v.port_at[label]
            at = (s.x + pp.x, s.y + pp.y)
            s_ports[label] = replace(pp, x=at[0], y=at[1])
            if inner.single:
                node = self.d.nodes[v.node] if v.node is not None else None
                edge = dict(zip(node.op.ports, node.edges)).get(label) if node is not None else None
                for px, py, _ in ends:
                    pic.lines.append(leg([(px + dx, py + dy), at], "", self.d.dims.get(edge or "")))
            else:  # a sum inside: its terms name their legs; the container's leg starts here
                for px, py, sd in ends:
                    t = {
                        "left": (px + dx + 3, py + dy - 3, "start"),
                        "right": (px + dx - 3, py + dy - 3, "end"),
                        "top": (px + dx + 3, py + dy + 11, "start"),
                        "bottom": (px + dx + 3, py + dy - 3, "start"),
                    }[sd]
                    pic.texts.append(Text(t[0], t[1], label, t[2], "leg"))
        self._ends[k] = s_ports

    def _anchor(
        self, pic: Picture, shape_of: dict[int, int], pos: np.ndarray, k: int, toward: np.ndarray, offset: np.ndarray
    ) -> tuple[float, float]:
        """Where a leg without a fixed port leaves vertex ``k``: towards ``toward``."""
        if self.verts[k].kind == "terminal":
            return float(pos[k, 0]), float(pos[k, 1])
        s = pic.shapes[shape_of[k]]
        d = toward - np.array([s.x, s.y]) + offset
        x, y = ray_exit(s, float(d[0]), float(d[1]))
        return x + float(offset[0]) * 0.6, y + float(offset[1]) * 0.6

    def _end(self, k: int, port: str | None) -> PlacedPort | None:
        return self._ends.get(k, {}).get(port) if port is not None else None

    def _centre(self, pic: Picture, shape_of: dict[int, int], pos: np.ndarray, k: int) -> np.ndarray:
        if k in shape_of:
            return np.array([pic.shapes[shape_of[k]].x, pic.shapes[shape_of[k]].y])
        return np.array(pos[k], float)

    def _lines(self, pic: Picture, pos: np.ndarray, shape_of: dict[int, int]) -> None:
        groups: dict[tuple[int, int], list[int]] = {}
        for c, (u, _, v, _, _) in enumerate(self.conns):
            groups.setdefault((min(u, v), max(u, v)), []).append(c)
        boxes = {k: obstacle(pic.shapes[i]) for k, i in shape_of.items()}
        loops_drawn: dict[int, int] = {}
        for (a, b), members in groups.items():
            for rank, c in enumerate(members):
                u, pu, v, pv, e = self.conns[c]
                label = base_name(e) if not self.d.edge_labels[e] else ""
                eu, ev = self._end(u, pu), self._end(v, pv)
                if eu is not None or ev is not None:  # a fixed port: out of it, round the shapes
                    self._routed(pic, shape_of, pos, boxes, (u, eu), (v, ev), label, self.d.dims[e])
                    continue
                if u == v:  # a trace of two of the node's own legs: a small loop above it
                    s = pic.shapes[shape_of[u]]
                    n = loops_drawn.get(u, 0)
                    loops_drawn[u] = n + 1
                    r = 9.0
                    cy = s.y - s.h / 2 - r - 24.0 * n + 2
                    pic.shapes.append(
                        Shape("selfloop", s.x, cy, 2 * r, 2 * r, label, parent=s.parent, depth=self.depth)
                    )
                    continue
                pu_xy, pv_xy = self._centre(pic, shape_of, pos, u), self._centre(pic, shape_of, pos, v)
                d = pv_xy - pu_xy
                norm = float(np.hypot(*d)) or 1.0
                perp = np.array([-d[1], d[0]]) / norm
                off = perp * (rank - (len(members) - 1) / 2) * 10.0
                p = self._anchor(pic, shape_of, pos, u, pv_xy, off)
                q = self._anchor(pic, shape_of, pos, v, pu_xy, off)
                pic.lines.append(leg([p, q], label, self.d.dims[e]))
                if label:
                    # parallel legs: each label on its own outer side
                    side = -1.0 if rank - (len(members) - 1) / 2 < 0 else 1.0
                    mx = (p[0] + q[0]) / 2 + perp[0] * 8 * side
                    my = (p[1] + q[1]) / 2 + perp[1] * 8 * side + 3
                    pic.texts.append(Text(mx, my, label, "middle", "leg"))

    def _routed(
        self,
        pic: Picture,
        shape_of: dict[int, int],
        pos: np.ndarray,
        boxes: dict[int, Polygon],
        one: tuple[int, PlacedPort | None],
        two: tuple[int, PlacedPort | None],
        label: str,
        dim: sympy.Expr | None = None,
    ) -> None:
        """A wire with at least one fixed port: it leaves each fixed port straight out, then
        goes round every shape it does not attach to (:func:`~.wires.route`)."""
        (u, eu), (v, ev) = one, two

        def point(k: int, e: PlacedPort | None, other_k: int, other_e: PlacedPort | None) -> tuple[Point, Point | None]:
            if e is not None:
                return (e.x, e.y), (e.nx, e.ny)
            if other_e is not None:
                aim = np.array([other_e.x + 8 * other_e.nx, other_e.y + 8 * other_e.ny])
            else:
                aim = self._centre(pic, shape_of, pos, other_k)
            return self._anchor(pic, shape_of, pos, k, aim, np.zeros(2)), None

        p, n = point(u, eu, v, ev)
        q, m = point(v, ev, u, eu)
        # a free end of a wire (a dot, a vector) may touch its own shape
        obstacles = [bx for k, bx in boxes.items() if not ((k == u and n is None) or (k == v and m is None))]
        points, _ = route(p, n, q, m, obstacles)
        pic.lines.append(leg(points, label, dim))
        if label:  # beside the wire, on the side away from the shapes (outside a loop)
            mid = (self._centre(pic, shape_of, pos, u) + self._centre(pic, shape_of, pos, v)) / 2
            spots = [label_spot(points, side) for side in (1.0, -1.0)]
            far = [float(np.hypot(x - mid[0], y - 3 - mid[1])) for x, y in spots]
            x, y = spots[1] if far[1] > far[0] + 1.0 else spots[0]
            pic.texts.append(Text(x, y, label, "middle", "leg"))


# --------------------------------------------------------------------------- sums


def _EMPTY() -> Framed:
    return Framed(Picture(0.0, 30.0), (0.0, 0.0, 0.0, 30.0), {}, True)


def framed_expr(expr: Expr, depth: int = 0) -> Framed:
    """The expression as a framed picture: one framed term, or its terms with their signs
    and coefficients, in a row or stacked (:func:`~.sums.arrange`; the empty sum is the
    text 0)."""
    return _framed(expr, depth, None)[0]


def _framed(expr: Expr, depth: int, memory: Memory | None) -> tuple[Framed, Memory]:
    terms = expr.terms
    if not terms:
        pic = Picture(30.0, 30.0, texts=[Text(15.0, 20.0, "0", "middle", "coeff")])
        return Framed(pic, (0.0, 0.0, 30.0, 30.0), {}, False), Memory(())
    parts = []
    kept: list[TermMemory] = []
    for k, t in enumerate(terms):
        text = coeff_text(t.coeff, k == 0)
        if not t.diagram.nodes and not t.diagram.edge_dims:  # a bare number
            parts.append(((text + " 1").strip() if text in ("", "−", "+", "− ", "+ ") else text, _EMPTY()))
            kept.append(TermMemory((), (0.0, 0.0)))
        else:
            term = _TermLayout(t.diagram, depth, choose(node_keys(t.diagram), memory, k))
            parts.append((text, term.layout()))
            assert term.memory is not None
            kept.append(term.memory)
    if len(parts) == 1 and not parts[0][0]:
        return parts[0][1], Memory(tuple(kept))
    return arrange(parts), Memory(tuple(kept))


def picture(expr: Expr, padding: float = 10.0) -> Picture:
    """The whole drawing of ``expr``, with ``padding`` around it."""
    return steady_picture(expr, None, padding)[0]


def steady_picture(expr: Expr, memory: Memory | None, padding: float = 10.0) -> tuple[Picture, Memory]:
    """The drawing of ``expr`` laid out from where ``memory`` (the previous step's drawing)
    had its shapes (:mod:`.steady`), and the memory of this drawing for the next step.
    With no memory it is :func:`picture`."""
    f, kept = _framed(expr, 0, memory)
    out = Picture(f.pic.width + 2 * padding, f.pic.height + 2 * padding)
    out.add(f.pic, padding, padding)
    return out, kept


def pictures(exprs: Sequence[Expr], padding: float = 10.0) -> list[Picture]:
    """The drawings of the steps of a derivation, each laid out from the previous one's
    positions: a tensor that survives a step stays where it was."""
    out, memory = [], None
    for e in exprs:
        pic, memory = steady_picture(e, memory, padding)
        out.append(pic)
    return out
