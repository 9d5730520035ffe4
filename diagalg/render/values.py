"""Values beside diagrams: heatmaps of matrices, bar plots of vectors, as plain SVG.

The renderer is handed the arrays (:class:`~diagalg.numeric.values.ShownValues`,
or any ``(name, legs, array, origin)`` records) and evaluates nothing. Each array
becomes one or more panels, labelled along its legs:

* no legs: the number itself;
* one leg: a bar per index, from a zero line, the leg's name and size below;
* two legs: a heatmap, the first leg down the rows and the second across the
  columns, each named with its size;
* three legs whose first has at most :data:`MAX_SLICES` indices (a weight
  ``WQ[h, d, dh]``, one matrix per head): one heatmap per index of the first leg,
  titled ``WQ[h=0, d, dh]``; any other array of three or more legs: a heatmap of its
  matricisation, the first leg against the others (column label ``d·dh``).

A panel shows at most :data:`MAX_CELLS` indices along an axis; a larger axis shows
its first ones and says how many it has (``first 48 of 768``), never a resampled
picture that could pass for the whole. Signed data uses a diverging scale (blue
below zero, white at zero, red above, symmetric about zero so that white always
means zero); data that is nowhere negative (attention patterns, singular values)
a sequential one from white. Complex data is shown as its magnitude and the title
says ``|·|``. Every cell and bar carries ``data-value`` (the number it shows, to
full precision) and its indices, so a test, or a reader's tool, can check the
picture against the array.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence
from xml.sax.saxutils import escape

import numpy as np

from .stack import svg_size
from .svg import FONT, _f

#: indices shown along one axis of a panel at most
MAX_CELLS = 48
#: a three-leg array is drawn as one heatmap per index of its first leg up to this many
MAX_SLICES = 8
#: the side of the square a heatmap aims to fill, in pixels
HEATMAP_SIDE = 220.0
#: the width of a bar panel's plotting area, in pixels
BAR_WIDTH = 260.0
BAR_HEIGHT = 110.0
GAP = 24.0

_NEG = (33, 102, 172)  # #2166ac
_POS = (178, 24, 43)  # #b2182b
_SEQ = (8, 48, 107)  # #08306b


class ShownLike(Protocol):
    """An array to show (:class:`~diagalg.numeric.values.ShownArray` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def legs(self) -> tuple[str, ...]: ...
    @property
    def array(self) -> np.ndarray: ...
    @property
    def origin(self) -> str: ...


@dataclass(frozen=True)
class Panel:
    """One drawn panel: its SVG group (drawn at the origin) and its size."""

    svg: str
    width: float
    height: float


def colour(v: float, top: float, signed: bool) -> str:
    """The fill for value ``v`` on a scale whose extreme is ``top`` (> 0): white at zero,
    towards red (positive) or blue (negative) on a signed scale, towards dark blue on a
    sequential one."""
    if v != v:  # nan (a 0/0 score): grey, never a colour of the scale
        return "#cccccc"
    t = 0.0 if not top > 0 else min(1.0, abs(v) / top)
    end = (_POS if v >= 0 else _NEG) if signed else _SEQ
    r, g, b = (round(255 + (c - 255) * t) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def panels(shown: Iterable[ShownLike]) -> list[Panel]:
    """The panels of every shown array, in order (see the module docstring)."""
    out: list[Panel] = []
    for item in shown:
        out.extend(array_panels(item.name, tuple(item.legs), np.asarray(item.array), item.origin))
    return out


def array_panels(
    name: str, legs: tuple[str, ...], array: np.ndarray, origin: str = "", cut: int | None = None
) -> list[Panel]:
    """The panels of one array labelled along ``legs`` (``cut``: for a bar plot, draw the
    truncation line after that many bars, as for the singular values a truncated SVD keeps)."""
    magnitude = np.iscomplexobj(array)
    array = np.asarray(np.abs(array) if magnitude else array, dtype=float)

    def title(legs_text: Sequence[str]) -> str:
        # a tensor or let name gets its legs written out; an expression's text has them already
        text = f"{name}[{', '.join(legs_text)}]" if legs_text and re.fullmatch(r"\w+", name) else name
        return f"|{text}|" if magnitude else text

    if array.ndim == 0:
        return [_scalar_panel(title(()), float(array), origin)]
    if array.ndim == 1:
        return [bar_panel(title(legs), legs[0], array, origin, cut)]
    if array.ndim == 2:
        return [heatmap_panel(title(legs), legs[0], legs[1], array, origin)]
    if array.ndim == 3 and array.shape[0] <= MAX_SLICES:
        return [
            heatmap_panel(title((f"{legs[0]}={k}",) + legs[1:]), legs[1], legs[2], array[k], origin)
            for k in range(array.shape[0])
        ]
    matrix = array.reshape(array.shape[0], -1)
    return [heatmap_panel(title(legs), legs[0], "·".join(legs[1:]), matrix, origin)]


def _title(text: str, x: float, y: float, size: int = 12, cls: str = "panel-title") -> str:
    return f'<text class="{cls}" x="{_f(x)}" y="{_f(y)}" font-size="{size}" {FONT} fill="#111">{escape(text)}</text>'


def _shown(n: int) -> tuple[int, str]:
    return (n, "") if n <= MAX_CELLS else (MAX_CELLS, f" (first {MAX_CELLS} of {n})")


def heatmap_panel(title: str, row_leg: str, col_leg: str, m: np.ndarray, origin: str = "") -> Panel:
    """A heatmap of matrix ``m``: rows along ``row_leg``, columns along ``col_leg``."""
    rows, row_note = _shown(m.shape[0])
    cols, col_note = _shown(m.shape[1])
    part = m[:rows, :cols]
    cell = max(4.0, min(22.0, HEATMAP_SIDE / max(rows, cols, 1)))
    signed = bool(np.any(m < 0))
    finite = np.abs(m[np.isfinite(m)])
    top = float(np.max(finite)) if finite.size else 0.0
    left, head = 46.0, 48.0
    out = [
        f'<g class="values-panel" data-kind="heatmap" data-name="{escape(title)}" '
        f'data-origin="{escape(origin)}" data-rows="{m.shape[0]}" data-cols="{m.shape[1]}" '
        f'data-scale="{"signed" if signed else "sequential"}">',
        _title(title, 0, 14),
        _title(f"{col_leg} ({m.shape[1]}){col_note} →", left, head - 18, 10, "axis-label"),
        f'<text class="axis-label" x="12" y="{_f(head)}" font-size="10" {FONT} fill="#111" '
        f'transform="rotate(90 12 {_f(head)})">{escape(f"{row_leg} ({m.shape[0]}){row_note} →")}</text>',
    ]
    step = 1 if cell >= 14 else max(1, int(np.ceil(14 / cell)))
    for j in range(0, cols, step):
        out.append(
            f'<text class="tick" x="{_f(left + (j + 0.5) * cell)}" y="{_f(head - 4)}" '
            f'text-anchor="middle" font-size="8" {FONT} fill="#555">{j}</text>'
        )
    for i in range(0, rows, step):
        out.append(
            f'<text class="tick" x="{_f(left - 4)}" y="{_f(head + (i + 0.5) * cell + 3)}" '
            f'text-anchor="end" font-size="8" {FONT} fill="#555">{i}</text>'
        )
    for i in range(rows):
        for j in range(cols):
            v = float(part[i, j])
            out.append(
                f'<rect class="cell" data-row="{i}" data-col="{j}" data-value="{v!r}" '
                f'x="{_f(left + j * cell)}" y="{_f(head + i * cell)}" width="{_f(cell)}" '
                f'height="{_f(cell)}" fill="{colour(v, top, signed)}"/>'
            )
    width = left + cols * cell
    bottom = head + rows * cell + 8
    out.append(_scale_bar(left, bottom, max(120.0, min(width - left, 160.0)), top, signed))
    out.append("</g>")
    return Panel("\n".join(out), max(width, left + 170.0, 8.0 * len(title)), bottom + 26)


def _scale_bar(x: float, y: float, w: float, top: float, signed: bool) -> str:
    steps = 11
    lo = -top if signed else 0.0
    parts = [f'<g class="scale" data-min="{lo!r}" data-max="{top!r}">']
    for k in range(steps):
        v = lo + (top - lo) * k / (steps - 1)
        parts.append(
            f'<rect x="{_f(x + k * w / steps)}" y="{_f(y)}" width="{_f(w / steps + 0.5)}" '
            f'height="8" fill="{colour(v, top, signed)}"/>'
        )
    parts.append(f'<text x="{_f(x)}" y="{_f(y + 19)}" font-size="9" {FONT} fill="#333">{_num(lo)}</text>')
    parts.append(
        f'<text x="{_f(x + w)}" y="{_f(y + 19)}" text-anchor="end" font-size="9" {FONT} fill="#333">{_num(top)}</text>'
    )
    if signed:
        parts.append(
            f'<text x="{_f(x + w / 2)}" y="{_f(y + 19)}" text-anchor="middle" font-size="9" {FONT} fill="#333">0</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _num(v: float) -> str:
    return f"{v:.3g}"


def bar_panel(title: str, leg: str, v: np.ndarray, origin: str = "", cut: int | None = None) -> Panel:
    """Bars of vector ``v`` along ``leg`` from a zero line; ``cut`` draws a truncation line
    after that many bars, labelled with how many are kept."""
    n, note = _shown(v.shape[0])
    part = v[:n]
    top = float(np.max(np.abs(v))) if v.size else 0.0
    has_neg = bool(np.any(v < 0))
    left, head = 40.0, 26.0
    plot_h = BAR_HEIGHT
    zero = head + (plot_h / 2 if has_neg else plot_h)
    scale = (plot_h / 2 if has_neg else plot_h) / top if top > 0 else 0.0
    bw = max(3.0, min(24.0, BAR_WIDTH / max(n, 1)))
    out = [
        f'<g class="values-panel" data-kind="bars" data-name="{escape(title)}" '
        f'data-origin="{escape(origin)}" data-size="{v.shape[0]}">',
        _title(title, 0, 14),
    ]
    for k in range(n):
        val = float(part[k])
        h = abs(val) * scale
        y = zero - h if val >= 0 else zero
        out.append(
            f'<rect class="bar" data-index="{k}" data-value="{val!r}" x="{_f(left + k * bw + 0.5)}" '
            f'y="{_f(y)}" width="{_f(max(bw - 1.0, 1.0))}" height="{_f(max(h, 0.0))}" '
            f'fill="{"#4a78b5" if val >= 0 else "#c0504d"}"/>'
        )
    right = left + n * bw
    out.append(
        f'<line class="zero" x1="{_f(left)}" y1="{_f(zero)}" x2="{_f(right)}" y2="{_f(zero)}" '
        f'stroke="#333" stroke-width="1"/>'
    )
    out.append(
        f'<text x="{_f(left - 4)}" y="{_f(head + 4)}" text-anchor="end" font-size="9" {FONT} '
        f'fill="#333">{_num(top)}</text>'
    )
    if cut is not None and 0 < cut < v.shape[0] and cut <= n:
        x = left + cut * bw
        out.append(
            f'<line class="cut" data-kept="{cut}" x1="{_f(x)}" y1="{_f(head - 6)}" x2="{_f(x)}" '
            f'y2="{_f(head + plot_h + 4)}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="4 2"/>'
        )
        out.append(
            f'<text class="cut-label" x="{_f(x + 3)}" y="{_f(head - 8)}" font-size="9" {FONT} '
            f'fill="#c62828">kept {cut} of {v.shape[0]}</text>'
        )
    out.append(_title(f"{leg} ({v.shape[0]}){note} →", left, head + plot_h + 18, 10, "axis-label"))
    out.append("</g>")
    return Panel("\n".join(out), max(right, left + 120.0, 8.0 * len(title)) + 40, head + plot_h + 26)


def _scalar_panel(title: str, v: float, origin: str) -> Panel:
    text = f"{title} = {v:.6g}"
    svg = (
        f'<g class="values-panel" data-kind="scalar" data-name="{escape(title)}" '
        f'data-origin="{escape(origin)}" data-value="{v!r}">{_title(text, 0, 16, 13)}</g>'
    )
    return Panel(svg, 9.0 * len(text), 24.0)


def arrange(items: Sequence[Panel], max_width: float) -> tuple[str, float, float]:
    """Panels in rows no wider than ``max_width`` (a panel wider than that gets a row of its
    own): the SVG text of the groups, translated, and the total width and height."""
    out: list[str] = []
    x = y = row_h = width = 0.0
    for p in items:
        if x > 0 and x + p.width > max_width:
            x, y = 0.0, y + row_h + GAP
            row_h = 0.0
        out.append(
            f'<g class="panel-box" transform="translate({_f(x)},{_f(y)})" data-width="{_f(p.width)}" '
            f'data-height="{_f(p.height)}">{p.svg}</g>'
        )
        x += p.width + GAP
        row_h = max(row_h, p.height)
        width = max(width, x - GAP)
    return "\n".join(out), width, y + row_h


def with_values(diagram_svg: str, shown: Iterable[ShownLike], source: str = "", title: str = "") -> str:
    """One SVG document: the drawing ``diagram_svg`` (an SVG document) on top, the values
    panels of ``shown`` (arrays as in :func:`panels`) below it, and a line saying where the
    numbers come from (``source``)."""
    dw, dh = svg_size(diagram_svg)
    body, pw, ph = arrange(panels(shown), max(dw, 760.0))
    pad = 16.0
    foot = 18.0 if source else 0.0
    width = max(dw, pw + 2 * pad, 9.0 + 6.2 * len(source))
    height = dh + ph + 2 * pad + foot
    inner = diagram_svg.strip()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" class="diagalg-values">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append(inner)
    out.append(f'<g class="values" transform="translate({_f(pad)},{_f(dh + pad)})">{body}</g>')
    if source:
        out.append(
            f'<text class="values-source" x="{_f(pad)}" y="{_f(height - 6)}" font-size="10" {FONT} '
            f'fill="#555">{escape(source)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def standalone(items: Sequence[Panel], max_width: float = 760.0, source: str = "", cls: str = "diagalg-values") -> str:
    """Panels alone as one SVG document (no drawing above them), with the source line."""
    body, pw, ph = arrange(items, max_width)
    pad = 12.0
    foot = 18.0 if source else 0.0
    width = max(pw + 2 * pad, 9.0 + 6.2 * len(source))
    height = ph + 2 * pad + foot
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" class="{cls}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<g class="values" transform="translate({_f(pad)},{_f(pad)})">{body}</g>',
    ]
    if source:
        out.append(
            f'<text class="values-source" x="{_f(pad)}" y="{_f(height - 6)}" font-size="10" {FONT} '
            f'fill="#555">{escape(source)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def spectrum_svg(
    target: str, rows: Sequence[str], cols: Sequence[str], bond: str, values: np.ndarray, kept: int, source: str = ""
) -> str:
    """The singular values of ``target`` unfolded as ``rows`` against ``cols``, largest first,
    with the cut after the ``kept`` the bond ``bond`` keeps (no cut when it keeps them all)."""
    title = f"σ of {target}[{', '.join(rows)} | {', '.join(cols)}]"
    panel = bar_panel(
        title,
        f"{bond}: singular values",
        np.asarray(values, dtype=float),
        "value",
        kept if kept < len(values) else None,
    )
    return standalone([panel], source=source, cls="diagalg-values spectrum")


@dataclass(frozen=True)
class ValuesFigure:
    """A drawing with its values (what ``diagalg.values`` returns): ``svg`` the document,
    ``shown`` the arrays and their source. A notebook displays it as the SVG."""

    svg: str
    shown: object

    def _repr_svg_(self) -> str:
        return self.svg
