"""The derivation report of ``diagalg check --html``.

It lists every statement of every file with its result line (as ``check`` prints
it). Assertions and rules show both sides drawn; ``calc`` blocks show the start
and each step as a figure with its drawing, the rules it used and how it was
checked; ``show`` statements show their traced derivation (each rewrite with its
rule, its number of sites and its check error); ``draw`` statements show their
picture. A table of contents links to each file (with its counts) and to each
statement that is not ok, and a checkbox hides the ok statements (CSS only: the
page has no scripts). It sits above the renderer because a ``show`` is traced again here, by
the engine, to draw its steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Iterable, Sequence

from .checker import Checker, Result, summary_text
from .engine import simplify, unfold
from .model import Expr
from .printing import expr_text as _text
from .program import AssertStmt, CalcStmt, DecomposeStmt, DrawStmt, ExpandStmt, RuleStmt, RunStmt, ShowStmt
from .render import let_opened
from .render.html import CSS, Sizes, figure, steady_figures, trace_figures
from .render.thickness import program_sizes


def _result_line(r: Result) -> str:
    return (
        f'<div class="result">{escape(r.source.path)}:{r.source.line}: <span class="status">'
        f"{escape(r.status)}</span> {escape(r.source.text)} {escape(r.detail)}</div>"
        + "".join(f'<div class="output">{escape(line)}</div>' for line in r.output)
    )


def _how_checked(r: Result | None) -> str:
    """`` · exact`` or `` · numeric 3e-16`` for a step's result (empty when none ran)."""
    if r is None or r.path is None:
        return ""
    if r.path == "exact":
        return " · exact"
    return "" if r.error is None else f" · numeric {r.error:.1g}"


def _calc_figures(stmt: CalcStmt, results: Sequence[Result], sizes: Sizes | None = None) -> list[str]:
    items = [(stmt.expr, f"start\n{escape(_text(stmt.expr))}", "step start")]
    for k, step in enumerate(stmt.steps, start=1):
        r = results[k - 1] if k - 1 < len(results) else None
        rules = ", ".join(step.rules) if step.rules is not None else "default rules"
        err = _how_checked(r)
        cls = "step" if r is not None and r.status == "ok" else "step failed"
        status = "" if r is None else f" · {r.status}"
        cap = (
            f'step {k}: <span class="rule">by {escape(rules)}</span><span class="err">{escape(err)}'
            f"{escape(status)}</span>\n{escape(_text(step.expr))}"
        )
        items.append((step.expr, cap, cls))
    return steady_figures(items, sizes)  # each step laid out from the previous one: tensors hold still


def _statement_figures(checker: Checker, stmt: RunStmt, results: list[Result]) -> list[str]:
    sizes = program_sizes(checker.program)  # named dimensions drawn at their declared sizes' widths
    if isinstance(stmt, CalcStmt):
        return _calc_figures(stmt, results, sizes)
    if isinstance(stmt, AssertStmt):
        # the right side laid out from the left one's positions, where they share tensors
        return steady_figures(
            [
                (stmt.lhs, "left\n" + escape(_text(stmt.lhs)), "side"),
                (stmt.rhs, "right\n" + escape(_text(stmt.rhs)), "side"),
            ],
            sizes,
        )
    if isinstance(stmt, RuleStmt):
        return steady_figures(
            [
                (stmt.rule.lhs, "rule left\n" + escape(_text(stmt.rule.lhs)), "side"),
                (stmt.rule.rhs, "rule right\n" + escape(_text(stmt.rule.rhs)), "side"),
            ],
            sizes,
        )
    if isinstance(stmt, DecomposeStmt):
        return _decompose_figures(checker, stmt)
    if isinstance(stmt, ExpandStmt):
        return term_figures(stmt, results, sizes=sizes)
    if isinstance(stmt, DrawStmt):  # the picture the statement wrote: a bare let opened one level
        if stmt.values:  # with the arrays behind it, as the file it wrote shows them
            return [_values_figure(checker, stmt)]
        shown = stmt.expr if stmt.folded else let_opened(stmt.expr)
        return [figure(shown, escape(f"draw to {stmt.path}" + (" folded" if stmt.folded else "")), "draw", sizes=sizes)]
    if isinstance(stmt, ShowStmt):
        start = unfold(stmt.expr) if stmt.unfold else stmt.expr
        d = simplify(
            start,
            rules=checker.rules_for(stmt.rules),
            subs=checker.subs,
            checked=checker.options.checked,
            env=checker.program.env,
            seed=checker.options.seed,
            extra_rules=checker.user_rules,
        )
        return trace_figures(start, d, sizes)
    return []


def _values_figure(checker: Checker, stmt: DrawStmt) -> str:
    from .errors import DiagalgError
    from .values_figure import values_document

    caption = escape(f"draw to {stmt.path}" + (" folded" if stmt.folded else "") + " values")
    try:
        text, shown = values_document(stmt.expr, checker.program, checker.options.seed, folded=stmt.folded)
    except DiagalgError as e:
        return f'<figure class="draw"><p class="nodrawing">no values: {escape(str(e))}</p></figure>'
    return f'<figure class="draw values">{text}<figcaption>{caption}\n{escape(shown.source)}</figcaption></figure>'


#: terms of one expand or paths statement drawn at most (the rest are counted)
MAX_TERMS = 24


def term_figures(
    stmt: ExpandStmt, results: Sequence[Result], limit: int = MAX_TERMS, sizes: Sizes | None = None
) -> list[str]:
    """An ``expand`` or ``paths`` statement's figures: the expression, then each term it
    lists drawn under its line (label, order, value or bound, as printed), the first
    ``limit`` of them; the figures end with a count of the listed terms not drawn."""
    terms = [t for r in results for t in r.terms]
    figs = [figure(stmt.expr, "expression\n" + escape(_text(stmt.expr)), "side", sizes=sizes)]
    figs += [figure(expr, escape(caption), "term", sizes=sizes) for caption, expr in terms[:limit]]
    if len(terms) > limit:
        figs.append(f'<p class="more">… and {len(terms) - limit} more listed terms, not drawn</p>')
    return figs


def statement_drawings(
    checker: Checker, stmt: RunStmt, results: Sequence[Result], limit: int = MAX_TERMS
) -> tuple[list[tuple[str, str]], str]:
    """What a statement shows, as (caption, SVG document) pairs and a closing note: the
    same drawings as its report section (``expand``/``paths``: the expression, then the
    listed terms up to ``limit``; assertions and rules: both sides; ``calc``: the start and
    each step; ``decompose``: both sides and the spectra it cuts; anything else: its
    expression), for ``diagalg draw --line``."""
    from .render import render

    def drawn(pairs: Sequence[tuple[str, Expr]]) -> list[tuple[str, str]]:
        return [(caption, render(expr, checker.program, "svg")) for caption, expr in pairs]

    def steady(pairs: Sequence[tuple[str, Expr]]) -> list[tuple[str, str]]:
        """Steps (or sides) drawn as the report draws them: each from the previous one's layout."""
        from .render.scene import pictures
        from .render.svg import svg_document

        pics = pictures([expr for _, expr in pairs])
        return [(caption, svg_document(pic, _text(expr))) for (caption, expr), pic in zip(pairs, pics)]

    note = ""
    if isinstance(stmt, ExpandStmt):
        terms = [t for r in results for t in r.terms]
        items = drawn([("expression: " + _text(stmt.expr), stmt.expr)] + terms[:limit])
        if len(terms) > limit:
            note = f"… and {len(terms) - limit} more listed terms, not drawn"
        return items, note
    if isinstance(stmt, CalcStmt):
        return steady(
            [("start: " + _text(stmt.expr), stmt.expr)]
            + [(f"step {k}: {step.source.text.strip()}", step.expr) for k, step in enumerate(stmt.steps, start=1)]
        ), note
    if isinstance(stmt, AssertStmt):
        return steady([("left: " + _text(stmt.lhs), stmt.lhs), ("right: " + _text(stmt.rhs), stmt.rhs)]), note
    if isinstance(stmt, RuleStmt):
        return drawn(
            [
                ("rule left: " + _text(stmt.rule.lhs), stmt.rule.lhs),
                ("rule right: " + _text(stmt.rule.rhs), stmt.rule.rhs),
            ]
        ), note
    if isinstance(stmt, DecomposeStmt):
        items = drawn([("target: " + _text(stmt.lhs), stmt.lhs), ("factors: " + _text(stmt.rhs), stmt.rhs)])
        spectra, failed = _spectrum_drawings(checker, stmt)
        return items + spectra, failed
    expr = getattr(stmt, "expr", None)
    if expr is None:
        return [], note
    return drawn([(_text(expr), let_opened(expr))]), note


def _spectrum_drawings(checker: Checker, stmt: DecomposeStmt) -> tuple[list[tuple[str, str]], str]:
    """The spectrum each cut of the decomposition cuts (svd, tt, tucker) as (caption, SVG)
    pairs: the singular values of the target's unfolding on the check's first draw, with
    the truncation line, so a reader sees what a ``~`` discards. The second item says why
    there is none when the draw cannot be made (empty otherwise)."""
    from .numeric.errors import NumericError
    from .numeric.values import spectra_of
    from .render.values import spectrum_svg

    try:
        spectra, source = spectra_of(stmt, checker.program, seed=checker.options.seed, dims=checker.options.dims)
    except NumericError as e:
        return [], f"no spectrum: {e}"
    target = stmt.decomposition.target.name
    out = []
    for sp in spectra:
        n = len(sp.values)
        cut = f"keeps {sp.kept} of {n}" if sp.kept < n else f"keeps all {n}"
        out.append(
            (
                f"singular values at bond {sp.bond}: {cut}",
                spectrum_svg(target, sp.rows, sp.cols, sp.bond, sp.values, sp.kept, source),
            )
        )
    return out, ""


def _decompose_figures(checker: Checker, stmt: DecomposeStmt) -> list[str]:
    """Both sides drawn, then the spectra the decomposition cuts (:func:`_spectrum_drawings`)."""
    figures = steady_figures(
        [
            (stmt.lhs, "target\n" + escape(_text(stmt.lhs)), "side"),
            (stmt.rhs, "factors\n" + escape(_text(stmt.rhs)), "side"),
        ],
        program_sizes(checker.program),
    )
    spectra, failed = _spectrum_drawings(checker, stmt)
    if failed:
        return figures + [f'<p class="nodrawing">{escape(failed)}</p>']
    return figures + [
        f'<figure class="spectrum">{svg}<figcaption>{escape(caption)}</figcaption></figure>' for caption, svg in spectra
    ]


#: the report's own rules, after the shared style sheet: its contents and its failures filter
_CSS = """
nav.toc { margin: 8px 0 16px; font-size: 14px; } nav.toc ol { margin: 4px 0; padding-left: 22px; }
nav.toc .counts { color: #555; font-size: 13px; } nav.toc ul { margin: 2px 0; padding-left: 18px; font-size: 13px; }
nav.toc a { color: #1a4f8b; } label.filter { font-size: 14px; cursor: pointer; }
#only-problems:checked ~ section.stmt.ok { display: none; }
#only-problems:checked ~ nav.toc li.problem-free, #only-problems:checked ~ h2.problem-free { display: none; }
"""


def _status(results: Sequence[Result]) -> str:
    """A statement's worst status: ERROR, FAIL, INCONCLUSIVE, else ok (also when it printed nothing)."""
    for s in ("ERROR", "FAIL", "INCONCLUSIVE"):
        if any(r.status == s for r in results):
            return s
    return "ok"


def statement_section(checker: Checker, stmt: RunStmt, results: Sequence[Result], sid: str) -> str:
    """One statement as the report shows it: a ``section.stmt`` with its result lines and
    its figures (an expansion's terms each under its line, a calc's steps held still...)."""
    status = _status(results)
    try:
        figs = _statement_figures(checker, stmt, list(results))
    except Exception as e:  # noqa: BLE001 - a statement whose trace fails still gets its result line
        figs = [f'<p class="nodrawing">no drawing: {escape(type(e).__name__)}: {escape(str(e))}</p>']
    kind = type(stmt).__name__.removesuffix("Stmt").lower()
    return (
        f'<section class="stmt {status}" id="{sid}" data-kind="{kind}" data-line="{stmt.source.line}">'
        + "".join(_result_line(r) for r in results)
        + (f'<div class="figures">{"".join(figs)}</div>' if figs else "")
        + "</section>"
    )


@dataclass(frozen=True)
class StatementView:
    """A statement run as ``check`` runs it (``diagalg.statement``): its result lines and the
    report's figures of it; a notebook displays the figures (``_repr_html_``)."""

    results: tuple[Result, ...]
    html: str

    @property
    def terms(self) -> tuple[tuple[str, Expr], ...]:
        """The terms an ``expand`` or ``paths`` statement listed, as (line, expression)."""
        return tuple(t for r in self.results for t in r.terms)

    def _repr_html_(self) -> str:
        return self.html


def statement_view(checker: Checker, stmt: RunStmt) -> StatementView:
    """Run ``stmt`` with ``checker`` and draw it as the report does, as an HTML fragment
    carrying its own style sheet (a notebook cell has none of the page's)."""
    results = tuple(checker.run_statement(stmt))
    section = statement_section(checker, stmt, results, f"line-{stmt.source.line}")
    return StatementView(results, f'<div class="diagalg-statement"><style>{CSS}</style>{section}</div>')


def report(
    files: Iterable[tuple[Checker, Sequence[tuple[RunStmt, list[Result]]]]], seed: int, title: str = "diagalg check"
) -> str:
    """The HTML report. ``files``: (checker, [(statement, its results), ...]) per file.

    The page opens with the summary, a checkbox ``#only-problems`` ("show only
    problems") and a table of contents: one entry per file with its counts, linking to
    the file's heading (``id="file-K"``, K from 1), and under it a link to each statement
    that is not ok. Every statement is a ``section.stmt`` with ``id="file-K-line-L"`` (L
    its line). Checking the box hides the ok sections, and the headings and contents
    entries of files without problems, by CSS alone: the page has no
    scripts and loads nothing from outside."""
    sections: list[str] = []
    toc: list[str] = []
    every: list[Result] = []
    nfiles = 0
    for checker, pairs in files:
        nfiles += 1
        program = checker.program
        anchor = f"file-{nfiles}"
        heading = len(sections)
        sections.append(f'<h2 id="{anchor}">{escape(str(program.path))}</h2>')
        mine: list[Result] = []
        problems: list[str] = []
        for stmt, results in pairs:
            every.extend(results)
            mine.extend(results)
            status = _status(results)
            sid = f"{anchor}-line-{stmt.source.line}"
            if status != "ok":
                problems.append(f'<li><a href="#{sid}">line {stmt.source.line}</a> {escape(status)}</li>')
            sections.append(statement_section(checker, stmt, results, sid))
        klass = "" if problems else ' class="problem-free"'
        sections[heading] = f'<h2 id="{anchor}"{klass}>{escape(str(program.path))}</h2>'
        toc.append(
            f'<li{klass}><a href="#{anchor}">{escape(str(program.path))}</a> '
            f'<span class="counts">{escape(summary_text(mine))}</span>'
            + (f"<ul>{''.join(problems)}</ul>" if problems else "")
            + "</li>"
        )
    summary = summary_text(every)
    head = (
        f'<h1>{escape(title)}</h1><p class="summary">checked {nfiles} file{"s" if nfiles != 1 else ""} '
        f"(seed {seed}): {escape(summary)}</p>"
        '<input type="checkbox" id="only-problems">'
        '<label class="filter" for="only-problems"> show only problems (hide the ok statements)</label>'
        f'<nav class="toc"><ol>{"".join(toc)}</ol></nav>'
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}{_CSS}</style></head><body>{head}{''.join(sections)}</body></html>\n"
    )
