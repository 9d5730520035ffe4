"""Several drawings as one: the terms of an expansion, the figures of one statement.

``diagalg draw FILE --line N`` writes what a statement shows as one file: an HTML
page of figures, or one SVG document with the drawings stacked top to bottom, each
under its caption, so an expansion's terms can go into a paper as one picture. The
drawings are handed in as SVG documents; nothing here lays out a diagram.
"""

from __future__ import annotations

import re
from typing import Sequence
from xml.sax.saxutils import escape

from .svg import FONT, _f

_SIZE = re.compile(r"<svg\b[^>]*?\bwidth=\"([\d.]+)\"[^>]*?\bheight=\"([\d.]+)\"")

#: the height of one caption line, in pixels
CAPTION_LINE = 15.0


def svg_size(svg: str) -> tuple[float, float]:
    """The width and height an SVG document declares on its root (400 × 300 if none)."""
    m = _SIZE.search(svg)
    return (float(m.group(1)), float(m.group(2))) if m else (400.0, 300.0)


def stacked_svg(items: Sequence[tuple[str, str]], title: str = "", note: str = "") -> str:
    """One SVG document of (caption, SVG document) items, top to bottom: each caption (its
    lines) above its drawing, in a group of class ``stacked`` with ``data-index``; ``note``
    (e.g. how many terms were left out) at the end."""
    out: list[str] = []
    y, width = 10.0, 200.0
    for k, (caption, svg) in enumerate(items):
        w, h = svg_size(svg)
        lines = caption.split("\n")
        texts = "".join(
            f'<text class="caption" x="0" y="{_f(CAPTION_LINE * (i + 1) - 3)}" font-size="12" '
            f'{FONT} fill="#111">{escape(line)}</text>'
            for i, line in enumerate(lines)
        )
        cap_h = CAPTION_LINE * len(lines) + 4
        inner = svg.strip().replace("<svg ", f'<svg y="{_f(cap_h)}" ', 1)
        out.append(f'<g class="stacked" data-index="{k}" transform="translate(10,{_f(y)})">{texts}{inner}</g>')
        y += cap_h + h + 16
        width = max(width, w + 20, 7.2 * max(len(line) for line in lines) + 20)
    if note:
        out.append(
            f'<text class="note" x="10" y="{_f(y + 12)}" font-size="12" {FONT} fill="#555">{escape(note)}</text>'
        )
        y += 24
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(y)}" '
        f'viewBox="0 0 {_f(width)} {_f(y)}" class="diagalg-stack">'
    )
    body = [head] + ([f"<title>{escape(title)}</title>"] if title else [])
    body += ['<rect width="100%" height="100%" fill="white"/>'] + out + ["</svg>"]
    return "\n".join(body) + "\n"
