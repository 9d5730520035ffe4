"""A :class:`~diagalg.render.scene.Picture` as a self-contained SVG document.

No external fonts, stylesheets or images: the styles are inline attributes, so
the file displays the same in a browser, a notebook or an image converter.
Every shape is a group with ``class`` (its kind), ``data-name`` and
``data-index`` attributes, so tests, reports and style sheets can find it; a
shape's leg-order flag is a ``polygon`` of class ``flag`` inside its group. A wire is
a ``polyline`` of class ``leg`` with ``data-dim``/``data-size``, its stroke as wide as
its dimension is large (:mod:`.thickness`).
docs/drawing.md lists the classes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from .shapes import CONTAINERS, Picture, Shape, outline
from .thickness import dim_text, stroke_width

FILL = {
    "tensor": "#dbe9f6",
    "vector": "#dbe9f6",
    "triangle": "#d5f0dc",
    "square": "#d5f0dc",
    "bubble": "#fff7dc",
    "box": "none",
    "dot": "#111111",
    "loop": "none",
    "selfloop": "none",
}
STROKE = "#222222"
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _label(s: Shape, x: float, y: float, size: int = 13) -> str:
    if not s.name:
        return ""
    parts = [escape(s.name)]
    if s.sup:
        parts.append(f'<tspan dy="-5" font-size="{size - 3}">{escape(s.sup)}</tspan>')
    if s.sub:
        dy = 9 if s.sup else 4
        parts.append(f'<tspan dy="{dy}" font-size="{size - 3}">{escape(s.sub)}</tspan>')
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="middle" font-size="{size}" {FONT} '
        f'fill="#111">{"".join(parts)}</text>'
    )


def _shape(s: Shape, i: int) -> str:
    attrs = f'class="{s.kind}" data-name="{escape(s.name)}" data-index="{i}"'
    fill, x0, y0 = FILL.get(s.kind, "none"), s.x - s.w / 2, s.y - s.h / 2
    body = ""
    if s.kind in ("tensor",):
        body = (
            f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(s.w)}" height="{_f(s.h)}" rx="4" '
            f'fill="{fill}" stroke="{STROKE}" stroke-width="1.3"/>'
        )
    elif s.kind == "square":
        body = (
            f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(s.w)}" height="{_f(s.h)}" '
            f'fill="{fill}" stroke="{STROKE}" stroke-width="1.3"/>'
        )
    elif s.kind == "box":
        body = (
            f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(s.w)}" height="{_f(s.h)}" rx="10" '
            f'fill="none" stroke="#666" stroke-width="1.2" stroke-dasharray="5 3"/>'
        )
    elif s.kind == "triangle":
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in outline(s))
        body = f'<polygon points="{pts}" fill="{fill}" stroke="{STROKE}" stroke-width="1.3"/>'
    elif s.kind in ("vector", "dot", "bubble", "loop", "selfloop"):
        stroke = "#b08a1e" if s.kind == "bubble" else STROKE
        body = (
            f'<ellipse cx="{_f(s.x)}" cy="{_f(s.y)}" rx="{_f(s.w / 2)}" ry="{_f(s.h / 2)}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.3"/>'
        )
    if s.kind == "bubble":
        text = _label(s, s.x + s.title_x, s.y + (s.title_y if s.title_y is not None else -s.h * 0.3), 12)
    elif s.kind == "loop":
        text = _label(s, s.x, s.y + 4, 10)
    elif s.kind == "selfloop":
        text = ""
    elif s.kind == "triangle":
        cx = {"left": s.x + s.w * 0.12, "right": s.x - s.w * 0.12}.get(s.apex, s.x)
        cy = {"down": s.y - s.h * 0.12 + 4, "up": s.y + s.h * 0.15 + 4}.get(s.apex, s.y + 4)
        text = _label(s, cx, cy)
    else:
        text = _label(s, s.x, s.y + 4.5)
    flag = s.flag_points()
    if flag:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in flag)
        body += f'<polygon class="flag" points="{pts}" fill="{STROKE}"/>'
    return f"<g {attrs}>{body}{text}</g>"


def svg_document(pic: Picture, title: str = "") -> str:
    """The picture as an SVG document (UTF-8 text, no XML declaration)."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(pic.width)}" height="{_f(pic.height)}" '
        f'viewBox="0 0 {_f(pic.width)} {_f(pic.height)}" class="diagalg-diagram">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append('<rect width="100%" height="100%" fill="white"/>')
    order = sorted(range(len(pic.shapes)), key=lambda i: (pic.shapes[i].kind not in CONTAINERS, pic.shapes[i].depth, i))
    containers = [i for i in order if pic.shapes[i].kind in CONTAINERS]
    leaves = [i for i in order if pic.shapes[i].kind not in CONTAINERS]
    for i in containers:
        out.append(_shape(pic.shapes[i], i))
    for line in pic.lines:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in line.points)
        known = "" if line.size is None else str(line.size)
        out.append(
            f'<polyline class="leg" data-name="{escape(line.label)}" '
            f'data-dim="{escape(dim_text(line))}" data-size="{known}" points="{pts}" '
            f'fill="none" stroke="{STROKE}" stroke-width="{_f(stroke_width(line.size))}" '
            f'stroke-linejoin="round"/>'
        )
    for i in leaves:
        out.append(_shape(pic.shapes[i], i))
    for t in pic.texts:
        size, color = {"free": (13, "#111"), "leg": (10, "#777"), "coeff": (15, "#111")}.get(t.role, (12, "#111"))
        style = ' font-style="italic"' if t.role == "free" else ""
        out.append(
            f'<text class="{t.role}-label" x="{_f(t.x)}" y="{_f(t.y)}" text-anchor="{t.anchor}" '
            f'font-size="{size}" {FONT} fill="{color}"{style}>{escape(t.text)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
