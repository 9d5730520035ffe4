"""HTML pages: a single drawing, and the derivation report of ``diagalg check --html``.

The report lists every statement of every file with its result line (as
``check`` prints it). Assertions and rules show both sides drawn; ``calc``
blocks show the start and each step as a figure with its drawing, the rules it
used and its numeric error; ``show`` statements show their traced derivation
(each rewrite with its rule, its number of sites and its check error);
``draw`` statements show their picture. The page is one self-contained file:
inline SVG and CSS, no scripts, no external resources.
"""

from __future__ import annotations

from html import escape
from typing import Iterable, Sequence

from ..model import Expr

CSS = """
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #111; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; }
.summary { font-size: 15px; margin: 8px 0 16px; }
section.stmt { margin: 14px 0; padding: 8px 12px; border-left: 5px solid #999; background: #fafafa; }
section.stmt.ok { border-left-color: #2e8b57; } section.stmt.FAIL { border-left-color: #c62828; }
section.stmt.INCONCLUSIVE { border-left-color: #e0a800; } section.stmt.ERROR { border-left-color: #6a1b9a; }
.result { font-family: DejaVu Sans Mono, monospace; font-size: 13px; white-space: pre-wrap; }
.status { font-weight: bold; } .ok .status { color: #2e8b57; } .FAIL .status { color: #c62828; }
.output { font-family: DejaVu Sans Mono, monospace; font-size: 12px; color: #333; white-space: pre-wrap; margin: 4px 0 0 18px; }
.figures { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 10px; margin-top: 8px; }
figure { margin: 0; padding: 6px; border: 1px solid #ddd; background: #fff; max-width: 100%; overflow-x: auto; }
figure.step { border-top: 6px solid #0b5cad; }
figure.step.failed { border-top-color: #c62828; }
figcaption { font-size: 12px; color: #333; font-family: DejaVu Sans Mono, monospace; white-space: pre-wrap; max-width: 640px; }
.rule { color: #0b5cad; font-weight: bold; } .err { color: #555; }
.nodrawing { color: #c62828; font-size: 12px; }
"""

#: drawings per derivation at most (a long trace is cut, and the page says so)
MAX_STEPS = 40


def _svg(expr: Expr) -> str:
    from . import render

    try:
        return render(expr, None, "svg")
    except Exception as e:  # noqa: BLE001 - one undrawable expression must not lose the report
        return f"<p class=\"nodrawing\">no drawing: {escape(type(e).__name__)}: {escape(str(e))}</p>"


def _text(expr: Expr) -> str:
    from ..printing import expr_text

    return expr_text(expr)


def figure(expr: Expr, caption: str, cls: str = "") -> str:
    """One ``<figure>``: the drawing of ``expr`` above its caption (HTML-escaped text)."""
    klass = f" class=\"{cls}\"" if cls else ""
    return f"<figure{klass}>{_svg(expr)}<figcaption>{caption}</figcaption></figure>"


def page(title: str, figures: Sequence[tuple[str, str]]) -> str:
    """A page of (caption, SVG text) figures."""
    body = "".join(f"<figure>{svg}<figcaption>{escape(cap)}</figcaption></figure>" for cap, svg in figures)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><div class=\"figures\">{body}</div></body></html>\n")


def _result_line(r) -> str:
    return (f"<div class=\"result\">{escape(r.source.path)}:{r.source.line}: <span class=\"status\">"
            f"{escape(r.status)}</span> {escape(r.source.text)} {escape(r.detail)}</div>"
            + "".join(f"<div class=\"output\">{escape(line)}</div>" for line in r.output))


def _calc_figures(stmt, results) -> list[str]:
    figs = [figure(stmt.expr, f"start\n{escape(_text(stmt.expr))}", "step start")]
    for k, step in enumerate(stmt.steps, start=1):
        r = results[k - 1] if k - 1 < len(results) else None
        rules = ", ".join(step.rules) if step.rules is not None else "default rules"
        err = "" if r is None or r.max_error is None else f" · numeric {r.max_error:.1g}"
        cls = "step" if r is not None and r.status == "ok" else "step failed"
        status = "" if r is None else f" · {r.status}"
        cap = (f"step {k}: <span class=\"rule\">by {escape(rules)}</span><span class=\"err\">{escape(err)}"
               f"{escape(status)}</span>\n{escape(_text(step.expr))}")
        figs.append(figure(step.expr, cap, cls))
    return figs


def trace_figures(start: Expr, derivation) -> list[str]:
    """Figures of a traced derivation: the start, then each rewrite with its rule, its
    number of sites and its check error (at most :data:`MAX_STEPS` of them)."""
    states = derivation.states()
    figs = [figure(start, f"start\n{escape(_text(start))}", "step start")]
    for k, (expr, step) in enumerate(states[1:], start=1):
        if k > MAX_STEPS:
            figs.append(f"<p>… {len(states) - 1 - MAX_STEPS} more steps not drawn</p>")
            break
        if step is None:
            why, err = "by collect", ""
        else:
            sites = f", {step.sites} sites" if step.sites > 1 else ""
            why = f"by {step.rule}{sites}"
            err = "" if step.check_error is None else f" · check {step.check_error:.1g}"
        cap = (f"step {k}: <span class=\"rule\">{escape(why)}</span><span class=\"err\">{escape(err)}</span>\n"
               f"{escape(_text(expr))}")
        figs.append(figure(expr, cap, "step"))
    return figs


def _statement_figures(checker, stmt, results) -> list[str]:
    from ..program import AssertStmt, CalcStmt, DrawStmt, RuleStmt, ShowStmt

    if isinstance(stmt, CalcStmt):
        return _calc_figures(stmt, results)
    if isinstance(stmt, AssertStmt):
        return [figure(stmt.lhs, "left\n" + escape(_text(stmt.lhs)), "side"),
                figure(stmt.rhs, "right\n" + escape(_text(stmt.rhs)), "side")]
    if isinstance(stmt, RuleStmt):
        return [figure(stmt.rule.lhs, "rule left\n" + escape(_text(stmt.rule.lhs)), "side"),
                figure(stmt.rule.rhs, "rule right\n" + escape(_text(stmt.rule.rhs)), "side")]
    if isinstance(stmt, DrawStmt):
        return [figure(stmt.expr, escape(f"draw to {stmt.path}"), "draw")]
    if isinstance(stmt, ShowStmt):
        from ..engine import simplify, unfold

        start = unfold(stmt.expr) if stmt.unfold else stmt.expr
        d = simplify(start, rules=checker.rules_for(stmt.rules), subs=checker.subs, checked=checker.options.checked,
                     env=checker.program.env, seed=checker.options.seed, extra_rules=checker.user_rules)
        return trace_figures(start, d)
    return []


def report(files: Iterable[tuple[object, Sequence[tuple[object, list]]]], seed: int,
           title: str = "diagalg check") -> str:
    """The HTML report. ``files``: (checker, [(statement, its results), ...]) per file."""
    sections: list[str] = []
    counts: dict[str, int] = {}
    nfiles = 0
    for checker, pairs in files:
        nfiles += 1
        program = checker.program
        sections.append(f"<h2>{escape(str(program.path))}</h2>")
        for stmt, results in pairs:
            for r in results:
                counts[r.status] = counts.get(r.status, 0) + 1
            status = "ok"
            for s in ("ERROR", "FAIL", "INCONCLUSIVE"):
                if any(r.status == s for r in results):
                    status = s
                    break
            try:
                figs = _statement_figures(checker, stmt, results)
            except Exception as e:  # noqa: BLE001 - a statement whose trace fails still gets its result line
                figs = [f"<p class=\"nodrawing\">no drawing: {escape(type(e).__name__)}: {escape(str(e))}</p>"]
            kind = type(stmt).__name__.removesuffix("Stmt").lower()
            sections.append(
                f"<section class=\"stmt {status}\" data-kind=\"{kind}\" data-line=\"{stmt.source.line}\">"
                + "".join(_result_line(r) for r in results)
                + (f"<div class=\"figures\">{''.join(figs)}</div>" if figs else "") + "</section>")
    summary = f"{counts.get('ok', 0)} ok, {counts.get('FAIL', 0)} failed"
    if counts.get("INCONCLUSIVE"):
        summary += f", {counts['INCONCLUSIVE']} inconclusive"
    if counts.get("ERROR"):
        summary += f", {counts['ERROR']} internal errors"
    head = (f"<h1>{escape(title)}</h1><p class=\"summary\">checked {nfiles} file{'s' if nfiles != 1 else ''} "
            f"(seed {seed}): {escape(summary)}</p>")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{head}{''.join(sections)}</body></html>\n")
