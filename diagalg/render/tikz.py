"""A :class:`~diagalg.render.scene.Picture` as a standalone LaTeX document with one TikZ picture.

The document needs only ``standalone`` and ``tikz`` (Debian: texlive-latex-base,
texlive-latex-extra for standalone, texlive-pictures for tikz). Coordinates are
the picture's pixels scaled to points, y flipped; labels are in math mode
where they are names (``A^{*}``, ``V^{-1}``) and escaped everywhere. Wires have the
SVG's stroke widths (:mod:`.thickness`), in points.
"""

from __future__ import annotations

from .shapes import CONTAINERS, Picture, Shape, outline
from .thickness import stroke_width

SCALE = 0.75  # 1px = 0.75pt

COLORS = {
    "tensor": "diagtensor",
    "vector": "diagtensor",
    "triangle": "diagiso",
    "square": "diagiso",
    "bubble": "diagbubble",
}

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
}


def tex_escape(text: str) -> str:
    """Text safe inside a LaTeX text argument."""
    for u, a in (("−", "-"), ("∂", "d")):
        text = text.replace(u, a)
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _math_name(s: Shape) -> str:
    sup = s.sup.replace("⁻¹", "-1")
    name = (
        r"\partial/\partial\mathrm{" + tex_escape(s.name[2:]) + "}"
        if s.name.startswith("∂/∂")
        else r"\mathrm{" + tex_escape(s.name) + "}"
    )
    out = name
    if sup:
        out += "^{" + sup + "}"
    if s.sub:
        out += r"_{\mathrm{" + tex_escape(s.sub) + "}}"
    return f"${out}$"


def _p(x: float, y: float) -> str:
    return f"({x * SCALE:.2f},{-y * SCALE:.2f})"


def _shape(s: Shape) -> list[str]:
    fill = COLORS.get(s.kind)
    style = f"draw, fill={fill}" if fill else "draw"
    x0, y0, x1, y1 = s.box
    out: list[str] = []
    if s.kind in ("tensor", "square"):
        corner = ", rounded corners=2pt" if s.kind == "tensor" else ""
        out.append(rf"\path[{style}{corner}] {_p(x0, y0)} rectangle {_p(x1, y1)};")
    elif s.kind == "box":
        out.append(rf"\path[draw=black!60, dashed, rounded corners=6pt] {_p(x0, y0)} rectangle {_p(x1, y1)};")
    elif s.kind == "triangle":
        pts = " -- ".join(_p(x, y) for x, y in outline(s))
        out.append(rf"\path[{style}] {pts} -- cycle;")
    elif s.kind == "dot":
        out.append(rf"\fill {_p(s.x, s.y)} circle[radius={s.w / 2 * SCALE:.2f}pt];")
    elif s.kind in ("vector", "bubble", "loop", "selfloop"):
        draw = "draw=diagbubbleline, fill=diagbubble" if s.kind == "bubble" else style
        out.append(
            rf"\path[{draw}] {_p(s.x, s.y)} ellipse[x radius={s.w / 2 * SCALE:.2f}pt, "
            rf"y radius={s.h / 2 * SCALE:.2f}pt];"
        )
    flag = s.flag_points()
    if flag:  # the leg-order flag (see diagalg.render.ports)
        out.append(r"\fill[black!85] " + " -- ".join(_p(x, y) for x, y in flag) + " -- cycle;")
    if s.name and s.kind != "selfloop":
        if s.kind == "bubble":
            at = _p(s.x + s.title_x, s.y + (s.title_y if s.title_y is not None else -s.h * 0.3) - 4)
        elif s.kind == "triangle":
            dx = {"left": s.w * 0.12, "right": -s.w * 0.12}.get(s.apex, 0.0)
            dy = {"down": -s.h * 0.12, "up": s.h * 0.15}.get(s.apex, 0.0)
            at = _p(s.x + dx, s.y + dy)
        else:
            at = _p(s.x, s.y)
        size = r"\scriptsize" if s.kind in ("loop",) else r"\small"
        out.append(rf"\node[inner sep=0pt, font={size}] at {at} {{{_math_name(s)}}};")
    return out


def tikz_picture(pic: Picture) -> str:
    """The ``tikzpicture`` environment alone (to paste into a document that loads tikz
    and defines the colours diagtensor, diagiso, diagbubble, diagbubbleline)."""
    lines = [r"\begin{tikzpicture}[x=1pt, y=1pt, line width=0.8pt]"]
    order = sorted(range(len(pic.shapes)), key=lambda i: (pic.shapes[i].kind not in CONTAINERS, pic.shapes[i].depth, i))
    for i in order:
        if pic.shapes[i].kind in CONTAINERS:
            lines.append(f"% shape {i}: {pic.shapes[i].kind} {pic.shapes[i].name}")
            lines.extend(_shape(pic.shapes[i]))
    for line in pic.lines:
        width = stroke_width(line.size) * SCALE  # the SVG's width, in points
        lines.append(
            rf"\draw[line width={width:.2f}pt, line join=round] " + " -- ".join(_p(x, y) for x, y in line.points) + ";"
        )
    for i in order:
        if pic.shapes[i].kind not in CONTAINERS:
            lines.append(f"% shape {i}: {pic.shapes[i].kind} {pic.shapes[i].name}")
            lines.extend(_shape(pic.shapes[i]))
    for t in pic.texts:
        anchor = {"start": "west", "end": "east", "middle": "base"}[t.anchor]
        font = {"leg": r"\tiny\color{black!55}", "coeff": r"\normalsize", "free": r"\small"}.get(t.role, r"\small")
        text = f"${tex_escape(t.text)}$" if t.role == "free" else tex_escape(t.text)
        y = t.y - 4 if t.anchor != "middle" else t.y
        lines.append(rf"\node[anchor={anchor}, inner sep=0pt, font={font}] at {_p(t.x, y)} {{{text}}};")
    # the bounding box: the picture's full size, so margins survive `standalone`
    lines.append(rf"\path {_p(0, 0)} rectangle {_p(pic.width, pic.height)};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def tikz_document(pic: Picture) -> str:
    """A standalone LaTeX document that compiles to exactly the picture."""
    return "\n".join(
        [
            r"\documentclass[tikz, border=2pt]{standalone}",
            r"\usepackage[T1]{fontenc}",
            r"\definecolor{diagtensor}{HTML}{DBE9F6}",
            r"\definecolor{diagiso}{HTML}{D5F0DC}",
            r"\definecolor{diagbubble}{HTML}{FFF7DC}",
            r"\definecolor{diagbubbleline}{HTML}{B08A1E}",
            r"\begin{document}",
            tikz_picture(pic),
            r"\end{document}",
            "",
        ]
    )
