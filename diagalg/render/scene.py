"""From model expressions to a picture: shapes, lines and texts in one coordinate system.

The conventions are the paper's: a tensor is a shape with one line per leg; an
isometry is a triangle whose tip points towards its smaller legs (a unitary is a
square); copy tensors, and indices shared by three or more legs, are black dots;
a nonlinear function is a bubble (an ellipse) around its contents; a
parenthesised sum is a dashed box; free legs end at the border of the term's
frame with their label; contracted legs are lines, labelled in small grey type.
A sum is drawn as a row of terms with their coefficients.

Coordinates are in pixels, y pointing down. :func:`picture` is the entry point;
the SVG and TikZ writers only translate a :class:`Picture`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy

from ..model import (
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    IndexOp,
    ReshapeOp,
    ShiftOp,
    TensorOp,
)
from ..bubbles import get_bubble
from ..printing import scalar_text
from .layout import principal_axes, separate, shortest_paths, stress_layout
from .shapes import (  # noqa: F401  (overlaps: re-exported for the tests)
    Framed,
    Line,
    Picture,
    Port,
    Shape,
    Text,
    base_name,
    overlaps,
    ray_exit,
    text_width,
    to_ellipse,
    to_rect,
)

MARGIN = 26.0  # between the outermost shapes and a term's frame


# --------------------------------------------------------------------------- vertices


@dataclass
class _Vertex:
    kind: str  # node, junction, terminal, loop
    w: float
    h: float
    shape: Shape | None = None
    inner: Framed | None = None
    node: int | None = None
    label: str = ""
    apex_ports: tuple[str, ...] = ()  # a triangle's small legs (its tip points at them)
    inner_at: tuple[float, float] = (0.0, 0.0)  # top-left of the nested picture, relative to the centre
    port_at: dict[str, tuple[float, float]] = field(default_factory=dict)  # fixed leg ends, relative
    port_side: dict[str, str] = field(default_factory=dict)  # the side each fixed leg end faces


def _tensor_vertex(op: TensorOp) -> _Vertex:
    decl = op.decl
    sup = ("*" if op.conj else "") + ("⁻¹" if op.inv % 2 else "")
    label_w = text_width(decl.name) + (9 if sup else 0)
    if decl.structure == "isometry" and op.inv % 2 == 0:
        size = max(38.0, label_w + 22)
        v = _Vertex("node", size, size * 0.9, Shape("triangle", 0, 0, size, size * 0.9, decl.name, sup))
        v.apex_ports = decl.inputs
        return v
    if decl.structure == "unitary":
        size = max(32.0, label_w + 14)
        return _Vertex("node", size, size, Shape("square", 0, 0, size, size, decl.name, sup))
    if len(op.ports) == 1:
        size = max(30.0, label_w + 12)
        return _Vertex("node", size, size, Shape("vector", 0, 0, size, size, decl.name, sup))
    w = max(36.0, label_w + 18)
    return _Vertex("node", w, 30.0, Shape("tensor", 0, 0, w, 30.0, decl.name, sup))


def _small_box(name: str, sub: str = "") -> _Vertex:
    w = max(30.0, text_width(name) + text_width(sub, True) + 14)
    return _Vertex("node", w, 24.0, Shape("tensor", 0, 0, w, 24.0, name, "", sub))


def _nested_vertex(op: BoxOp | BubbleOp | DerivOp, depth: int) -> _Vertex:
    inner = framed_expr(op.inner, depth + 1)
    x0, y0, x1, y1 = inner.rect
    pw, ph = inner.pic.width, inner.pic.height
    if isinstance(op, BoxOp):
        title, sub, kind = "", "", "box"
        w, h = pw + 16, ph + 16
    else:
        if isinstance(op, DerivOp):
            title, sub = f"∂/∂{op.wrt.text()}", ""
        elif op.kind == "func":
            title, sub = op.func.name if op.func else "func", ""
        elif op.kind == "pow":
            title, sub = get_bubble("pow").drawing_label(), scalar_text(op.param) if op.param is not None else ""
        else:
            title, sub = get_bubble(op.kind).drawing_label(), ",".join(op.axes)
        band = 18.0
        need_w = max(pw, text_width(title) + text_width(sub, True) + 10)
        w, h = need_w * 1.22 + 16, (ph + 2 * band) * 1.18 + 4
        kind = "bubble"
    shape = Shape(kind, 0, 0, w, h, title, "", sub)
    v = _Vertex("node", w, h, shape, inner=inner)
    shift = 11.0 if kind == "bubble" else 0.0
    v.inner_at = (-pw / 2, -ph / 2 + shift)
    if kind == "bubble":  # the title sits just above the contents
        shape.title_y = -ph / 2 + shift - 3.0
        # left of centre, so a leg leaving through the top does not cross it
        tw = text_width(title) + text_width(sub, True)
        shape.title_x = min(0.0, -pw / 2 + tw / 2 + 10.0) if pw > 2 * tw + 40 else 0.0
    _set_ports(v)
    return v


def _set_ports(v: _Vertex) -> None:
    """Where each leg of a nested picture leaves its container (relative to its centre)."""
    assert v.inner is not None and v.shape is not None
    v.port_at, v.port_side = {}, {}
    for label, ends in v.inner.ports.items():
        side = ends[0][2]
        mx = float(np.mean([p[0] for p in ends])) + v.inner_at[0]
        my = float(np.mean([p[1] for p in ends])) + v.inner_at[1]
        v.port_at[label] = to_ellipse(v.shape, mx, my, side) if v.shape.kind == "bubble" else \
            to_rect(v.shape, mx, my, side)
        v.port_side[label] = side


_MIRROR_SIDE = {"x": {"left": "right", "right": "left"}, "y": {"top": "bottom", "bottom": "top"}}
_MIRROR_APEX = {"x": {"left": "right", "right": "left"}, "y": {"up": "down", "down": "up"}}


def reflect(f: Framed, axis: str) -> Framed:
    """The framed picture mirrored left-right (``axis="x"``) or top-bottom (``"y"``);
    texts stay readable (only their positions move)."""
    k = 0 if axis == "x" else 1
    size = f.pic.width if axis == "x" else f.pic.height

    def m(p):
        q = list(p)
        q[k] = size - q[k]
        return tuple(q)

    shapes = []
    for s in f.pic.shapes:
        x, y = m((s.x, s.y))
        shapes.append(Shape(s.kind, x, y, s.w, s.h, s.name, s.sup, s.sub, _MIRROR_APEX[axis].get(s.apex, s.apex),
                            s.parent, s.depth,
                            # mirrored top-bottom, a bubble's contents sit high: its title goes below them
                            s.title_y if axis == "x" or s.title_y is None else -s.title_y + 10.0,
                            s.title_x))
    lines = [Line([m(p) for p in l.points], l.label) for l in f.pic.lines]
    flip_anchor = {"start": "end", "end": "start"} if axis == "x" else {}
    texts = [Text(*m((t.x, t.y)), t.text, flip_anchor.get(t.anchor, t.anchor), t.role) for t in f.pic.texts]
    ports = {label: [(*m((x, y)), _MIRROR_SIDE[axis].get(side, side)) for x, y, side in ends]
             for label, ends in f.ports.items()}
    x0, y0, x1, y1 = f.rect
    rect = (size - x1, y0, size - x0, y1) if axis == "x" else (x0, size - y1, x1, size - y0)
    return Framed(Picture(f.pic.width, f.pic.height, shapes, lines, texts), rect, ports, f.single)


def _node_vertex(op, depth: int) -> _Vertex:
    if isinstance(op, TensorOp):
        return _tensor_vertex(op)
    if isinstance(op, CopyTensor):
        return _Vertex("node", 10.0, 10.0, Shape("dot", 0, 0, 10.0, 10.0))
    if isinstance(op, ShiftOp):
        return _small_box("shift", str(op.offset))
    if isinstance(op, IndexOp):
        return _small_box("e", str(op.value))
    if isinstance(op, ReshapeOp):
        return _small_box("reshape")
    if isinstance(op, BoxOp) and op.name:  # a folded let: drawn as the tensor it names
        w = max(36.0, text_width(op.name) + 18)
        if len(op.ports) == 1:
            return _Vertex("node", max(30.0, w - 6), max(30.0, w - 6),
                           Shape("vector", 0, 0, max(30.0, w - 6), max(30.0, w - 6), op.name))
        return _Vertex("node", w, 30.0, Shape("tensor", 0, 0, w, 30.0, op.name))
    return _nested_vertex(op, depth)


def _crosses(p, q, center, v: "_Vertex") -> bool:
    """Whether segment p-q passes through the box of vertex ``v`` centred at ``center``."""
    bx0, by0 = center[0] - v.w / 2 - 2, center[1] - v.h / 2 - 2
    bx1, by1 = center[0] + v.w / 2 + 2, center[1] + v.h / 2 + 2
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for d, lo, hi, start in ((dx, bx0, bx1, p[0]), (dy, by0, by1, p[1])):
        if abs(d) < 1e-12:
            if start < lo or start > hi:
                return False
            continue
        a, b = (lo - start) / d, (hi - start) / d
        if a > b:
            a, b = b, a
        t0, t1 = max(t0, a), min(t1, b)
        if t0 > t1:
            return False
    return True


# --------------------------------------------------------------------------- one term


class _TermLayout:
    """Lays out one diagram (one term of a sum) inside its frame."""

    def __init__(self, d: Diagram, depth: int) -> None:
        self.d = d
        self.depth = depth
        self.verts: list[_Vertex] = []
        self.conns: list[tuple[int, str | None, int, str | None, str]] = []
        self.node_vertex: dict[int, int] = {}
        self._fixed_end: dict[int, tuple[float, float]] = {}
        self._fixed_side: dict[int, str] = {}  # free legs that leave a bubble keep its side
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
                (self.node_vertex[ni], d.nodes[ni].op.ports[pi]) for ni, pi in d.incidence[e]]
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

    def _vertex(self, op, ni: int) -> _Vertex:
        v = _node_vertex(op, self.depth)
        v.node = ni
        loops = sum(1 for e in set(self.d.nodes[ni].edges)
                    if sum(1 for m, _ in self.d.incidence[e] if m == ni) == 2
                    and len(self.d.incidence[e]) == 2 and not self.d.edge_labels[e])
        if loops:  # room above the shape for its self-loops
            v.h += 24.0 * loops
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
        path of three or more tensors, each with exactly one free leg. None otherwise."""
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
        if any(len(free[k]) != 1 or len(nbrs[k]) > 2 for k in solid):
            return None
        ends = sorted((k for k in solid if len(nbrs[k]) == 1), key=lambda k: free[k][0])
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
            for u, _, v, _, _ in self.conns:
                for a, b in ((u, v), (v, u)):
                    if a in index and self.verts[a].kind == "terminal" and b in index:
                        x[index[a]] = (x[index[b], 0], self.verts[b].h / 2 + 40.0)
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
        # left-right: the first free label (alphabetically) on the left; else the first node
        if terms:
            first = min(terms, key=lambda i: self.verts[comp[i]].label)
            if x[first, 0] > x[:, 0].mean() + 1e-6:
                x[:, 0] = -x[:, 0]
        elif len(comp) > 1 and x[0, 0] > x[:, 0].mean() + 1e-6:
            x[:, 0] = -x[:, 0]
        # up-down: free legs hang downwards, as the paper's matrix product states do
        if terms and others and x[terms, 1].mean() < x[others, 1].mean() - 1e-6:
            x[:, 1] = -x[:, 1]
        sizes = np.array([[self.verts[k].w, self.verts[k].h] for k in comp])
        movable = np.array([self.verts[k].kind != "terminal" for k in comp])
        return separate(x, sizes, movable)

    def layout(self) -> Framed:
        comps = self._components()
        pos = np.zeros((len(self.verts), 2))
        cursor = 0.0
        for comp in comps:
            x = self._place_component(comp)
            solid = [i for i, k in enumerate(comp) if self.verts[k].kind != "terminal"]
            if solid:
                lo = min(x[i, 0] - self.verts[comp[i]].w / 2 for i in solid)
                hi = max(x[i, 0] + self.verts[comp[i]].w / 2 for i in solid)
                ymid = (min(x[i, 1] - self.verts[comp[i]].h / 2 for i in solid)
                        + max(x[i, 1] + self.verts[comp[i]].h / 2 for i in solid)) / 2
            else:  # an identity line between two free legs
                lo, hi, ymid = x[:, 0].mean() - 10, x[:, 0].mean() + 10, 0.0
            for i, k in enumerate(comp):
                pos[k] = (x[i, 0] - lo + cursor, x[i, 1] - ymid)
            cursor += hi - lo + 40.0
        self._orient_nested(pos)
        return self._frame(pos)

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
                return sum(float(np.hypot(*(pos[k] + np.array(vert.port_at[p]) - q))) for p, q in ends)

            best, best_cost = (v.inner, dict(v.port_at), dict(v.port_side)), cost(v) - 1e-6
            # a row of terms read right to left would change its meaning: sums only flip top-bottom
            ordered = any(t.role == "coeff" for t in v.inner.pic.texts)
            for axes in ((("y",),) if ordered else (("x",), ("y",), ("x", "y"))):
                f = v.inner
                for axis in axes:
                    f = reflect(f, axis)
                trial = _Vertex(v.kind, v.w, v.h, v.shape, inner=f, inner_at=v.inner_at)
                _set_ports(trial)
                c = cost(trial)
                if c < best_cost - 1.0:
                    best, best_cost = (f, trial.port_at, trial.port_side), c
            v.inner, v.port_at, v.port_side = best

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
                    if fixed is not None:  # a bubble's leg: it leaves the bubble at a fixed point
                        self._fixed_end[me] = (pos[other, 0] + fixed[0], pos[other, 1] + fixed[1])
                        self._fixed_side[me] = verts[other].port_side[port]
        sides: dict[int, str] = {}
        for k, v in enumerate(verts):
            if v.kind != "terminal":
                continue
            a = attached.get(k)
            if a is None or verts[a].kind == "terminal":
                sides[k] = "top" if a is None or verts[a].label > v.label else "bottom"
                continue
            sides[k] = self._fixed_side.get(k) or self._side(pos, k, a, solid, (x0, y0, x1, y1))
        spot: dict[int, float] = {}
        for side in ("left", "right", "top", "bottom"):
            axis = 1 if side in ("left", "right") else 0
            ks = sorted((k for k in sides if sides[k] == side),
                        key=lambda k: (pos[attached.get(k, k), axis], verts[k].label))
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
            x0 += 0 if "left" in used else MARGIN - 8
            x1 -= 0 if "right" in used else MARGIN - 8
            y0 += 0 if "top" in used else MARGIN - 8
            y1 -= 0 if "bottom" in used else MARGIN - 8
        for k, side in sides.items():
            pos[k] = {"left": (x0, spot[k]), "right": (x1, spot[k]),
                      "top": (spot[k], y0), "bottom": (spot[k], y1)}[side]
        return self._draw(pos, (x0, y0, x1, y1), sides)

    def _side(self, pos: np.ndarray, k: int, a: int, solid: list[int], rect) -> str:
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
    def _draw(self, pos: np.ndarray, rect, sides: dict[int, str]) -> Framed:
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
        pos = pos + np.array([ox, oy])
        rect = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
        width = rect[2] + (rpad + 6 if show_labels else 0)
        height = rect[3] + (bpad + 4 if show_labels else 0)
        pic = Picture(width, height)
        shape_of: dict[int, int] = {}
        # triangles point at their small legs
        for k, v in enumerate(verts):
            if v.shape is not None and v.shape.kind == "triangle":
                v.shape.apex = self._apex(k, pos)
        for k, v in enumerate(verts):
            if v.shape is None:
                continue
            s = Shape(v.shape.kind, float(pos[k, 0]), float(pos[k, 1]), v.shape.w, v.shape.h, v.shape.name,
                      v.shape.sup, v.shape.sub, v.shape.apex, None, self.depth, v.shape.title_y,
                      v.shape.title_x)
            extra = v.h - v.shape.h  # room for self-loops: the shape sits at the bottom
            s.y += extra / 2
            shape_of[k] = len(pic.shapes)
            pic.shapes.append(s)
            if v.inner is not None:
                self._place_inner(pic, shape_of[k], v)
        ports: dict[str, list[Port]] = {}
        for k, side in sides.items():
            ports.setdefault(verts[k].label, []).append((float(pos[k, 0]), float(pos[k, 1]), side))
            if show_labels:
                px, py = pos[k]
                t = {"left": (px - 4, py + 4, "end"), "right": (px + 4, py + 4, "start"),
                     "top": (px, py - 5, "middle"), "bottom": (px, py + 14, "middle")}[side]
                pic.texts.append(Text(t[0], t[1], verts[k].label, t[2], "free"))
        self._lines(pic, pos, shape_of)
        return Framed(pic, rect, ports, True)

    def _apex(self, k: int, pos: np.ndarray) -> str:
        v = self.verts[k]
        small, big = [], []
        for u, pu, w, pw, _ in self.conns:
            for me, port, other in ((u, pu, w), (w, pw, u)):
                if me == k and other != k:
                    (small if port in v.apex_ports else big).append(pos[other] - pos[k])
        if small:
            dx, dy = np.mean(small, axis=0)
        elif big:
            dx, dy = -np.mean(big, axis=0)
        else:
            dx, dy = 1.0, 0.0
        if abs(dx) >= abs(dy):
            return "right" if dx >= 0 else "left"
        return "down" if dy > 0 else "up"

    def _place_inner(self, pic: Picture, parent: int, v: "_Vertex") -> None:
        s, inner = pic.shapes[parent], v.inner
        assert inner is not None
        dx, dy = s.x + v.inner_at[0], s.y + v.inner_at[1]
        pic.add(inner.pic, dx, dy, parent)
        s_ports: dict[str, tuple[float, float]] = {}
        for label, ends in inner.ports.items():
            at = (s.x + v.port_at[label][0], s.y + v.port_at[label][1])
            s_ports[label] = at
            if inner.single:
                for px, py, _ in ends:
                    pic.lines.append(Line([(px + dx, py + dy), at]))
            else:  # a sum inside: its terms name their legs; the container's leg starts here
                for px, py, sd in ends:
                    t = {"left": (px + dx + 3, py + dy - 3, "start"), "right": (px + dx - 3, py + dy - 3, "end"),
                         "top": (px + dx + 3, py + dy + 11, "start"),
                         "bottom": (px + dx + 3, py + dy - 3, "start")}[sd]
                    pic.texts.append(Text(t[0], t[1], label, t[2], "leg"))
        s._ports = s_ports  # type: ignore[attr-defined]

    def _anchor(self, pic: Picture, shape_of: dict[int, int], pos: np.ndarray, k: int,
                port: str | None, toward: np.ndarray, offset: np.ndarray) -> tuple[float, float]:
        v = self.verts[k]
        if v.kind == "terminal":
            return float(pos[k, 0]), float(pos[k, 1])
        s = pic.shapes[shape_of[k]]
        fixed = getattr(s, "_ports", {})
        if port is not None and port in fixed:
            return fixed[port]
        d = toward - np.array([s.x, s.y]) + offset
        x, y = ray_exit(s, float(d[0]), float(d[1]))
        return x + float(offset[0]) * 0.6, y + float(offset[1]) * 0.6

    def _lines(self, pic: Picture, pos: np.ndarray, shape_of: dict[int, int]) -> None:
        groups: dict[tuple[int, int], list[int]] = {}
        for c, (u, _, v, _, _) in enumerate(self.conns):
            groups.setdefault((min(u, v), max(u, v)), []).append(c)
        loops_drawn: dict[int, int] = {}
        for (a, b), members in groups.items():
            for rank, c in enumerate(members):
                u, pu, v, pv, e = self.conns[c]
                label = base_name(e) if not self.d.edge_labels[e] else ""
                if u == v:  # a trace of two of the node's own legs: a small loop above it
                    s = pic.shapes[shape_of[u]]
                    n = loops_drawn.get(u, 0)
                    loops_drawn[u] = n + 1
                    r = 9.0
                    cy = s.y - s.h / 2 - r - 24.0 * n + 2
                    pic.shapes.append(Shape("selfloop", s.x, cy, 2 * r, 2 * r, label, parent=s.parent,
                                            depth=self.depth))
                    continue
                pu_xy, pv_xy = np.array(pos[u], float), np.array(pos[v], float)
                if u in shape_of:
                    pu_xy = np.array([pic.shapes[shape_of[u]].x, pic.shapes[shape_of[u]].y])
                if v in shape_of:
                    pv_xy = np.array([pic.shapes[shape_of[v]].x, pic.shapes[shape_of[v]].y])
                d = pv_xy - pu_xy
                norm = float(np.hypot(*d)) or 1.0
                perp = np.array([-d[1], d[0]]) / norm
                off = perp * (rank - (len(members) - 1) / 2) * 10.0
                p = self._anchor(pic, shape_of, pos, u, pu, pv_xy, off)
                q = self._anchor(pic, shape_of, pos, v, pv, pu_xy, off)
                pic.lines.append(Line([p, q], label))
                if label:
                    # parallel legs: each label on its own outer side
                    side = -1.0 if rank - (len(members) - 1) / 2 < 0 else 1.0
                    mx = (p[0] + q[0]) / 2 + perp[0] * 8 * side
                    my = (p[1] + q[1]) / 2 + perp[1] * 8 * side + 3
                    pic.texts.append(Text(mx, my, label, "middle", "leg"))


# --------------------------------------------------------------------------- sums


def _coeff_text(c: sympy.Expr, first: bool) -> str:
    c = sympy.sympify(c)
    neg = c.could_extract_minus_sign()
    mag = -c if neg else c
    text = "" if mag == 1 else scalar_text(mag)
    if text and isinstance(mag, sympy.Add):
        text = f"({text})"
    sign = ("−" if neg else "") if first else ("− " if neg else "+ ")
    return (sign + text).strip()


def _EMPTY() -> Framed:
    return Framed(Picture(0.0, 30.0), (0.0, 0.0, 0.0, 30.0), {}, True)


def framed_expr(expr: Expr, depth: int = 0) -> Framed:
    """The expression as a framed picture: one framed term, or a row of terms with their
    signs and coefficients (the empty sum is the text 0)."""
    terms = expr.terms
    if not terms:
        pic = Picture(30.0, 30.0, texts=[Text(15.0, 20.0, "0", "middle", "coeff")])
        return Framed(pic, (0.0, 0.0, 30.0, 30.0), {}, False)
    parts = []
    for k, t in enumerate(terms):
        text = _coeff_text(t.coeff, k == 0)
        if not t.diagram.nodes and not t.diagram.edge_dims:  # a bare number
            parts.append(((text + " 1").strip() if text in ("", "−", "+", "− ", "+ ") else text, _EMPTY()))
        else:
            parts.append((text, _TermLayout(t.diagram, depth).layout()))
    if len(parts) == 1 and not parts[0][0]:
        return parts[0][1]
    height = max(f.pic.height for _, f in parts)
    pic = Picture(0.0, height)
    ports: dict[str, list[Port]] = {}
    x = 0.0
    for text, f in parts:
        if text:
            w = text_width(text) + 8
            pic.texts.append(Text(x + w / 2, height / 2 + 5, text, "middle", "coeff"))
            x += w + 4
        dy = (height - f.pic.height) / 2
        if not f.pic.shapes and not f.pic.lines and not f.ports:  # a bare scalar
            x -= 4
            continue
        pic.add(f.pic, x, dy)
        for label, ends in f.ports.items():
            ports.setdefault(label, []).extend((px + x, py + dy, s) for px, py, s in ends)
        x += f.pic.width + 8
    pic.width = max(x, 30.0)
    return Framed(pic, (0.0, 0.0, pic.width, height), ports, len(parts) == 1)


def picture(expr: Expr, padding: float = 10.0) -> Picture:
    """The whole drawing of ``expr``, with ``padding`` around it."""
    f = framed_expr(expr)
    out = Picture(f.pic.width + 2 * padding, f.pic.height + 2 * padding)
    out.add(f.pic, padding, padding)
    return out
