"""HTML pieces: figures of drawings, a page of them, the figures of a traced
derivation, and the style sheet the report (:mod:`diagalg.report`) and notebooks
share. Every page is one self-contained file: inline SVG and CSS, no scripts, no
external resources. Nothing here runs the engine.
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping, Protocol, Sequence

import sympy

from ..model import Expr
from .scene import Picture, picture, pictures
from .svg import svg_document
from .thickness import with_sizes

Sizes = Mapping[sympy.Symbol, sympy.Expr]

CSS = """
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #111; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; }
.summary { font-size: 15px; margin: 8px 0 16px; }
section.stmt { margin: 14px 0; padding: 8px 12px; border-left: 5px solid #999; background: #fafafa; }
section.stmt.ok { border-left-color: #2e8b57; } section.stmt.FAIL { border-left-color: #c62828; }
section.stmt.INCONCLUSIVE { border-left-color: #e0a800; } section.stmt.ERROR { border-left-color: #6a1b9a; }
.result { font-family: DejaVu Sans Mono, monospace; font-size: 13px; white-space: pre-wrap; }
.status { font-weight: bold; } .ok .status { color: #2e8b57; } .FAIL .status { color: #c62828; }
.output { font-family: DejaVu Sans Mono, monospace; font-size: 12px; color: #333; white-space: pre-wrap;
  margin: 4px 0 0 18px; }
.figures { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 10px; margin-top: 8px; }
figure { margin: 0; padding: 6px; border: 1px solid #ddd; background: #fff; max-width: 100%; overflow-x: auto; }
figure.step { border-top: 6px solid #0b5cad; }
figure.step.failed { border-top-color: #c62828; }
figcaption { font-size: 12px; color: #333; font-family: DejaVu Sans Mono, monospace; white-space: pre-wrap;
  max-width: 640px; }
.rule { color: #0b5cad; font-weight: bold; } .err { color: #555; }
.nodrawing { color: #c62828; font-size: 12px; }
"""

#: drawings per derivation at most (a long trace is cut, and the page says so)
MAX_STEPS = 40


def _svg(expr: Expr, pic: Picture | None = None, sizes: Sizes | None = None) -> str:
    try:
        return svg_document(with_sizes(pic if pic is not None else picture(expr), sizes or {}), _text(expr))
    except Exception as e:  # noqa: BLE001 - one undrawable expression must not lose the report
        return f'<p class="nodrawing">no drawing: {escape(type(e).__name__)}: {escape(str(e))}</p>'


def _text(expr: Expr) -> str:
    from ..printing import expr_text

    return expr_text(expr)


def figure(expr: Expr, caption: str, cls: str = "", pic: Picture | None = None, sizes: Sizes | None = None) -> str:
    """One ``<figure>``: the drawing of ``expr`` (or the already laid out ``pic`` of it)
    above its caption (HTML-escaped text). ``sizes``: the program's declared dimension
    sizes (:func:`~.thickness.program_sizes`), for the widths of symbolic wires."""
    klass = f' class="{cls}"' if cls else ""
    return f"<figure{klass}>{_svg(expr, pic, sizes)}<figcaption>{caption}</figcaption></figure>"


def steady_figures(items: Sequence[tuple[Expr, str, str]], sizes: Sizes | None = None) -> list[str]:
    """The figures of (expression, caption, class) items that are steps of one derivation,
    or the two sides of one assertion: each laid out from the previous one's positions
    (:func:`~.scene.pictures`), so that a tensor that survives a step keeps its place."""
    exprs = [e for e, _, _ in items]
    try:
        pics: list[Picture | None] = list(pictures(exprs))
    except Exception:  # noqa: BLE001 - then each is drawn on its own (and an undrawable one says so)
        pics = [None] * len(exprs)
    return [figure(e, cap, cls, pic, sizes) for (e, cap, cls), pic in zip(items, pics)]


def page(title: str, figures: Sequence[tuple[str, str]]) -> str:
    """A page of (caption, SVG text) figures."""
    body = "".join(f"<figure>{svg}<figcaption>{escape(cap)}</figcaption></figure>" for cap, svg in figures)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<style>{CSS}</style></head><body><div class="figures">{body}</div></body></html>\n'
    )


class Trace(Protocol):
    """What a drawing needs of an ``engine.Derivation`` (the renderer does not import the engine)."""

    start: Expr
    result: Expr

    def states(self) -> list[tuple[Expr, Any]]:
        """The start, then each expression with the step (or None: collect) that made it."""


def trace_figures(start: Expr, derivation: Trace, sizes: Sizes | None = None) -> list[str]:
    """Figures of a traced derivation: the start, then each rewrite with its rule, its
    number of sites and its check error (at most :data:`MAX_STEPS` of them)."""
    states = derivation.states()
    items = [(start, f"start\n{escape(_text(start))}", "step start")]
    for k, (expr, step) in enumerate(states[1:], start=1):
        if k > MAX_STEPS:
            break
        if step is None:
            why, err = "by collect", ""
        else:
            sites = f", {step.sites} sites" if step.sites > 1 else ""
            why = f"by {step.rule}{sites}"
            err = (
                ""
                if step.check_error is None
                else " · check exact"
                if step.check_exact
                else f" · check {step.check_error:.1g}"
            )
        cap = (
            f'step {k}: <span class="rule">{escape(why)}</span><span class="err">{escape(err)}</span>\n'
            f"{escape(_text(expr))}"
        )
        items.append((expr, cap, "step"))
    figs = steady_figures(items, sizes)
    if len(states) - 1 > MAX_STEPS:
        figs.append(f"<p>… {len(states) - 1 - MAX_STEPS} more steps not drawn</p>")
    return figs
