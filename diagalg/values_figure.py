"""A drawing with the values behind it, as one document: where the numeric side
(:mod:`diagalg.numeric.values`: which arrays, from bound weights or one sampled
instance) meets the renderer (:mod:`diagalg.render.values`: heatmaps and bars).

The renderer never evaluates, so the joining sits above both. ``diagalg draw
--values``, the ``draw E to "f.svg" values`` statement and ``diagalg.values`` all go
through :func:`values_document`, so the three show the same panels for the same
expression and seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DiagalgError
from .model import BoxOp, Expr
from .vocabulary import DRAWING_EXTENSIONS, VALUES_KINDS

if TYPE_CHECKING:
    from .numeric.values import Declarations, ShownValues


def values_document(
    expr: Expr,
    program: Declarations,
    seed: int = 0,
    folded: bool = False,
    title: str | None = None,
    name: str | None = None,
    labels: tuple[str, ...] | None = None,
) -> tuple[str, ShownValues]:
    """The SVG document of ``expr`` drawn (a bare let opened one level unless ``folded``)
    with its values below, and the arrays shown. A bare let's own value is named after
    the let, its axes in the let's label order (or ``name`` and ``labels``, when the caller
    knows them: ``diagalg draw psi`` has the definition already). Raises :class:`DiagalgError` when the
    instance cannot be drawn (a memory cap, unsatisfiable constraints)."""
    from .numeric.errors import NumericError
    from .numeric.values import values_of
    from .printing import expr_text
    from .render import let_opened, render
    from .render.values import with_values

    opened = expr if folded else let_opened(expr)
    if opened is not expr and name is None:  # a bare let: its value is the let's, on its own labels
        box = expr.terms[0].diagram.nodes[0].op
        assert isinstance(box, BoxOp)  # let_opened opens only a bare let's box
        name, labels = box.name, tuple(box.ports)
    try:
        shown = values_of(opened, program, seed=seed, labels=labels, name=name)
    except NumericError as e:
        raise DiagalgError(f"values: {e}") from None
    text = with_values(
        render(opened, program, "svg"), shown.arrays, shown.source, title if title is not None else expr_text(expr)
    )
    return text, shown


def write_values(
    expr: Expr,
    program: Declarations,
    path: str | Path,
    seed: int = 0,
    folded: bool = False,
    name: str | None = None,
    labels: tuple[str, ...] | None = None,
) -> None:
    """Write :func:`values_document` to ``path``: ``.svg``, ``.html`` (a page with the
    source line as caption) or ``.png`` (when an SVG converter is installed). Any other
    extension is a :class:`DiagalgError` naming the kinds that work, raised before
    anything is written."""
    path = Path(path)
    kind = DRAWING_EXTENSIONS.get(path.suffix.lower())
    if kind not in VALUES_KINDS:
        raise DiagalgError(f"{path}: a drawing with values is SVG panels: write .svg, .html or .png")
    text, shown = values_document(expr, program, seed, folded, name=name, labels=labels)
    if kind == "png":
        from .render.png import svg_to_png

        path.write_bytes(svg_to_png(text))
    elif kind == "html":
        from .printing import expr_text
        from .render.html import page

        path.write_text(page(expr_text(expr) or "diagram", [(shown.source, text)]), encoding="utf-8")
    else:
        path.write_text(text, encoding="utf-8")
