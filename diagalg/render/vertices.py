"""What each node of a diagram is drawn as, and where its legs leave it.

A tensor is a shape with its ports fixed by its declared leg order (see
:mod:`.ports`): a rectangle, an isometry's triangle (tip towards its small legs),
a unitary's square, a vector's circle (one leg: it may leave anywhere). A folded
``let`` is drawn as the tensor it names, with its ports in the let's label order.
Copy tensors are dots. A bubble or a dashed box encloses a nested picture, and its
legs leave where the contents' legs end (:func:`set_container_ports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..bubbles import get_bubble
from ..model import BoxOp, BubbleOp, CopyTensor, DerivOp, Expr, IndexOp, Op, ReshapeOp, ShiftOp, TensorOp
from ..printing import scalar_text
from .ports import IDENTITY, MIRROR, Orient, PlacedPort, PortPlan, apex_of, box_plan, compose, triangle_plan
from .shapes import Framed, Picture, Shape, Text, text_width, to_ellipse, to_rect
from .wires import Point


@dataclass
class Vertex:
    """One vertex of a term's layout: a node's shape, a hyperedge's dot, a free leg's end
    (``terminal``) or a closed loop. ``plan``: the shape's ports in its own frame, turned
    by ``orient`` once the layout has chosen it; ``port_at`` then holds every fixed leg
    end (relative to the vertex centre) with its outward direction and side."""

    kind: str  # node, junction, terminal, loop
    w: float
    h: float
    shape: Shape | None = None
    inner: Framed | None = None
    node: int | None = None
    label: str = ""
    plan: PortPlan | None = None
    orient: Orient = IDENTITY
    inner_at: tuple[float, float] = (0.0, 0.0)  # top-left of the nested picture, relative to the centre
    port_at: dict[str, PlacedPort] = field(default_factory=dict)  # fixed leg ends, relative
    shape_dy: float = 0.0  # the shape's centre below the vertex centre (room for self-loops above)


def symmetric_ports(op: TensorOp) -> bool:
    """Whether all of the occurrence's legs may be permuted freely (then its transposes
    are equal, and its shape needs no flag)."""
    classes, _ = op.port_classes()
    return len(classes) >= 2 and len(set(classes)) == 1 and classes[0].startswith("s:")


def _sized(v: Vertex) -> Vertex:
    """The shape made big enough for its ports (several on one side stay apart)."""
    assert v.shape is not None and v.plan is not None
    need = v.plan.min_size()
    if need > min(v.w, v.h):
        ratio = v.h / v.w if v.plan.triangle else 1.0
        w = max(v.w, need / ratio if v.plan.triangle else need)
        h = max(v.h, w * ratio if v.plan.triangle else need)
        v.w, v.h = w, h
        v.shape = replace(v.shape, w=w, h=h)
    return v


def _boxed(
    kind: str, w: float, h: float, name: str, ports: tuple[str, ...], marked: bool, sup: str = "", sub: str = ""
) -> Vertex:
    v = Vertex("node", w, h, Shape(kind, 0, 0, w, h, name, sup, sub))
    if len(ports) >= 2:
        v.plan = box_plan(ports, marked)
        v = _sized(v)
    return v


def tensor_vertex(op: TensorOp) -> Vertex:
    """A declared tensor's shape, with its ports in declared order (for ``inv``: the input
    legs, then the output legs, as the language orders them)."""
    decl = op.decl
    sup = ("*" if op.conj else "") + ("⁻¹" if op.inv % 2 else "")
    label_w = text_width(decl.name) + (9 if sup else 0)
    marked = not symmetric_ports(op)
    if decl.structure == "isometry" and op.inv % 2 == 0:
        size = max(38.0, label_w + 22)
        v = Vertex("node", size, size * 0.9, Shape("triangle", 0, 0, size, size * 0.9, decl.name, sup, apex="right"))
        v.plan = triangle_plan(op.ports, decl.inputs)
        return _sized(v)
    if decl.structure == "unitary":
        size = max(32.0, label_w + 14)
        return _boxed("square", size, size, decl.name, op.ports, marked, sup)
    if len(op.ports) == 1:
        size = max(30.0, label_w + 12)
        return Vertex("node", size, size, Shape("vector", 0, 0, size, size, decl.name, sup))
    return _boxed("tensor", max(36.0, label_w + 18), 30.0, decl.name, op.ports, marked, sup)


def _small_box(name: str, sub: str, ports: tuple[str, ...]) -> Vertex:
    w = max(30.0, text_width(name) + text_width(sub, True) + 14)
    return _boxed("tensor", w, 24.0, name, ports, True, sub=sub)


def nested_vertex(op: BoxOp | BubbleOp | DerivOp, inner: Framed) -> Vertex:
    """A bubble (a nonlinear function, a derivative) or a dashed box (a parenthesised sum)
    around the already drawn ``inner`` picture."""
    pw, ph = inner.pic.width, inner.pic.height
    if isinstance(op, BoxOp):
        title, sub, kind = "", "", "box"
        w, h = pw + 16, ph + 16
    else:
        if isinstance(op, DerivOp):
            title, sub = f"∂/∂{op.wrt.text()}", ""
        elif op.kind == "func":
            title, sub = (op.func.name + "′" * int(op.param or 0)) if op.func else "func", ""  # f′: f's derivative
        elif op.kind == "pow":
            title, sub = get_bubble("pow").drawing_label(), scalar_text(op.param) if op.param is not None else ""
        else:
            title, sub = get_bubble(op.kind).drawing_label(), ",".join(op.axes)
        band = 18.0
        need_w = max(pw, text_width(title) + text_width(sub, True) + 10)
        w, h = need_w * 1.22 + 16, (ph + 2 * band) * 1.18 + 4
        kind = "bubble"
    shape = Shape(kind, 0, 0, w, h, title, "", sub)
    v = Vertex("node", w, h, shape, inner=inner)
    shift = 11.0 if kind == "bubble" else 0.0
    v.inner_at = (-pw / 2, -ph / 2 + shift)
    if kind == "bubble":  # the title sits just above the contents
        shape.title_y = -ph / 2 + shift - 3.0
        # left of centre, so a leg leaving through the top does not cross it
        tw = text_width(title) + text_width(sub, True)
        shape.title_x = min(0.0, -pw / 2 + tw / 2 + 10.0) if pw > 2 * tw + 40 else 0.0
    set_container_ports(v)
    return v


_NORMAL = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "top": (0.0, -1.0), "bottom": (0.0, 1.0)}


def set_container_ports(v: Vertex) -> None:
    """Where each leg of a nested picture leaves its container (relative to its centre):
    straight out of the side of the contents it ends on."""
    assert v.inner is not None and v.shape is not None
    v.port_at = {}
    for label, ends in v.inner.ports.items():
        side = ends[0][2]
        mx = float(np.mean([p[0] for p in ends])) + v.inner_at[0]
        my = float(np.mean([p[1] for p in ends])) + v.inner_at[1]
        x, y = to_ellipse(v.shape, mx, my, side) if v.shape.kind == "bubble" else to_rect(v.shape, mx, my, side)
        v.port_at[label] = PlacedPort(x, y, *_NORMAL[side], side)


_MIRROR_SIDE = {"x": {"left": "right", "right": "left"}, "y": {"top": "bottom", "bottom": "top"}}


def reflect(f: Framed, axis: str) -> Framed:
    """The framed picture mirrored left-right (``axis="x"``) or top-bottom (``"y"``);
    texts stay readable (only their positions move). Every shape is turned over with it,
    so its ports and flag still tell its legs apart."""
    k = 0 if axis == "x" else 1
    size = f.pic.width if axis == "x" else f.pic.height

    def m(p: Point) -> Point:
        q = list(p)
        q[k] = size - q[k]
        return q[0], q[1]

    shapes = []
    for s in f.pic.shapes:
        x, y = m((s.x, s.y))
        orient = compose(MIRROR[axis], s.orient)
        # mirrored top-bottom, a bubble's contents sit high: its title goes below them
        title_y = s.title_y if axis == "x" or s.title_y is None else -s.title_y + 10.0
        shapes.append(
            replace(
                s, x=x, y=y, orient=orient, title_y=title_y, apex=apex_of(orient) if s.kind == "triangle" else s.apex
            )
        )
    lines = [replace(l, points=[m(p) for p in l.points]) for l in f.pic.lines]
    flip_anchor = {"start": "end", "end": "start"} if axis == "x" else {}
    # a text is placed by its baseline: mirrored top-bottom, its box (not its baseline) is
    # mirrored, or a label just above its wire would land on the wire
    lift = {"free": 13.0, "leg": 10.0, "coeff": 15.0}
    texts = [
        Text(*m((t.x, t.y)), t.text, flip_anchor.get(t.anchor, t.anchor), t.role)
        if axis == "x"
        else Text(t.x, size - t.y + 0.55 * lift.get(t.role, 12.0), t.text, t.anchor, t.role)
        for t in f.pic.texts
    ]
    ports = {
        label: [(*m((x, y)), _MIRROR_SIDE[axis].get(side, side)) for x, y, side in ends]
        for label, ends in f.ports.items()
    }
    x0, y0, x1, y1 = f.rect
    rect = (size - x1, y0, size - x0, y1) if axis == "x" else (x0, size - y1, x1, size - y0)
    return Framed(Picture(f.pic.width, f.pic.height, shapes, lines, texts), rect, ports, f.single)


def node_vertex(op: Op, nested: Callable[[Expr], Framed]) -> Vertex:
    """The vertex of one node; ``nested(expr)`` draws the contents of a bubble or box."""
    if isinstance(op, TensorOp):
        return tensor_vertex(op)
    if isinstance(op, CopyTensor):
        return Vertex("node", 10.0, 10.0, Shape("dot", 0, 0, 10.0, 10.0))
    if isinstance(op, ShiftOp):
        return _small_box("shift", str(op.offset), op.ports)
    if isinstance(op, IndexOp):
        return _small_box("e", str(op.value), op.ports)
    if isinstance(op, ReshapeOp):
        return _small_box("reshape", "", op.ports)
    if isinstance(op, BoxOp) and op.name:  # a folded let: drawn as the tensor it names
        w = max(36.0, text_width(op.name) + 18)
        if len(op.ports) == 1:
            size = max(30.0, w - 6)
            return Vertex("node", size, size, Shape("vector", 0, 0, size, size, op.name))
        return _boxed("tensor", w, 30.0, op.name, op.ports, True)
    return nested_vertex(op, nested(op.inner))
