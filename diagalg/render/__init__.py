"""Drawings of expressions in the paper's graphical notation: SVG, TikZ, PNG, HTML.

``render(expr, program, fmt)`` returns the document text (``fmt`` is ``svg`` or
``tikz``); ``write(expr, program, path)`` writes a file whose format follows the
extension (``.svg``, ``.tex``/``.tikz``, ``.png`` when a converter exists,
``.html``). The layout is deterministic: the same expression always gives the
same picture. See :mod:`diagalg.render.scene` for the conventions.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DiagalgError
from ..model import Expr
from ..vocabulary import DRAWING_EXTENSIONS
from .scene import Picture, picture

FORMATS = ("svg", "tikz")
EXTENSIONS = DRAWING_EXTENSIONS


def render(expr: Expr, program=None, fmt: str = "svg") -> str:
    """The drawing of ``expr`` as an SVG document (``fmt="svg"``) or a standalone LaTeX
    document with one TikZ picture (``fmt="tikz"``). ``program`` may be None: the
    declarations an expression needs travel with it."""
    pic = picture(expr)
    title = _title(expr)
    if fmt == "svg":
        from .svg import svg_document

        return svg_document(pic, title)
    if fmt == "tikz":
        from .tikz import tikz_document

        return tikz_document(pic)
    raise DiagalgError(f"unknown drawing format {fmt!r} (use one of: {', '.join(FORMATS)})")


def write(expr: Expr, program, path: str | Path) -> None:
    """Write the drawing of ``expr`` to ``path``; the format follows the extension.

    Raises :class:`~diagalg.errors.DiagalgError` for an unknown extension, or for
    ``.png`` when no SVG converter (rsvg-convert or cairosvg) is installed."""
    path = Path(path)
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise DiagalgError(f"{path}: unknown drawing format '{path.suffix}' "
                           f"(use {', '.join(sorted(EXTENSIONS))})")
    if kind == "png":
        from .png import svg_to_png

        data = svg_to_png(render(expr, program, "svg"))
        path.write_bytes(data)
        return
    if kind == "html":
        from .html import page

        text = page(_title(expr) or "diagram", [("", render(expr, program, "svg"))])
    else:
        text = render(expr, program, kind)
    path.write_text(text, encoding="utf-8")


def _title(expr: Expr) -> str:
    from ..printing import expr_text

    try:
        return expr_text(expr)
    except Exception:  # noqa: BLE001 - a title is a courtesy, never a reason to fail a drawing
        return ""


__all__ = ["render", "write", "picture", "Picture", "FORMATS", "EXTENSIONS"]
