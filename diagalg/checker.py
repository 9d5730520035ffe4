"""Running a program's statements: proofs, numeric checks, calc steps, show.

Each statement yields :class:`Result` lines (a calc block one per step). The
checker never trusts the engine alone: a symbolic proof is followed by a numeric
check, and a proof whose sides are numerically different is reported as an
internal error (a bug in diagalg), as is a simplification that changed a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

from .canonical import equal as canonical_equal
from .engine import StepLimit, UnsoundRewrite, simplify, unfold
from .model import Expr
from .numeric.check import NumericResult, compare
from .printing import expr_text
from .program import (
    AssertStmt,
    CalcStmt,
    CostStmt,
    DecomposeStmt,
    DrawStmt,
    ExpandStmt,
    Program,
    RuleStmt,
    RunStmt,
    ShowStmt,
    Source,
)
from .rules import DEFAULT_RULES

if TYPE_CHECKING:
    import numpy as np

    from .model import Diagram, Term
    from .numeric.instance import Instance
    from .printing import Folds
    from .rank import TopResult

OK, FAIL, INCONCLUSIVE, INTERNAL = "ok", "FAIL", "INCONCLUSIVE", "ERROR"


@dataclass
class Options:
    seed: int = 0
    memory_cap: int = 2**30
    checked: bool = True  # verify every rewrite numerically on its site
    dims: dict[str, int] = field(default_factory=dict)  # --dims: sizes used for these dimensions
    path: str = "auto"  # --path: how numeric checks decide (auto: exact where the statement allows)
    full_terms: bool = False  # --full-terms: expand/paths listings print terms with no let folded


@dataclass
class Result:
    """One output line of `diagalg check`."""

    source: Source
    kind: str
    status: str
    detail: str
    output: list[str] = field(default_factory=list)
    max_error: float | None = None
    seed: int | None = None
    #: the error figure the line prints (max|L − R| / S, see docs/language.md), None when none is printed
    error: float | None = None
    #: how the numeric check was decided: "exact", "float", or None when none ran
    path: str | None = None
    #: a symbolic ``ok`` whose numeric confirmation was inconclusive (counted apart in the summary)
    unconfirmed: bool = False
    #: wall time of the statement that produced this line (set by ``diagalg check``; None when not measured)
    seconds: float | None = None
    #: (caption, expression) of each term an ``expand`` or ``paths`` line lists, in its order
    #: (the caption is the term's output line): what the report and ``draw --line`` draw
    terms: tuple[tuple[str, Expr], ...] = ()

    def line(self, width: int = 60) -> str:
        text = self.source.text
        if len(text) > width:
            text = text[: width - 1].rstrip() + " …"
        return f"{self.source.path}:{self.source.line}: {self.status:<5} {text} {self.detail}".rstrip()

    def as_json(self) -> dict:
        return {
            "file": self.source.path,
            "line": self.source.line,
            "kind": self.kind,
            "status": self.status,
            "statement": self.source.text,
            "detail": self.detail.strip(),
            "output": self.output,
            "max_error": self.max_error,
            "error": self.error,
            "path": self.path,
            "seed": self.seed,
            "unconfirmed": self.unconfirmed,
            "seconds": self.seconds,
        }


def _fmt(x: float) -> str:
    return f"{x:.1g}" if x < 1e-3 else f"{x:.3g}"


def _checked(n: NumericResult) -> str:
    """How an equal numeric result was established: ``exact`` or ``numeric 3e-16``."""
    return "exact" if n.path == "exact" else f"numeric {_fmt(n.rel_error)}"


def _difference(n: NumericResult) -> str:
    """A counterexample's figure: the relative error, or ``exact`` with the sizes it was found at."""
    if n.path == "exact":
        at = ", ".join(f"{k}={v}" for k, v in sorted(n.sizes.items()))
        return f"exact difference{' at ' + at if at else ''}"
    return f"max error {_fmt(n.rel_error)}"


def _figures(n: NumericResult) -> dict:
    """The Result fields every numeric line carries (one definition of its figure)."""
    return {
        "max_error": n.max_error,
        "seed": n.seed,
        "path": n.path,
        "error": None if n.path == "exact" and n.status == "different" else n.rel_error,
    }


def _standins(n: NumericResult) -> str:
    if not n.standins:
        return ""
    parts = [
        f"{name}={sizes[0]} checked as {' and '.join(map(str, sizes[1:]))}"
        for name, sizes in sorted(n.standins.items())
    ]
    return "; " + ", ".join(parts)


class Checker:
    def __init__(self, program: Program, options: Options | None = None) -> None:
        self.program = program
        self.options = options or Options()
        self.subs = program.env.concrete_subs()
        from .rules.user import user_rules

        self.user_rules = user_rules(program)
        self.refused: dict[str, int] = {}

    # ------------------------------------------------------------------ helpers
    @property
    def folds(self) -> Folds | None:
        """The lets a listed term may fold into (None with --full-terms): computed once."""
        if self.options.full_terms:
            return None
        if not hasattr(self, "_folds"):
            from .term_text import let_folds

            self._folds = let_folds(self.program.lets)
        return self._folds

    def numeric(self, lhs: Expr, rhs: Expr, expect_equal: bool = True, also: Sequence[Expr] = ()) -> NumericResult:
        return compare(
            lhs,
            rhs,
            self.program.env,
            seed=self.options.seed,
            memory_cap=self.options.memory_cap,
            expect_equal=expect_equal,
            binding=self.program.binding,
            dims=self.options.dims,
            path=self.options.path,
            also=also,
        )

    def rules_for(self, names: Sequence[str] | None) -> tuple[str, ...]:
        if names is None:
            return DEFAULT_RULES
        return tuple(dict.fromkeys(tuple(DEFAULT_RULES) + tuple(names)))

    def normal(self, unfolded: Expr, rules: Sequence[str]) -> Expr:
        """An expression whose lets are unfolded (:func:`unfold`: each statement unfolds its
        sides once, for the proof and the numeric check alike), simplified for a proof,
        each exactly decomposed tensor replaced by its factors (like a let, whatever rules
        are named)."""
        rules = tuple(dict.fromkeys(tuple(rules) + tuple(self.program.auto_rules)))
        return simplify(
            unfolded,
            rules=rules,
            subs=self.subs,
            checked=self.options.checked,
            env=self.program.env,
            seed=self.options.seed,
            extra_rules=self.user_rules,
        ).result

    # ------------------------------------------------------------------ statements
    def run(self) -> list[Result]:
        out: list[Result] = []
        for stmt in self.program.statements:
            out.extend(self.run_statement(stmt))
        return out

    def run_statement(self, stmt: RunStmt) -> list[Result]:
        """The result lines of one statement; a bug in diagalg becomes an internal-error
        line (exit 3) instead of stopping the run."""
        out: list[Result] = []
        used = set(getattr(stmt, "rules", None) or ())
        for step in getattr(stmt, "steps", ()):
            used |= set(step.rules or ())
        refused = sorted(used & set(self.refused))
        if refused:
            r = refused[0]
            return [
                Result(
                    stmt.source,
                    "statement",
                    FAIL,
                    f"uses rule '{r}', which was refused at line {self.refused[r]} (it is numerically false)",
                )
            ]
        handler = _HANDLERS.get(type(stmt))
        if handler is None:  # declarations: nothing runs
            return out
        try:
            produced = getattr(self, handler)(stmt)
            out.extend(produced if isinstance(produced, list) else [produced])
        except UnsoundRewrite as e:
            out.append(Result(stmt.source, "statement", INTERNAL, f"internal error: {e}"))
        except StepLimit as e:
            out.append(Result(stmt.source, "statement", INCONCLUSIVE, str(e)))
        except RecursionError:
            out.append(
                Result(stmt.source, "statement", INCONCLUSIVE, "inconclusive: expression nested too deeply to check")
            )
        except Exception as e:  # noqa: BLE001 - reported as a bug in diagalg, run continues
            out.append(Result(stmt.source, "statement", INTERNAL, f"internal error: {type(e).__name__}: {e}"))
        return out

    def check_assert(self, s: AssertStmt) -> Result:
        if s.op == "!=":
            return self.check_not_equal(s)
        lhs_u, rhs_u = unfold(s.lhs), unfold(s.rhs)
        if s.numeric:
            n = self.numeric(lhs_u, rhs_u)
            if n.status == "equal":
                return Result(s.source, "assert", OK, f"[{_checked(n)}{_standins(n)}]", **_figures(n))
            return self.numeric_failure(s.source, n)
        rules = self.rules_for(s.rules)
        lhs, rhs = self.normal(lhs_u, rules), self.normal(rhs_u, rules)
        proved = canonical_equal(lhs, rhs, self.subs)
        n = self.numeric(lhs_u, rhs_u, also=(lhs, rhs))
        if proved:
            if n.status == "different":
                return Result(
                    s.source,
                    "assert",
                    INTERNAL,
                    f"internal error: proved symbolically (rules {', '.join(rules)}) but numerically "
                    f"different: {_difference(n)} (seed {n.seed})",
                    **_figures(n),
                )
            if n.status == "inconclusive":
                return Result(
                    s.source,
                    "assert",
                    OK,
                    f"[symbolic; numeric inconclusive: {n.reason}]",
                    seed=n.seed,
                    unconfirmed=True,
                )
            return Result(s.source, "assert", OK, f"[symbolic; {_checked(n)}{_standins(n)}]", **_figures(n))
        if n.status == "equal":
            return Result(
                s.source,
                "assert",
                FAIL,
                "not proved symbolically; numerically equal: no built-in rule reaches it; "
                "state a rule and name it with by, or use assert numeric",
                **_figures(n),
                output=[f"left simplifies to:  {expr_text(lhs)}", f"right simplifies to: {expr_text(rhs)}"],
            )
        return self.numeric_failure(s.source, n)

    def numeric_failure(self, source: Source, n: NumericResult) -> Result:
        if n.status == "different":
            return Result(
                source, "assert", FAIL, f"not equal: {_difference(n)} (seed {n.seed}){_standins(n)}", **_figures(n)
            )
        return Result(source, "assert", INCONCLUSIVE, f"inconclusive: {n.reason}", seed=n.seed)

    def check_not_equal(self, s: AssertStmt) -> Result:
        n = self.numeric(unfold(s.lhs), unfold(s.rhs), expect_equal=False)
        if n.status == "different":
            differ = "exact: differ" if n.path == "exact" else f"numeric: differ by {_fmt(n.rel_error)}"
            return Result(s.source, "assert", OK, f"[{differ}{_standins(n)}]", **_figures(n))
        if n.status == "equal":
            how = (
                "exactly equal on every draw ("
                if n.path == "exact"
                else f"numerically equal on every draw (max error {_fmt(n.rel_error)}, "
            )
            return Result(s.source, "assert", FAIL, f"{how}seed {n.seed})", **_figures(n))
        return Result(s.source, "assert", INCONCLUSIVE, f"inconclusive: {n.reason}", seed=n.seed)

    def check_show(self, s: ShowStmt) -> Result:
        rules = self.rules_for(s.rules)
        start = unfold(s.expr) if s.unfold else s.expr
        result = simplify(
            start,
            rules=rules,
            subs=self.subs,
            checked=self.options.checked,
            env=self.program.env,
            seed=self.options.seed,
            extra_rules=self.user_rules,
        ).result
        n = self.numeric(unfold(s.expr), unfold(result))
        text = expr_text(result)
        if n.status == "different":
            return Result(
                s.source,
                "show",
                INTERNAL,
                f"internal error: simplification changed the value ({_difference(n)}, seed {n.seed})",
                output=[text],
                **_figures(n),
            )
        detail = f"[{_checked(n)}]" if n.status == "equal" else f"[numeric inconclusive: {n.reason}]"
        return Result(s.source, "show", OK, detail, output=[text], unconfirmed=n.status != "equal", **_figures(n))

    def check_expand(self, s: ExpandStmt) -> Result:
        """``expand``: every term (labelled by the summands it chose), and a numeric check
        that they sum to E. ``paths``: every path with its name and order; their sum is
        checked when no path is approximate."""
        from itertools import islice

        from .expand import count_paths, count_terms, expand_terms, paths, skip_tags

        start = unfold(s.expr)
        lines: list[str] = []
        if s.top is not None:
            return self.check_top(s, start)
        if s.kind == "expand":
            over = dict(s.over)
            count = count_terms(start, over)
            shown = list(islice(expand_terms(start, over), PRINT_LIMIT))
            for t in shown:
                lines.append(f"{_provenance(t.tags)}{_term_text(t, self.folds)}{_nonlinear_note(t)}")
            terms, exact = shown, True
            what = f"{count} term{'s' if count != 1 else ''}"
        else:
            over = dict(s.over)
            skips = skip_tags(s.expr)
            count = count_paths(start, over, skips=skips)
            found = list(islice(paths(start, over, skips), PRINT_LIMIT))
            for p in found:
                lines.append(f"{p.name} ({p.kind}) {_provenance(p.term.tags)}{_term_text(p.term, self.folds)}")
            terms = [p.term for p in found]
            exact = not any(p.approximate for p in found)
            n_approx = sum(p.approximate for p in found)
            what = f"{count} path{'s' if count != 1 else ''}" + (f", {n_approx} approximate" if n_approx else "")
        drawn = _drawn_terms(lines, terms, start)
        if count > PRINT_LIMIT:
            lines.append(f"... and {count - PRINT_LIMIT} more")
        if not exact:
            return Result(
                s.source, s.kind, OK, f"[{what}: paths through a bubble do not sum to E]", output=lines, terms=drawn
            )
        if count > PRINT_LIMIT:
            return Result(
                s.source,
                s.kind,
                OK,
                f"[{what}; numeric check skipped: more than {PRINT_LIMIT} terms]",
                output=lines,
                terms=drawn,
            )
        n = self.numeric(start, Expr.of([_plain(t) for t in terms], start.free_dims))
        if n.status == "different":
            return Result(
                s.source,
                s.kind,
                INTERNAL,
                f"internal error: the terms do not sum to E ({_difference(n)}, seed {n.seed})",
                output=lines,
                terms=drawn,
                **_figures(n),
            )
        checked = "sum checked exactly" if n.path == "exact" else _checked(n)
        detail = f"[{what}, exact; {checked}]" if n.status == "equal" else f"[{what}; numeric inconclusive: {n.reason}]"
        return Result(
            s.source, s.kind, OK, detail, output=lines, unconfirmed=n.status != "equal", terms=drawn, **_figures(n)
        )

    def check_top(self, s: ExpandStmt, start: Expr) -> Result:
        """``expand E [over h] top K [by M]``: the K largest terms by Frobenius norm, or by
        the magnitude of their signed contribution ``<M, term>``, on the bound weights (or
        one random draw), by best-first search with a proven bound. With a metric the
        contributions of all terms sum to ``<M, E>`` (the expansion is exact): the check is
        printed when every term was evaluated, the unexplained remainder otherwise."""
        import numpy as np

        from .expand import count_terms
        from .numeric.check import collect, draw_instance, fixed_inputs
        from .numeric.errors import NumericError
        from .numeric.evaluate import evaluate
        from .numeric.sizes import sample_sizes
        from .rank import top_terms

        assert s.top is not None  # check_expand runs only a `top K` statement here
        over = dict(s.over)
        rng = np.random.default_rng(self.options.seed)
        metric = unfold(s.metric) if s.metric is not None else None
        decls, funcs, syms = collect([start] + ([metric] if metric is not None else []))
        binding = self.program.binding
        labels = list(start.labels)
        try:
            exact, bound = fixed_inputs(self.program.env, decls, binding, self.options.dims)
            draw = sample_sizes(syms, self.program.env, decls.values(), rng, exact=exact)
            inst = draw_instance(decls, funcs, draw, rng, self.options.memory_cap, bound)
            m = None if metric is None else evaluate(metric, inst, labels).array
            if s.kind == "paths":
                return self._top_paths(s, start, inst, over, m)
            count = count_terms(start, over)
            # with a metric and few terms, score them all: the ranking and the sum are then complete
            want = count if m is not None and count <= PRINT_LIMIT else s.top
            res = top_terms(start, want, inst, over, metric=m)
            whole = None if m is None else complex(np.sum(m * evaluate(start, inst, labels).array)).real
        except NumericError as e:
            return Result(s.source, s.kind, INCONCLUSIVE, f"inconclusive: {e}")
        on = "the bound weights" if binding else f"a random draw (seed {self.options.seed})"
        how = "proven" if res.proven else _not_proven(res)
        shown = res.terms[: s.top]
        metric_name = _metric_name(s) if m is not None else None
        lines = [
            f"{_score_text(r.norm, r.value, metric_name)}  {_provenance(r.term.tags)}{_term_text(r.term, self.folds)}"
            for r in shown
        ]
        drawn = _drawn_terms(lines, [r.term for r in shown], start)
        by = f"|<{_metric_name(s)}, term>|" if m is not None else ("|value|" if not labels else "Frobenius norm")
        detail = (
            f"[top {len(shown)} of {count} terms by {by} on {on}, {how}; "
            f"{res.evaluated} terms evaluated, {res.states} states]"
        )
        if m is not None:
            assert whole is not None  # computed whenever there is a metric
            lines.append(
                _sum_line(
                    _metric_name(s),
                    whole,
                    [r.value or 0.0 for r in res.terms],
                    len(shown),
                    complete=res.proven and len(res.terms) == count,
                    exact=True,
                )
            )
        return Result(s.source, s.kind, OK if res.proven else INCONCLUSIVE, detail, output=lines, terms=drawn)

    def _top_paths(
        self, s: ExpandStmt, start: Expr, inst: Instance, over: Mapping[str, int], metric: np.ndarray | None = None
    ) -> Result:
        import numpy as np

        from .expand import count_paths, skip_tags
        from .numeric.evaluate import evaluate
        from .rank import top_paths

        assert s.top is not None  # a `top K` statement (see check_top)
        skips = skip_tags(s.expr)
        res = top_paths(start, s.top, inst, over, metric=metric, skips=skips)
        count = count_paths(start, over, skips=skips)
        on = "the bound weights" if self.program.binding else f"a random draw (seed {self.options.seed})"
        how = (
            "proven (every path evaluated)"
            if res.proven
            else f"NOT proven: the budget ran out after {res.evaluated} of {count} paths"
        )
        lines = []
        for (size, p), value in zip(res.paths, res.values):
            lines.append(
                f"{_score_text(size, value, _metric_name(s) if metric is not None else None)}  {p.name} ({p.kind}) "
                f"{_provenance(p.term.tags)}{_term_text(p.term, self.folds)}"
            )
        drawn = _drawn_terms(lines, [p.term for _, p in res.paths], start)
        by = (
            f"|<{_metric_name(s)}, path>|"
            if metric is not None
            else ("|value|" if not start.labels else "Frobenius norm")
        )
        detail = f"[top {len(res.paths)} of {count} paths by {by} on {on}, {how}]"
        if metric is not None:
            whole = complex(np.sum(metric * evaluate(start, inst, list(start.labels)).array)).real
            if res.all_exact:
                lines.append(
                    _sum_line(
                        _metric_name(s),
                        whole,
                        [res.total or 0.0],
                        len(res.paths),
                        complete=res.proven,
                        exact=True,
                        listed=sum(v or 0.0 for v in res.values),
                    )
                )
            else:
                lines.append(
                    f"<{_metric_name(s)}, E> = {whole:+.6g}; paths through a softmax are approximate "
                    "(attention patterns not frozen): their contributions are not claimed to sum to it"
                )
        return Result(s.source, s.kind, OK if res.proven else INCONCLUSIVE, detail, output=lines, terms=drawn)

    def run_draw(self, s: DrawStmt) -> Result:
        """``draw E to "f.svg"``: write the drawing (format by extension)."""
        from .errors import DiagalgError
        from .render import write

        try:
            if s.values:
                from .values_figure import write_values

                write_values(s.expr, self.program, s.target, self.options.seed, folded=s.folded)
            else:
                write(s.expr, self.program, s.target, folded=s.folded)
        except (DiagalgError, OSError) as e:
            return Result(s.source, "draw", FAIL, f"not drawn: {e}")
        return Result(s.source, "draw", OK, f"[wrote {s.path}]")

    def check_rule(self, s: RuleStmt) -> Result:
        n = self.numeric(unfold(s.rule.lhs), unfold(s.rule.rhs))
        if n.status == "equal":
            return Result(s.source, "rule", OK, f"[{_checked(n)}]", **_figures(n))
        if n.status == "different":
            self.refused[s.rule.name] = s.source.line
            return Result(
                s.source,
                "rule",
                FAIL,
                f"rule refused: its sides are not equal: {_difference(n)} (seed {n.seed})",
                **_figures(n),
            )
        return Result(s.source, "rule", INCONCLUSIVE, f"inconclusive: {n.reason}")

    def check_decompose(self, s: DecomposeStmt) -> Result:
        """Compute the factors on random draws: an exact decomposition must reassemble the
        target; an approximation reports its error and checks the guarantee of its kind."""
        from .decompose_check import check_decomposition

        c = check_decomposition(
            s, self.program, seed=self.options.seed, memory_cap=self.options.memory_cap, dims=self.options.dims
        )
        return Result(
            s.source,
            "decompose",
            {"ok": OK, "fail": FAIL, "inconclusive": INCONCLUSIVE, "internal": INTERNAL}[c.status],
            c.detail,
            output=c.lines,
            max_error=c.max_error,
            seed=self.options.seed,
        )

    def check_cost(self, s: CostStmt) -> Result:
        """Contraction order, symbolic FLOPs and peak memory, compared with other orders,
        with the figures checked against opt_einsum's own count at concrete sizes."""
        from .cost import cost_report

        rep = cost_report(s.expr, self.program.env, dims=self.options.dims)
        status = OK if rep.agrees else INTERNAL
        return Result(s.source, "cost", status, rep.detail, output=rep.lines)

    def check_calc(self, s: CalcStmt) -> list[Result]:
        out = []
        prev = unfold(s.expr)
        for k, step in enumerate(s.steps, start=1):
            rules = self.calc_rules(step.rules)
            named = ", ".join(step.rules) if step.rules is not None else "default rules"
            here = unfold(step.expr)
            reached = self.reaches(prev, here, rules)
            n = self.numeric(prev, here)
            if n.status == "different":
                res = Result(
                    step.source,
                    "calc",
                    FAIL,
                    f"step {k}: numerically false: {_difference(n)} (seed {n.seed})",
                    **_figures(n),
                )
            elif not reached:
                hint = self.reachable_hint(prev, here, step.rules)
                res = Result(step.source, "calc", FAIL, f"step {k}: not reachable with {{{named}}}{hint}")
            elif n.status == "inconclusive":
                res = Result(step.source, "calc", INCONCLUSIVE, f"step {k}: inconclusive: {n.reason}")
            else:
                res = Result(step.source, "calc", OK, f"[step {k} by {named}; {_checked(n)}]", **_figures(n))
            out.append(res)
            prev = here
        return out

    # ------------------------------------------------------------------ calc helpers
    @staticmethod
    def calc_rules(names: Sequence[str] | None) -> tuple[str, ...]:
        """A step's rules: the named ones plus the implied clean-ups delta and collect
        (all default rules when no `by` is given)."""
        if names is None:
            return DEFAULT_RULES
        return tuple(dict.fromkeys(tuple(names) + ("delta", "collect")))

    def reaches(self, prev: Expr, step: Expr, rules: Sequence[str]) -> bool:
        """True when ``rules`` turn ``prev`` into ``step`` (both with lets unfolded)."""
        return canonical_equal(self.normal(prev, rules), self.normal(step, rules), self.subs)

    def reachable_hint(self, prev: Expr, step: Expr, names: Sequence[str] | None) -> str:
        """Which rules would reach the step: the named ones plus one more, else the defaults."""
        if names is None:
            return ""
        for extra in DEFAULT_RULES:
            if extra in names or extra in ("delta", "collect"):
                continue
            trial = tuple(names) + (extra,)
            if self.reaches(prev, step, self.calc_rules(trial)):
                return f"; reachable with {{{', '.join(trial)}}}"
        if self.reaches(prev, step, DEFAULT_RULES):
            return "; reachable with the default rules"
        return ""


#: Which method of :class:`Checker` runs each statement that runs (declarations are not
#: statements here); a new statement kind is one entry and one method.
_HANDLERS = {
    AssertStmt: "check_assert",
    ShowStmt: "check_show",
    CalcStmt: "check_calc",
    RuleStmt: "check_rule",
    ExpandStmt: "check_expand",
    DecomposeStmt: "check_decompose",
    CostStmt: "check_cost",
    DrawStmt: "run_draw",
}

#: expansions print (and check) at most this many terms
PRINT_LIMIT = 200


def _drawn_terms(lines: Sequence[str], terms: Sequence[Term], start: Expr) -> tuple[tuple[str, Expr], ...]:
    """Each listed term as (its output line, the term as an expression on E's labels): the
    report and ``draw --line`` draw them under the lines ``check`` prints."""
    return tuple((line, Expr.of([_plain(t)], start.free_dims)) for line, t in zip(lines, terms))


def _plain(t: Term) -> Term:
    """A term with no tags anywhere (tags inside bubbles are provenance, not syntax)."""
    from .model import Term, walk_term

    return walk_term(t, lambda x: Term(x.coeff, x.diagram))


def _term_text(t: Term, folds: Folds | None = None) -> str:
    """A listed term as .diag text: full, or short with ``folds`` (diagalg.term_text)."""
    from .term_text import term_text

    return term_text(t, folds)


def _score_text(size: float, value: float | None, metric: str | None) -> str:
    """The ranking column: a signed contribution ``<P[q, k],·> +1.234`` (the metric as
    written after ``by``), a scalar term's signed value ``= -0.5`` (its norm would lose
    the sign), or a norm ``‖·‖ 1.7``."""
    if value is not None:
        return f"{f'<{metric},·>' if metric is not None else '='} {value:+.6g}"
    return f"‖·‖ {size:.4g}"


def _not_proven(res: TopResult) -> str:
    """Why a ``top K`` search stopped without a proof: the estimate of the work said so
    early, or the budget ran out."""
    from .rank import MAX_STATES

    if res.stopped == "estimate":
        return (
            f"NOT proven: about {res.estimate:.2g} search states would be needed (estimated from the bounds "
            f"after {res.states} states), far over the budget of {MAX_STATES}; these are the best found"
        )
    return "NOT proven: the search budget ran out, these are the best found"


def _metric_name(s: ExpandStmt) -> str:
    """The metric as the user wrote it after `by` (from the statement's text), else M."""
    text = s.source.text
    at = text.rfind(" by ")
    return text[at + 4 :].strip() if at >= 0 else "M"


def _sum_line(
    name: str,
    whole: float,
    values: list[float],
    listed_n: int,
    complete: bool,
    exact: bool,
    listed: float | None = None,
) -> str:
    """The line that accounts for the contributions: with every term evaluated, their sum
    checked against ``<M, E>``; otherwise the listed terms' share and the remainder."""
    total = float(sum(values))
    shown = float(sum(values[:listed_n])) if listed is None else listed
    scale = max(abs(whole), max((abs(v) for v in values), default=0.0), 1e-300)
    if complete:
        err = abs(total - whole) / scale
        verdict = "checked" if err <= 1e-9 else "MISMATCH"
        return (
            f"<{name}, E> = {whole:+.6g}: every term evaluated, contributions sum to {total:+.6g} "
            f"({verdict}, relative error {err:.1g}); the {listed_n} listed give {shown:+.6g}, "
            f"the rest {whole - shown:+.6g}"
        )
    return (
        f"<{name}, E> = {whole:+.6g}: the {listed_n} listed give {shown:+.6g}; unexplained remainder "
        f"{whole - shown:+.6g} (the search stopped before evaluating every term)"
    )


def _provenance(tags: Sequence[str]) -> str:
    return f"[{' · '.join(tags)}] " if tags else ""


def _nonlinear_note(t: Term) -> str:
    from .model import BubbleOp

    def sum_in_bubble(d: Diagram, inside: bool) -> bool:
        for n in d.nodes:
            if isinstance(n.op, BubbleOp):
                if len(n.op.inner.terms) > 1 or any(sum_in_bubble(x.diagram, True) for x in n.op.inner.terms):
                    return True
        return False

    return "   (nonlinear: a sum inside a bubble)" if sum_in_bubble(t.diagram, False) else ""


def summary_text(results: Sequence[Result]) -> str:
    """``3 ok, 1 ok unconfirmed, 1 failed, 2 inconclusive, 1 internal errors`` (the parts that
    are not zero, ok and failed always): the summary line of ``check`` and of its report."""
    counts = {s: sum(1 for r in results if r.status == s) for s in (OK, FAIL, INCONCLUSIVE, INTERNAL)}
    unconfirmed = sum(1 for r in results if r.status == OK and r.unconfirmed)
    text = f"{counts[OK] - unconfirmed} ok"
    if unconfirmed:
        text += f", {unconfirmed} ok unconfirmed"
    text += f", {counts[FAIL]} failed"
    if counts[INCONCLUSIVE]:
        text += f", {counts[INCONCLUSIVE]} inconclusive"
    if counts[INTERNAL]:
        text += f", {counts[INTERNAL]} internal errors"
    return text


def exit_status(results: Sequence[Result]) -> int:
    """3 if any internal error, else 1 if any failure, else 4 if inconclusive, else 0."""
    statuses = {r.status for r in results}
    if INTERNAL in statuses:
        return 3
    if FAIL in statuses:
        return 1
    if INCONCLUSIVE in statuses:
        return 4
    return 0
