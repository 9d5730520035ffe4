"""The rewriting engine: apply named rules to a fixed point, recording each step.

Termination: every diagram rule but the elementwise ones (below) strictly
decreases the measure (number of nodes + number of edges + total ``inv`` depth, summed over the
diagram and, weighted by nesting, its nested expressions): ``delta`` removes a
node or a closed-loop edge, ``isometry``/``inverse`` remove two nodes or two
``inv`` levels, ``distribute`` replaces a box by its terms' nodes, each of
which is smaller than the box (the box counts its whole contents plus one).
:func:`diagram_measure` computes it. The one rewrite that keeps the measure,
``shift``'s orientation ``shift(-o)[a, b] -> shift(o)[b, a]``, lowers the number
of negative shift offsets, which no rewrite raises (lexicographic order).

The elementwise rules (:mod:`diagalg.powers`) copy parts of a term, so they are
ordered by a recursive path order (RPO) first: read a term as a tree whose
products and sums are multisets of factors and terms, whose nested expressions
are the arguments of their node, and whose ``exp(a₁ + … + aₘ)`` is the product
``exp(a₁) ⊙ … ⊙ exp(aₘ)``, with the precedence derivative > ``pow`` > ``exp``,
``log`` > other nodes > product > sum, exponents and coefficients ignored. Then
``pow_expand`` (``pow(E, k)`` -> k copies of E: copies of a proper part, below
``pow``), ``pow_split`` (``pow(F ⊙ G)`` -> ``pow(F) ⊙ pow(G)``: distributing a
higher symbol over a lower one), ``pow_nest`` (``pow(pow(D))`` -> ``pow(D)``,
``pow(exp(E))`` -> ``exp(bE)``), ``pow_collect`` (a bubble and at least one more
occurrence of a base -> one bubble of the same base, or copies of it), ``log_exp``
(two bubbles -> their argument) and ``softmax_sum`` (a node goes) all decrease
it, and so do the other rules (they remove nodes or summands, and ``derivative``
replaces a derivative by terms built from its argument's parts and lower symbols).
``elementwise_reshape`` (``f(E ⊙ P)`` -> ``f(E) ⊙ P`` for a group, split or shift
node P) moves a factor out of a bubble, which lowers it (no rule moves a node into
a bubble). ``exp_product`` (``exp(a) ⊙ exp(b)`` -> ``exp(a + b)``, ``exp(0)`` -> 1) keeps
it and lowers the next component, the number of ``exp`` bubbles; the diagram
measure above comes after both. ``distribution_sum`` removes a node.

The matrix-function rules come first in the order: the number of derivative
nodes, then of ``inv`` bubbles, then of softmax bubbles over a partitioned axis,
then the path order and the measures above. ``inverse_expr`` (``inv(c X)`` ->
``inv(X)/c``, ``inv(c inv(M))`` -> M/c), ``inverse_product`` (``inv(A B ⋯)`` -> the
factors' inverses, tensor nodes), ``inverse_cancel`` (E ``inv(E)`` -> identities)
and ``det_inverse`` (``det(inv(M))`` -> ``pow(det(M), -1)``) each remove an ``inv``
bubble, and only ``derivative`` (which removes a derivative) makes one.
``softmax_reshape`` (softmax over a grouped axis -> exp over the normaliser of all
blocks) removes such a softmax, and none is made: ``softmax_fold`` folds an exp
only after ``elementwise_reshape``, earlier in the order, has moved any reshape out
of it. ``det_product`` (``det(A B ⋯)`` -> ``det(A) det(B) ⋯``) lowers the path order
(each factor is a proper part of the product, and ``det`` is above products);
``inverse_transposed`` removes two nodes, like ``inverse``; ``unitary_inverse``
(``inv(U)`` -> ``conj(U)`` on the transposed legs) keeps the nodes and edges and
lowers the total ``inv`` depth of the diagram measure.

Sum rules run once on the simplified sum. ``pow_sum`` (``pow(S, a)`` times a
cofactor that S divides -> ``pow(S, a + 1)`` times the quotient) lowers the
cofactor's degree; its output is simplified again, at most
:data:`MAX_SUM_PASSES` levels deep.

User rules carry no such guarantee. A user rule whose right-side terms are all
smaller than its left side (``shrinks``) is applied like a built-in rule. Any
other user rule is applied at most once to each distinct term (by canonical
key, coefficient ignored), so a rule that reproduces its own left side
(``tr(A A)`` under Cayley-Hamilton) stops instead of looping, and at most
:data:`MAX_GROWING_STEPS` times per simplification, after which
:class:`StepLimit` names the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence, cast

from .model import BoxOp, BubbleOp, DerivOp, Diagram, Expr, NestedOp, Node, Term, map_nested, replace_node, walk_terms
from .numeric.sizes import standin_sizes
from .rules import DEFAULT_RULES, SUM_RULES, all_rules, get_rule
from .rules.base import Edit, ResimplifyingSumRule, Rewriter, Rule, Site, SumRule, apply_edits, disjoint_sites

if TYPE_CHECKING:
    from .dims import DimEnv

MAX_STEPS = 200_000
MAX_GROWING_STEPS = 2_000
#: A sum rule whose output is simplified again (``resimplify``: ``pow_sum``) is applied at
#: most this many times in a row to one sum (each application also lowers a degree).
MAX_SUM_PASSES = 8


def diagram_measure(d: Diagram) -> int:
    """The termination measure of built-in rules: nodes + edges + ``inv`` depth, with each
    nested expression (bubble, derivative, parenthesised box) counted whole plus one."""
    total = len(d.nodes) + len(d.dims)
    for n in d.nodes:
        op = n.op
        if isinstance(op, (BubbleOp, DerivOp, BoxOp)):
            total += 1 + sum(diagram_measure(t.diagram) for t in op.inner.terms)
        else:
            total += getattr(op, "inv", 0)
    return total


@dataclass(frozen=True)
class Step:
    """One rewrite: which rule, how many sites, the term before and after."""

    rule: str
    sites: int
    before: Term
    after: tuple[Term, ...]
    check_error: float | None = None  # largest relative numeric error of its sites (checked mode)
    check_exact: bool = False  # every site was decided exactly over prime fields (check_error is then 0)


@dataclass
class Derivation:
    """The result of simplification and the steps that led to it."""

    start: Expr
    result: Expr
    steps: list[Step] = field(default_factory=list)
    checks: int = 0  # numeric site checks run (checked mode)

    def states(self) -> list[tuple[Expr, Step | None]]:
        """The derivation as whole expressions: the start, then the expression after
        each top-level step (steps inside bubbles appear as one "inside" step), then
        the collected result."""
        current = list(self.start.terms)
        out: list[tuple[Expr, Step | None]] = [(self.start, None)]
        for step in self.steps:
            at = next((k for k, t in enumerate(current) if t is step.before), None)
            if at is None:
                continue  # a step on an expression nested in a bubble: shown by its "inside" step
            current[at : at + 1] = [t for t in step.after if t.coeff != 0]
            out.append((Expr.of(current, self.start.free_dims), step))
        if out[-1][0].terms != self.result.terms:
            out.append((self.result, None))
        return out

    # Jupyter display (diagalg.render.notebook): the traced steps, drawn
    def _repr_html_(self) -> str:
        from .render.notebook import derivation_html

        return derivation_html(self)

    def _repr_svg_(self) -> str:
        from .render.notebook import derivation_svg

        return derivation_svg(self)

    def _repr_latex_(self) -> str:
        from .render.notebook import derivation_latex

        return derivation_latex(self)


class StepLimit(Exception):
    pass


class UnsoundRewrite(Exception):
    """A rewrite changed the value of its site: a bug in a rule (reported as exit 3)."""

    def __init__(self, rule: str, site: str, max_error: float, seed: int) -> None:
        super().__init__(f"rule '{rule}' changed the value at {site}: max error {max_error:.3g} (seed {seed})")
        self.rule, self.site, self.max_error, self.seed = rule, site, max_error, seed


def local_view(diagram: Diagram, site: Site) -> tuple[Diagram, Site]:
    """The site as an open diagram of its own: its nodes, the edges they touch, and as
    free labels every touched edge that something outside the site uses (or that
    carries a label). Rules are local, so checking a rewrite here checks it everywhere."""
    inside = set(site.nodes)
    index = {old: new for new, old in enumerate(site.nodes)}
    nodes = [diagram.nodes[i] for i in site.nodes]
    edges = {e for n in nodes for e in n.edges} | set(site.edges)
    free = {}
    for e in edges:
        outside = any(ni not in inside for ni, _ in diagram.incidence[e])
        if outside or diagram.edge_labels[e]:
            free[e] = e
    local = Diagram.build(nodes, {e: diagram.dims[e] for e in edges}, free)
    return local, Site(tuple(index[i] for i in site.nodes), site.edges, site.data)


def _pair_key(before: Expr, after: Expr) -> object:
    """A key of (site, rewrite) up to renaming of the site's labels: both as boxes on
    the same boundary edges, canonically labelled, so the boundary correspondence counts."""
    from .canonical import canonical_key

    ports = before.labels
    dims = dict(before.free)
    nodes = [Node(BoxOp(before, ports, "@before"), ports), Node(BoxOp(after, ports, "@after"), ports)]
    return canonical_key(Diagram.build(nodes, dims, {}))


def _site_text(local: Diagram) -> str:
    from .printing import expr_text

    return expr_text(Expr.single(local))


def _inline_single_term_boxes(term: Term) -> Term:
    """``c * D[(c' * D')]`` -> ``c c' * D D'``: an unnamed box holding one term is just
    its contents (the definition of a one-term ``let``); inlining it is no rewrite."""
    d = term.diagram
    coeff = term.coeff
    while True:
        at = next(
            (
                k
                for k, n in enumerate(d.nodes)
                if isinstance(n.op, BoxOp) and n.op.name is None and len(n.op.inner.terms) == 1
            ),
            None,
        )
        if at is None:
            return term if d is term.diagram else Term(coeff, d, term.tags)
        box = d.nodes[at].op
        assert isinstance(box, BoxOp)  # the node just found
        (inner,) = box.inner.terms
        d = replace_node(d, at, inner.diagram)
        coeff = coeff * inner.coeff


def unfold(expr: Expr) -> Expr:
    """Replace every folded ``let`` (named box) by its definition, everywhere; a
    one-term definition is inlined into the product that uses it."""

    def unfold_term(t: Term) -> Term:
        d = t.diagram
        if any(isinstance(n.op, BoxOp) and n.op.name is not None for n in d.nodes):
            d = d.with_nodes(
                [Node(replace(n.op, name=None), n.edges) if isinstance(n.op, BoxOp) else n for n in d.nodes]
            )
            t = Term(t.coeff, d, t.tags)
        return _inline_single_term_boxes(t)

    return walk_terms(expr, unfold_term)


class Engine:
    """Applies a set of rules. ``subs`` gives concrete dimensions their values (for collect).

    ``rules`` are names, applied in the given order (diagram rules), then the sum
    rules (collect). ``extra_rules`` (user rules by name) may not carry the name of
    a built-in rule: that raises ValueError, since the user rule would otherwise
    silently replace the built-in in every proof that uses it."""

    def __init__(
        self,
        rules: Sequence[str] = DEFAULT_RULES,
        subs: Mapping | None = None,
        record: bool = False,
        extra_rules: Mapping[str, Rewriter] | None = None,
        checked: bool = False,
        env: DimEnv | None = None,
        seed: int = 0,
    ) -> None:
        self.rule_names = tuple(rules)
        extra = dict(extra_rules or {})
        builtin = all_rules()
        for name, rule in extra.items():
            # a user rule never replaces a built-in (passing the built-in itself is no replacement)
            if name in builtin and rule is not builtin[name]:
                raise ValueError(
                    f"user rule {name!r} has the name of a built-in rule; built-in rules "
                    f"cannot be replaced (rename the user rule)"
                )
        # a registered name outside SUM_RULES is a diagram rule, one in it a sum rule
        self.diagram_rules: list[Rewriter] = [
            extra[r] if r in extra else cast(Rule, get_rule(r)) for r in self.rule_names if r not in SUM_RULES
        ]
        self.sum_rules = [cast(SumRule, get_rule(r)) for r in self.rule_names if r in SUM_RULES]
        self.subs = dict(subs or {})
        self.record = record
        self.steps: list[Step] = []
        self._nested: dict[Expr, Expr] = {}
        self._count = 0
        # checked mode: every rewrite is verified numerically on its site (O(site) per
        # step); verdicts are cached by the canonical shape of the site and its image
        self.checked = checked
        self.env = env
        self.seed = seed
        self._verdicts: dict[object, tuple[float, bool]] = {}
        self.checks = 0
        self._check_dims = (
            {} if env is None else {str(sym): size for sym, size in standin_sizes(env, SMALL_CONCRETE, 2).items()}
        )
        # rules that do not shrink diagrams (user rules): terms already rewritten by each
        self._growing_seen: dict[str, set] = {
            r.name: set() for r in self.diagram_rules if not getattr(r, "shrinks", True)
        }
        self._growing_count = 0
        self._sum_depth = 0  # nesting of sum rules that simplify their output again

    def simplify(self, expr: Expr) -> Expr:
        out: list[Term] = []
        work = list(reversed(expr.terms))
        while work:
            term = work.pop()
            if term.coeff == 0:
                continue
            inner = self.simplify_nested(term.diagram)
            if inner is not term.diagram:
                new = Term(term.coeff, inner, term.tags)
                if self.record:
                    self.steps.append(Step("inside", 1, term, (new,)))
                term = new
            term = _inline_single_term_boxes(term)  # a one-term box is its contents, not a rewrite
            produced = self.rewrite_once(term)
            if produced is None:
                out.append(term)
            else:
                work.extend(reversed(produced))
        result = Expr.of(out, expr.free_dims)
        for rule in self.sum_rules:  # collect: on the whole sum, after the diagram rules
            if getattr(rule, "resimplify", False):
                result = self._resimplified(cast(ResimplifyingSumRule, rule), result)
            else:
                result = rule.apply(result, self.subs)
        return result

    def _resimplified(self, rule: ResimplifyingSumRule, expr: Expr) -> Expr:
        """``expr`` after a sum rule whose new terms need the diagram rules again
        (``resimplify``): each replaced group recorded as a step and, in checked mode,
        compared numerically with what it replaces; then the whole sum simplified again,
        at most :data:`MAX_SUM_PASSES` levels deep."""
        if self._sum_depth >= MAX_SUM_PASSES:
            return expr
        found = rule.rewrites(expr, self.subs)
        if not found:
            return expr
        gone = {t for ts, _ in found for t in ts}
        terms = [term for t, term in enumerate(expr.terms) if t not in gone]
        for ts, new in found:
            before = [expr.terms[t] for t in ts]
            if self.checked:
                self.check_terms(rule.name, Expr.of(before, expr.free_dims), Expr.of(new, expr.free_dims))
            if self.record:
                self.steps.append(Step(rule.name, len(ts), before[0], tuple(new)))
            terms.extend(new)
        self._sum_depth += 1
        try:
            return self.simplify(Expr.of(terms, expr.free_dims))
        finally:
            self._sum_depth -= 1

    def check_terms(self, name: str, before: Expr, after: Expr) -> None:
        """Compare a sum rule's group of terms with its replacement numerically; raise
        UnsoundRewrite if they differ."""
        from .dims import DimEnv
        from .numeric.check import compare

        key = (name, _pair_key(before, after))
        if key in self._verdicts:
            return
        self.checks += 1
        env = self.env if self.env is not None else DimEnv()
        result = compare(unfold(before), unfold(after), env, seed=self.seed)
        if result.status == "different":
            raise UnsoundRewrite(name, "a group of terms", result.max_error, result.seed)
        self._verdicts[key] = (
            result.rel_error if result.status == "equal" else 0.0,
            result.status == "equal" and result.path == "exact",
        )

    def simplify_nested(self, d: Diagram) -> Diagram:
        """``d`` with the expressions nested in its bubbles, derivatives (by the
        :meth:`inside_derivative` engine) and unnamed boxes simplified; ``d`` itself when
        none changes. Folded lets (named boxes) stay as they are."""

        def simplified(op: NestedOp) -> Expr:
            if isinstance(op, DerivOp):
                return self.inside_derivative().nested(op.inner)
            if isinstance(op, BoxOp) and op.name is not None:
                return op.inner
            return self.nested(op.inner)

        return map_nested(d, simplified)

    def inside_derivative(self) -> "Engine":
        """The engine for a derivative's argument: only rules that hold for arbitrary
        entries of the variable (declared properties are ignored when differentiating)."""
        from .rules import DERIVATIVE_INNER_RULES

        if getattr(self, "_deriv_engine", None) is None:
            names = tuple(r for r in self.rule_names if r in DERIVATIVE_INNER_RULES)
            sub = Engine(names, self.subs, self.record, checked=self.checked, env=self.env, seed=self.seed)
            sub.steps = self.steps
            sub._verdicts = self._verdicts
            self._deriv_engine = sub
        return self._deriv_engine

    def nested(self, e: Expr) -> Expr:
        if e not in self._nested:
            r = self.simplify(e)
            r = e if r == e else r
            self._nested[e] = r
            self._nested.setdefault(r, r)  # a simplified expression is its own fixed point
        return self._nested[e]

    def rewrite_once(self, term: Term) -> list[Term] | None:
        d = term.diagram
        for rule in self.diagram_rules:
            sites = list(rule.match(d))
            if not sites:
                continue
            if rule.name in self._growing_seen and not self._admit_growing(rule.name, d):
                continue
            self._count += 1
            if self._count > MAX_STEPS:
                raise StepLimit(f"simplification stopped after {MAX_STEPS} steps")
            first = rule.rewrite(d, sites[0])
            errors: list[tuple[float, bool]] = []
            if isinstance(first, list):
                produced = [Term(term.coeff * c, di, term.tags) for c, di in first]
                nsites = 1
                if self.checked:
                    errors.append(self.check_site(rule, d, sites[0], term, produced))
            else:
                kept = disjoint_sites(sites)
                # a rule whose first rewrite is an Edit rewrites every site to an Edit
                edits = cast(
                    "list[Edit]",
                    [first] + [rule.rewrite(d, s) for s in kept[1:]]
                    if kept[0] is sites[0]
                    else [rule.rewrite(d, s) for s in kept],
                )
                factor, d2 = apply_edits(d, edits)
                produced = [Term(term.coeff * factor, d2, term.tags)]
                nsites = len(edits)
                if self.checked:
                    errors.extend(self.check_site(rule, d, s, term, produced) for s in kept)
            if self.record:
                self.steps.append(
                    Step(
                        rule.name,
                        nsites,
                        term,
                        tuple(produced),
                        max(e for e, _ in errors) if errors else None,
                        bool(errors) and all(x for _, x in errors),
                    )
                )
            return produced
        return None

    def _admit_growing(self, name: str, d: Diagram) -> bool:
        """Whether a rule that does not shrink diagrams may rewrite ``d``: not if it already
        rewrote the same term (a cycle), and not beyond MAX_GROWING_STEPS."""
        from .canonical import canonical_key

        key = canonical_key(d)
        seen = self._growing_seen[name]
        if key in seen:
            return False
        self._growing_count += 1
        if self._growing_count > MAX_GROWING_STEPS:
            raise StepLimit(
                f"rule '{name}' was applied {MAX_GROWING_STEPS} times without reaching a fixed "
                "point (its right side is not smaller than its left side)"
            )
        seen.add(key)
        return True

    def check_site(
        self, rule: Rewriter, d: Diagram, site: Site, term: Term, produced: list[Term]
    ) -> tuple[float, bool]:
        """Numerically compare a site with its rewrite; raise UnsoundRewrite if they differ.
        Returns the relative error and whether it was decided exactly (cached per site shape)."""
        from .dims import DimEnv
        from .numeric.check import compare

        env = self.env if self.env is not None else DimEnv()
        try:
            local, lsite = local_view(d, site)
            before = Expr.single(local)
            out = rule.rewrite(local, lsite)
            if isinstance(out, list):
                after = Expr.of([Term(c, di) for c, di in out], before.free_dims)
            else:
                f, dl = apply_edits(local, [out])
                after = Expr.of([Term(f, dl)], before.free_dims)
            where = _site_text(local)
        except Exception:  # noqa: BLE001 - a rule whose site cannot be cut out: check the whole term
            before = Expr.single(term.diagram, term.coeff)
            after = Expr.of(produced, before.free_dims)
            where = "the whole term"
        key = (rule.name, _pair_key(before, after))
        if key in self._verdicts:
            return self._verdicts[key]
        self.checks += 1
        result = compare(unfold(before), unfold(after), env, seed=self.seed, dims=self._check_dims)
        if result.status == "inconclusive":  # the small sizes broke a constraint: the usual ones
            result = compare(unfold(before), unfold(after), env, seed=self.seed)
        if result.status == "different":
            raise UnsoundRewrite(rule.name, where, result.max_error, result.seed)
        verdict = (
            result.rel_error if result.status == "equal" else 0.0,
            result.status == "equal" and result.path == "exact",
        )
        self._verdicts[key] = verdict
        return verdict


#: Rewrite checks give concrete dimensions above this size small stand-ins (in the same
#: order): a rewrite holds at every size, and a site check must stay O(site) even when the
#: model is GPT-2 sized.
SMALL_CONCRETE = 12


def simplify(
    expr: Expr,
    rules: Iterable[str] | None = None,
    subs: Mapping | None = None,
    unfold_lets: bool = False,
    extra_rules: Mapping[str, Rewriter] | None = None,
    checked: bool = False,
    env: DimEnv | None = None,
    seed: int = 0,
) -> Derivation:
    """Simplify ``expr`` with the named rules (default: the default rules).

    Returns a :class:`Derivation` whose ``result`` is the simplified expression and
    whose ``steps`` record each rewrite.
    """
    start = unfold(expr) if unfold_lets else expr
    engine = Engine(
        tuple(rules) if rules is not None else DEFAULT_RULES,
        subs,
        record=True,
        extra_rules=extra_rules,
        checked=checked,
        env=env,
        seed=seed,
    )
    result = engine.simplify(start)
    return Derivation(expr, result, engine.steps, engine.checks)
