"""Rich display in Jupyter: the ``_repr_svg_`` / ``_repr_html_`` / ``_repr_latex_`` of
expressions, diagrams and derivations delegate here.

An expression displays as its drawing (SVG; as HTML the drawing with its .diag
text below), and as LaTeX in index notation (``A_{ij} B_{jk}``, summed indices
repeated, Einstein style). A derivation displays as its traced steps: each
drawn with its rule (HTML), or as an aligned chain of equalities (LaTeX).
"""

from __future__ import annotations

from html import escape

import sympy

from ..bubbles import get_bubble
from ..model import BoxOp, BubbleOp, CopyTensor, DerivOp, Diagram, Expr, IndexOp, ReshapeOp, ShiftOp, TensorOp
from .html import CSS, Trace, trace_figures


def expr_svg(expr: Expr) -> str:
    from . import render

    return render(expr, None, "svg")


def expr_html(expr: Expr) -> str:
    from ..printing import expr_text

    return (
        f'<div class="diagalg"><style>{CSS}</style><figure>{expr_svg(expr)}'
        f"<figcaption>{escape(expr_text(expr))}</figcaption></figure></div>"
    )


def diagram_expr(d: Diagram) -> Expr:
    return Expr.single(d)


# --------------------------------------------------------------------------- LaTeX


def _name(edge: str) -> str:
    base = edge.split("~")[0] or "e"
    if len(base) > 1 and not base.isalpha():
        base = base.replace("_", r"\_")
    if "~" in edge:  # a fresh copy of a name: keep distinct copies distinct
        base += "'" * (1 + sum(map(ord, edge)) % 2)
    return base


def _indices(names: list[str]) -> str:
    if not names:
        return ""
    sep = "" if all(len(n) == 1 for n in names) else ","
    return "_{" + sep.join(names) + "}"


def _diagram_latex(d: Diagram) -> str:
    label_of = {e: label for label, e in d.free}
    names = {e: label_of.get(e, _name(e)) for e, _ in d.edge_dims}
    factors: list[str] = []
    for node in d.nodes:
        op, idx = node.op, [names[e] for e in node.edges]
        if isinstance(op, TensorOp):
            sup = ("*" if op.conj else "") + ("-1" if op.inv % 2 else "")
            factors.append(
                r"\mathrm{" + op.decl.name.replace("_", r"\_") + "}" + (f"^{{{sup}}}" if sup else "") + _indices(idx)
            )
        elif isinstance(op, CopyTensor):
            factors.append(r"\delta" + _indices(idx))
        elif isinstance(op, ShiftOp):
            factors.append(rf"S^{{({op.offset})}}" + _indices(idx))
        elif isinstance(op, IndexOp):
            factors.append(rf"e^{{({op.value})}}" + _indices(idx))
        elif isinstance(op, ReshapeOp):
            factors.append(r"R" + _indices(idx))
        elif isinstance(op, BoxOp):
            if op.name:
                factors.append(r"\mathrm{" + op.name.replace("_", r"\_") + "}" + _indices(idx))
            else:
                factors.append(r"\left(" + expr_latex_body(op.inner) + r"\right)")
        elif isinstance(op, BubbleOp):
            title = (
                op.func.name + "'" * int(op.param or 0) if op.func is not None else get_bubble(op.kind).drawing_label()
            )
            sub = _indices(list(op.axes)) if op.axes else ""
            factors.append(
                r"\operatorname{"
                + title.replace("_", r"\_")
                + "}"
                + sub
                + r"\left("
                + expr_latex_body(op.inner)
                + r"\right)"
            )
        elif isinstance(op, DerivOp):
            factors.append(
                r"\frac{\partial}{\partial \mathrm{"
                + op.wrt.decl.name
                + "}}\\left("
                + expr_latex_body(op.inner)
                + r"\right)"
            )
    for e, dim in d.edge_dims:  # closed loops and all-ones legs
        if not d.incidence[e] and not d.edge_labels[e]:
            factors.append(sympy.latex(dim))
        elif not d.incidence[e] and len(d.edge_labels[e]) == 1:
            factors.append(r"\mathbf{1}" + _indices([d.edge_labels[e][0]]))
        elif not d.incidence[e] and len(d.edge_labels[e]) == 2:
            factors.append(r"\delta" + _indices(d.edge_labels[e]))
    return r"\,".join(factors)


def expr_latex_body(expr: Expr) -> str:
    """The expression in index notation (no surrounding ``$``)."""
    if not expr.terms:
        return "0"
    parts: list[str] = []
    for k, t in enumerate(expr.terms):
        c = sympy.sympify(t.coeff)
        neg = c.could_extract_minus_sign()
        mag = -c if neg else c
        body = _diagram_latex(t.diagram)
        coeff = "" if mag == 1 and body else sympy.latex(mag)
        if coeff and isinstance(mag, sympy.Add):
            coeff = rf"\left({coeff}\right)"
        sign = ("-" if neg else "") if k == 0 else (" - " if neg else " + ")
        parts.append(sign + coeff + (r"\," if coeff and body else "") + body)
    return "".join(parts)


def expr_latex(expr: Expr) -> str:
    return "$" + expr_latex_body(expr) + "$"


# --------------------------------------------------------------------------- derivations


def derivation_html(derivation: Trace) -> str:
    figs = trace_figures(derivation.start, derivation)
    return f'<div class="diagalg"><style>{CSS}</style><div class="figures">{"".join(figs)}</div></div>'


def derivation_svg(derivation: Trace) -> str:
    """The result of the derivation, drawn."""
    return expr_svg(derivation.result)


def derivation_latex(derivation: Trace) -> str:
    states = derivation.states()
    rows = [expr_latex_body(states[0][0])]
    for expr, step in states[1:]:
        why = "collect" if step is None else step.rule
        rows.append("= " + expr_latex_body(expr) + r" && \text{by " + why + "}")
    return r"$\begin{aligned}&" + r" \\ &".join(rows) + r"\end{aligned}$"
