"""Drawings of expressions in the paper's graphical notation: SVG, TikZ, PNG, HTML.

``render(expr, program, fmt)`` returns the document text (``fmt`` is ``svg`` or
``tikz``); ``write(expr, program, path)`` writes a file whose format follows the
extension (``.svg``, ``.tex``/``.tikz``, ``.png`` when a converter exists,
``.html``), as a ``draw`` statement does: a bare ``let`` name is drawn as its
definition one level deep (:func:`let_opened`). The layout is deterministic: the
same expression always gives the same picture. See :mod:`diagalg.render.scene`
for the conventions, :mod:`diagalg.render.ports` for the leg order, and
docs/drawing.md.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DiagalgError
from ..model import BoxOp, Expr
from ..vocabulary import DRAWING_EXTENSIONS
from .scene import Picture, picture
from .thickness import program_sizes, with_sizes

FORMATS = ("svg", "tikz")
EXTENSIONS = DRAWING_EXTENSIONS


def render(expr: Expr, program: object = None, fmt: str = "svg") -> str:
    """The drawing of ``expr`` as an SVG document (``fmt="svg"``) or a standalone LaTeX
    document with one TikZ picture (``fmt="tikz"``). ``program`` may be None: the
    declarations an expression needs travel with it; with a program, its declared sizes
    (``dim d = 768``) set the widths of symbolic wires (:mod:`.thickness`)."""
    pic = with_sizes(picture(expr), program_sizes(program))
    title = _title(expr)
    if fmt == "svg":
        from .svg import svg_document

        return svg_document(pic, title)
    if fmt == "tikz":
        from .tikz import tikz_document

        return tikz_document(pic)
    raise DiagalgError(f"unknown drawing format {fmt!r} (use one of: {', '.join(FORMATS)})")


def let_opened(expr: Expr) -> Expr:
    """What drawing ``expr`` shows: for a bare ``let`` name (one folded let on its own
    labels, alone: ``psi``, or ``psi[i]`` written out) its definition one level deep, the
    lets inside it still folded; any other expression as it is.

    A box called psi is never the picture someone drawing psi wants (the language
    contract, section 2); a let inside a larger expression stays a box, as written."""
    if len(expr.terms) != 1:
        return expr
    term = expr.terms[0]
    if term.coeff != 1 or len(term.diagram.nodes) != 1:
        return expr
    node = term.diagram.nodes[0]
    op = node.op
    if not isinstance(op, BoxOp) or not op.name:
        return expr
    free = term.diagram.free_map
    if set(free) != set(op.ports) or any(free[p] != e for p, e in zip(op.ports, node.edges)):
        return expr
    return op.inner


def write(expr: Expr, program: object, path: str | Path, folded: bool = False) -> None:
    """Write the drawing of ``expr`` to ``path``, as a ``draw`` statement does; the format
    follows the extension. A bare let name is drawn as its definition one level deep
    (:func:`let_opened`) unless ``folded``, which draws it as one box.

    Raises :class:`~diagalg.errors.DiagalgError` for an unknown extension, or for
    ``.png`` when no SVG converter (rsvg-convert or cairosvg) is installed."""
    if not folded:
        expr = let_opened(expr)
    path = Path(path)
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise DiagalgError(f"{path}: unknown drawing format '{path.suffix}' (use {', '.join(sorted(EXTENSIONS))})")
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


__all__ = ["render", "write", "let_opened", "picture", "Picture", "FORMATS", "EXTENSIONS"]
