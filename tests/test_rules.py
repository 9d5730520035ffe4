"""Property tests for the rewrite rules (``diagalg.rules``) and the engine.

The oracle is the numeric checker (:func:`diagalg.numeric.check.compare`), which
evaluates diagrams by plain contraction and never uses a rewrite rule. Random
diagrams come from :mod:`strategies` (chains, rings, trees, copy tensors with
self-loops and closed loops, isometry / unitary / inverse pairs joined the right
way and the wrong ways, hyperedges, parenthesised sums, random relabelling).

* every site that ``match`` finds, rewritten alone, keeps the value; so does the
  batch of ``disjoint_sites`` applied together (in match order and reversed);
* ``simplify`` keeps the value, every recorded step keeps the value, and
  simplifying again gives an equal expression (idempotence);
* soundness guards: V V† of a non-square isometry, W W (complex, no conj), a
  partially joined multi-leg isometry, X inv(X) on the wrong legs and pairs
  whose joined edge is a hyperedge (or carries a free label) never fire;
* the property would catch wrong rules: deliberately wrong rules patched into
  the registry are caught by the same check, on hand-written inputs and on the
  random ones.
"""

from __future__ import annotations

import collections
import random

import pytest
import sympy
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg import canonical
from diagalg.engine import Engine, simplify
from diagalg.model import CopyTensor, Diagram, Expr, Node, TensorOp, Term
from diagalg.numeric.check import compare
from diagalg.rules import DEFAULT_RULES, registered
from diagalg.rules import base as rules_base
from diagalg.rules.base import Edit, Site, apply_edits, disjoint_sites
from diagalg.rules.inverse import InverseRule
from diagalg.rules.isometry import IsometryRule
from strategies import ENV, PROG, SUBS, Case, cases, diagrams_of

#: Sites fired by the property tests in this process (rule kind -> count), for the report.
FIRED: collections.Counter = collections.Counter()

#: At most this many single sites are checked per (diagram, rule); the rest are
#: still covered by the batch check.
MAX_SITES_PER_RULE = 4
#: At most this many intermediate diagrams of a derivation are checked per example.
MAX_STEP_DIAGRAMS = 3

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


def free_dims_of(d: Diagram) -> dict:
    return {label: d.dims[e] for label, e in d.free}


def single(d: Diagram, free_dims=None, coeff=sympy.Integer(1)) -> Expr:
    return Expr.of([Term(sympy.sympify(coeff), d)], free_dims_of(d) if free_dims is None else free_dims)


def _event(msg: str) -> None:
    try:
        event(msg)
    except Exception:  # outside a hypothesis test
        pass


def text(e: Expr) -> str:
    try:
        return diagalg.to_text(e)
    except Exception as err:  # printing is not under test here
        return f"<unprintable: {err!r}> {e!r}"


def site_kind(rule: str, d: Diagram, site: Site) -> str:
    """A label for the variant of a site, for firing statistics."""
    if rule == "delta":
        if site.data == "loop":
            return "delta:closed-loop-edge"
        node = d.nodes[site.nodes[0]]
        tag = "-selfloop" if len(set(node.edges)) < len(node.edges) else ""
        return f"delta:copy{node.op.arity}{tag}"
    if rule in ("isometry", "inverse"):
        if site.data == "double":
            op = d.nodes[site.nodes[0]].op
            return f"inverse:double:{op.decl.name}"
        op = d.nodes[site.nodes[0]].op
        kept = tuple(site.data)
        way = "inputs-kept" if kept == op.decl.inputs else "outputs-kept"
        return f"{rule}:{op.decl.name}:{way}"
    return rule


def rewrite_expr(rule, d: Diagram, sites, free_dims) -> Expr:
    """The rewrite of ``d`` at ``sites``: one site (an Edit or a sum) or a batch of Edits."""
    results = [rule.rewrite(d, s) for s in sites]
    if len(results) == 1 and isinstance(results[0], list):
        return Expr.of([Term(sympy.sympify(c), di) for c, di in results[0]], free_dims)
    assert all(isinstance(r, Edit) for r in results), f"rule {rule.name}: a batch mixes sums and edits"
    factor, d2 = apply_edits(d, results)
    return single(d2, free_dims, factor)


def check_diagram(d: Diagram, free_dims, rules, seed: int, rnd: random.Random, counts=None) -> list[str]:
    """Check every rule on one diagram; return the problems found (empty: all sound)."""
    problems = []
    before = single(d, free_dims)

    def check(rule, sites, what):
        try:
            after = rewrite_expr(rule, d, sites, free_dims)
        except Exception as err:  # a crash in a rewrite is a bug too
            problems.append(f"{what}: rewrite raised {err!r}\n  diagram: {text(before)}")
            return
        res = compare(before, after, ENV, seed=seed)
        if res.status != "equal":
            problems.append(
                f"{what}: {res.status} (max error {res.max_error:.3g}, sizes {res.sizes}, reason {res.reason!r})\n"
                f"  before: {text(before)}\n  after:  {text(after)}\n  sites: {list(sites)}"
            )

    for name, rule in rules.items():
        sites = list(rule.match(d))
        for s in sites:
            kind = site_kind(name, d, s)
            if counts is not None:
                counts[kind] += 1
            _event(f"fired {name}")
        chosen = sites if len(sites) <= MAX_SITES_PER_RULE else rnd.sample(sites, MAX_SITES_PER_RULE)
        for s in chosen:
            check(rule, [s], f"rule {name} at site {site_kind(name, d, s)} {s}")
        if len(sites) > 1 and not isinstance(rule.rewrite(d, sites[0]), list):
            for order in (sites, sites[::-1]):
                batch = disjoint_sites(order)
                if len(batch) > 1:
                    check(rule, batch, f"rule {name}, batch of {len(batch)} disjoint sites")
    return problems


def check_rules_on(expr: Expr, rules, seed: int, counts=None, step_diagrams: int = MAX_STEP_DIAGRAMS) -> list[str]:
    """Check every site of every rule on the diagrams of ``expr`` and on a few
    intermediate diagrams of its simplification (where closed loops, fused copy
    tensors and distributed terms appear)."""
    rnd = random.Random(seed)
    todo = list(diagrams_of(expr))
    if step_diagrams:
        try:
            steps = Engine(DEFAULT_RULES, SUBS, record=True)
            steps.simplify(expr)
            inter = [(s.before.diagram, free_dims_of(s.before.diagram)) for s in steps.steps]
        except Exception:
            inter = []  # simplify failures are reported by test_simplify_keeps_value
        seen = {id(d) for d, _ in todo}
        inter = [x for x in inter if id(x[0]) not in seen]
        todo += rnd.sample(inter, min(step_diagrams, len(inter)))
    problems = []
    for d, free in todo:
        problems += check_diagram(d, free, rules, seed, rnd, counts)
    return problems


# --------------------------------------------------------------------------- 2. every site is sound


@PROPERTY
@given(case=cases(), seed=st.integers(0, 2**31 - 1))
def test_every_site_keeps_value(case: Case, seed: int) -> None:
    expr = case.expr()
    problems = check_rules_on(expr, registered(), seed, FIRED)
    assert not problems, f"expression: {case.text}\nedge names: {case.edge_names}\n" + "\n".join(problems)


# --------------------------------------------------------------------------- 3. simplify


@PROPERTY
@given(case=cases(), seed=st.integers(0, 2**31 - 1), unfold=st.booleans())
def test_simplify_keeps_value_and_is_idempotent(case: Case, seed: int, unfold: bool) -> None:
    expr = case.expr()
    der = simplify(expr, subs=SUBS, unfold_lets=unfold)
    res = compare(expr, der.result, ENV, seed=seed)
    assert res.status == "equal", (
        f"simplify changed the value ({res.status}, error {res.max_error:.3g}, sizes {res.sizes})\n"
        f"  expression: {case.text}\n  simplified: {text(der.result)}"
    )
    for step in der.steps:
        _event(f"step {step.rule}")
        FIRED[f"simplify-step:{step.rule}"] += 1
    again = simplify(der.result, subs=SUBS, unfold_lets=unfold).result
    assert canonical.equal(der.result, again, SUBS), (
        f"simplify is not idempotent\n  expression: {case.text}\n  once:  {text(der.result)}\n  twice: {text(again)}"
    )
    # a fixed point: no diagram rule applies to the result any more
    for d, _ in diagrams_of(der.result, lets=False):
        for name in ("delta", "isometry", "inverse", "distribute"):
            assert not list(registered()[name].match(d)), (
                f"rule {name} still applies after simplify\n  expression: {case.text}\n  result: {text(der.result)}"
            )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), seed=st.integers(0, 2**31 - 1))
def test_every_simplify_step_keeps_value(case: Case, seed: int) -> None:
    """Each recorded step (one rule, its batch of sites, on one term) keeps the value."""
    expr = case.expr()
    der = simplify(expr, subs=SUBS)
    for step in der.steps:
        free = free_dims_of(step.before.diagram)
        before = Expr.of([Term(sympy.Integer(1), step.before.diagram)], free)
        after = Expr.of([Term(t.coeff / step.before.coeff, t.diagram) for t in step.after], free)
        res = compare(before, after, ENV, seed=seed)
        assert res.status == "equal", (
            f"step {step.rule} ({step.sites} sites) changed the value: {res.status}\n"
            f"  expression: {case.text}\n  before: {text(before)}\n  after:  {text(after)}"
        )


# --------------------------------------------------------------------------- the strategy is not vacuous

#: Site kinds that the strategy must produce (on its diagrams or their
#: intermediate simplifications) for the property above not to pass vacuously.
REQUIRED_KINDS = [
    # (any one of) the site kinds of site_kind()
    ("delta:copy1",),
    ("delta:copy2",),
    ("delta:copy3",),
    ("delta:copy4",),
    ("delta:copy2-selfloop",),
    ("delta:copy3-selfloop", "delta:copy4-selfloop"),
    ("delta:closed-loop-edge",),
    ("delta:copy-with-free-leg",),
    ("isometry:V:inputs-kept",),
    ("isometry:W:inputs-kept",),
    ("isometry:T:inputs-kept",),
    ("isometry:K:inputs-kept",),
    ("isometry:U:inputs-kept", "isometry:Uc:inputs-kept"),  # U† U
    ("isometry:U:outputs-kept", "isometry:Uc:outputs-kept"),  # U U†
    ("inverse:X:inputs-kept", "inverse:Xc:inputs-kept", "inverse:G:inputs-kept", "inverse:U:inputs-kept"),
    ("inverse:X:outputs-kept", "inverse:Xc:outputs-kept", "inverse:G:outputs-kept", "inverse:U:outputs-kept"),
    ("inverse:Y:inputs-kept",),
    ("inverse:Y:outputs-kept",),
    ("inverse:double:X", "inverse:double:Xc", "inverse:double:G", "inverse:double:U"),
    ("inverse:double:Y",),
    ("distribute",),
    # non-firing look-alikes (near_misses())
    ("near-miss:V-Vdag:V", "near-miss:V-Vdag:W"),
    ("near-miss:V-Vdag:T", "near-miss:V-Vdag:K"),
    ("near-miss:partial:K",),
    ("near-miss:hyperedge:V", "near-miss:hyperedge:W", "near-miss:hyperedge:T"),
    ("near-miss:no-conj:W", "near-miss:no-conj:T"),
    ("near-miss:inverse-wrong-legs",),
    ("hyperedge",),
]


#: Rules the strategy is built to exercise: each must fire on its examples. Any
#: other registered rule (shift, reshape, ... as they appear) is still checked for
#: soundness on every site it finds in these diagrams, but is not required to fire.
RULES_UNDER_TEST = ("delta", "isometry", "inverse", "distribute", "gauge")

#: Rules that by design never have a site (documented in their modules): only
#: checked to stay that way.
NEVER_MATCHES = {"cyclic"}


def test_rules_without_sites_never_match() -> None:
    for name in NEVER_MATCHES & set(registered()):
        for lhs in ("M_nn[i, j] M_nn[j, k] M_nn[k, i]", "X[i, j] inv(X)[j, k]", "delta[i: n, i]"):
            (term,) = PROG.expr(lhs).terms
            assert not list(registered()[name].match(term.diagram))


def near_misses(d: Diagram) -> collections.Counter:
    """Non-firing look-alikes in ``d`` (to show the strategy produces them)."""
    out: collections.Counter = collections.Counter()
    nodes = d.nodes
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            if j <= i or not isinstance(a.op, TensorOp) or not isinstance(b.op, TensorOp):
                continue
            if a.op.decl != b.op.decl or a.op.decl.structure is None:
                continue
            decl = a.op.decl
            shared = set(a.edges) & set(b.edges)
            if not shared:
                continue
            if decl.structure == "isometry" and not a.op.inv and not b.op.inv:
                if all(a.edges[a.op.ports.index(l)] == b.edges[b.op.ports.index(l)] for l in decl.inputs) and not any(
                    a.edges[a.op.ports.index(l)] == b.edges[b.op.ports.index(l)] for l in decl.outputs
                ):
                    out[f"near-miss:V-Vdag:{decl.name}"] += 1
                joined_out = [a.edges[a.op.ports.index(l)] == b.edges[b.op.ports.index(l)] for l in decl.outputs]
                if any(joined_out) and not all(joined_out):
                    out[f"near-miss:partial:{decl.name}"] += 1
                if all(joined_out) and any(len(d.incidence[a.edges[a.op.ports.index(l)]]) > 2 for l in decl.outputs):
                    out[f"near-miss:hyperedge:{decl.name}"] += 1
                if decl.is_complex and a.op.conj == b.op.conj and all(joined_out):
                    out[f"near-miss:no-conj:{decl.name}"] += 1
            if decl.invertible and abs(a.op.inv - b.op.inv) == 1 and max(a.op.inv, b.op.inv) == 1:
                by_name = any(a.edges[a.op.ports.index(l)] == b.edges[b.op.ports.index(l)] for l in decl.legs)
                if not by_name:
                    out[f"near-miss:inverse-wrong-legs:{decl.name}"] += 1
                    out["near-miss:inverse-wrong-legs"] += 1
    return out


def test_strategy_produces_every_kind_of_site() -> None:
    """Deterministic: the strategy's examples for a fixed seed contain firing sites
    of every rule (and every variant listed in REQUIRED_KINDS) and non-firing
    look-alikes, so the property tests cannot pass vacuously."""
    counts: collections.Counter = collections.Counter()

    @settings(max_examples=400, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def collect(case: Case) -> None:
        expr = case.expr()
        todo = list(diagrams_of(expr))
        engine = Engine(DEFAULT_RULES, SUBS, record=True)
        engine.simplify(expr)
        todo += [(s.before.diagram, free_dims_of(s.before.diagram)) for s in engine.steps]
        for d, _ in todo:
            counts.update(near_misses(d))
            for name, rule in registered().items():
                for s in rule.match(d):
                    counts[name] += 1
                    counts[site_kind(name, d, s)] += 1
                    if name == "delta" and s.nodes and any(d.is_free_edge(e) for e in d.nodes[s.nodes[0]].edges):
                        counts["delta:copy-with-free-leg"] += 1
        for d, _ in diagrams_of(expr):
            for e, inc in d.incidence.items():
                if len(inc) + len(d.edge_labels[e]) >= 3:
                    counts["hyperedge"] += 1
                    break

    collect()
    report = "\n".join(f"  {k}: {v}" for k, v in sorted(counts.items()))
    print("\nsites and look-alikes in the strategy's fixed-seed examples:\n" + report)
    for name in RULES_UNDER_TEST:
        assert name in registered(), f"rule {name} is no longer registered"
        assert counts[name] >= 10, f"rule {name} fired only {counts[name]} times:\n{report}"
    missing = [alts for alts in REQUIRED_KINDS if not any(counts[k] for k in alts)]
    assert not missing, f"the strategy never produced {missing}:\n{report}"


# --------------------------------------------------------------------------- 4. soundness guards

GUARD_PAIRS = [
    # V V† for a non-square isometry: a projector, not the identity
    ("V[a, b] conj(V)[c, b]", "delta[a: n, c]"),
    ("V[a, b] V[c, b]", "delta[a: n, c]"),
    ("conj(V)[c, b] V[a, b]", "delta[a: n, c]"),
    ("W[a, b] conj(W)[c, b]", "delta[a: n, c]"),
    ("conj(W)[a, b] W[c, b]", "delta[a: n, c]"),
    ("T[a, b, c] conj(T)[e, b, c]", "delta[a: big, e]"),
    ("K[a, b, c] K[d, e, c]", "delta[a: n, d] delta[b: m, e]"),
    # complex isometry without the conjugate
    ("W[a, b] W[a, c]", "delta[b: r, c]"),
    ("conj(W)[a, b] conj(W)[a, c]", "delta[b: r, c]"),
    ("Uc[a, b] Uc[c, b]", "delta[a: r, c]"),
    # a multi-leg isometry joined on only some of its output legs
    ("K[a, b, c] conj(K)[a, e, d]", "delta[c: r, d] delta[b: m, e]"),
    ("K[a, b, c] K[e, b, d]", "delta[c: r, d] delta[a: n, e]"),
    # X inv(X) on the wrong legs: X (X^-1)^T, not the identity
    ("X[i, j] inv(X)[i, k]", "delta[j: n, k]"),
    ("inv(X)[i, j] X[k, j]", "delta[i: n, k]"),
    ("Y[i, j, k, l] inv(Y)[k, l2, p2, q2]", "delta[i: n, p2] delta[j: m, q2] delta[l: m, l2]"),
    ("Y[i, j, k, l] inv(Y)[i, j, p2, q2]", "delta[k: n, p2] delta[l: m, q2]"),
    ("Xc[i, j] conj(inv(Xc))[j, k]", "delta[i: m, k]"),
    # the joined edge also touches a third tensor (a hyperedge)
    ("V[a, b] conj(V)[a, c] vn[a]", "delta[b: r, c]"),
    ("W[a, b] conj(W)[a, c] vn[a]", "delta[b: r, c]"),
    ("U[a, b] U[c, b] vn[b]", "delta[a: n, c]"),
    ("X[i, j] inv(X)[j, k] vn[j]", "delta[i: n, k]"),
    ("T[a, b, c] conj(T)[a, d, e] vbig[a]", "delta[b: p, d] delta[c: q, e]"),
    ("Y[i, j, k, l] inv(Y)[k, l, p2, q2] vm[l]", "delta[i: n, p2] delta[j: m, q2]"),
]


@pytest.mark.parametrize("lhs, wrong", GUARD_PAIRS, ids=[g[0] for g in GUARD_PAIRS])
def test_guard_never_fires(lhs: str, wrong: str) -> None:
    expr = PROG.expr(lhs)
    wrong_expr = PROG.expr(wrong)
    # the numeric checker agrees that the identity would be wrong here
    assert compare(expr, wrong_expr, ENV, seed=3).status == "different"
    (term,) = expr.terms
    for name in ("isometry", "inverse"):
        assert not list(registered()[name].match(term.diagram)), f"rule {name} fires on {lhs}"
    result = simplify(expr, subs=SUBS).result
    assert compare(expr, result, ENV, seed=5).status == "equal", text(result)
    assert compare(result, wrong_expr, ENV, seed=7).status == "different", text(result)
    assert not canonical.equal(result, wrong_expr, SUBS)
    # still the same two tensors: nothing was cancelled
    (rterm,) = result.terms
    assert sorted(n.op.decl.name for n in rterm.diagram.nodes if isinstance(n.op, TensorOp)) == sorted(
        n.op.decl.name for n in term.diagram.nodes if isinstance(n.op, TensorOp)
    )


def test_guard_vvdag_in_context_never_becomes_delta() -> None:
    """V V† inside a larger diagram, inside sums and next to a firing V† V, is kept."""
    cases_ = [
        ("M_nn[d, a] V[a, b] conj(V)[c, b] M_nn[c, e]", "M_nn[d, a] M_nn[a, e]"),
        ("V[a, b] conj(V)[c, b] conj(V)[c, f] V[g, f]", "delta[a: n, g]"),  # (V V†)(V V†) = V V†, not I
        ("M_nn[d, a] (V[a, b] conj(V)[c, b] + 2 * delta[a, c]) vn[c]", "3 * M_nn[d, a] vn[a]"),
    ]
    for lhs, wrong in cases_:
        expr, wrong_expr = PROG.expr(lhs), PROG.expr(wrong)
        result = simplify(expr, subs=SUBS).result
        assert compare(expr, result, ENV, seed=1).status == "equal"
        assert compare(result, wrong_expr, ENV, seed=1).status == "different", text(result)
    # but V V† V = V fires on the V† V part
    expr = PROG.expr("V[a, b] conj(V)[c, b] V[c, f]")
    result = simplify(expr, subs=SUBS).result
    assert canonical.equal(result, PROG.expr("V[a, f]"), SUBS), text(result)


def test_guard_joined_edge_with_free_label_never_fires() -> None:
    """After the delta rule, the joined edge of V V carries a free label: no firing."""
    expr = PROG.expr("V[a, b] V[a, c] delta[a: n, f]")
    (term,) = expr.terms
    delta = registered()["delta"]
    (site,) = list(delta.match(term.diagram))
    factor, d2 = apply_edits(term.diagram, [delta.rewrite(term.diagram, site)])
    joined = [e for e in d2.dims if len(d2.incidence[e]) == 2]
    assert joined and all(d2.is_free_edge(e) for e in joined)
    assert not list(registered()["isometry"].match(d2))
    result = simplify(expr, subs=SUBS).result
    assert compare(expr, result, ENV, seed=2).status == "equal"
    assert compare(result, PROG.expr("delta[b: r, c] delta[f: n]"), ENV, seed=2).status == "different"


def test_guard_model_level_partial_and_hyper() -> None:
    """The same guards built directly through the model API (no parser)."""
    V = PROG.tensors["V"]
    K = PROG.tensors["K"]
    n, m, r = (sympy.Symbol(s, positive=True, integer=True) for s in "nmr")
    from diagalg.model import tensor_op

    # K[a, b, c] K[a, e, d]: only output a joined
    d = Diagram.build(
        [Node(tensor_op(K), ("a", "b", "c")), Node(tensor_op(K), ("a", "e", "d"))],
        {"a": n, "b": m, "c": r, "d": r, "e": m},
        {"b": "b", "c": "c", "d": "d", "e": "e"},
    )
    assert not list(registered()["isometry"].match(d))
    # V V with a copy tensor on the joined edge (explicit, not a hyperedge)
    d = Diagram.build(
        [Node(tensor_op(V), ("a", "b")), Node(tensor_op(V), ("a2", "c")), Node(CopyTensor(n, 3), ("a", "a2", "x"))],
        {"a": n, "a2": n, "b": r, "c": r, "x": n},
        {"b": "b", "c": "c", "x": "x"},
    )
    assert not list(registered()["isometry"].match(d))
    # V V joined by a 3-way hyperedge with a vector
    vn = PROG.tensors["vn"]
    d3 = Diagram.build(
        [Node(tensor_op(V), ("a", "b")), Node(tensor_op(vn), ("a",)), Node(tensor_op(V), ("a", "c"))],
        {"a": n, "b": r, "c": r},
        {"b": "b", "c": "c"},
    )
    assert not list(registered()["isometry"].match(d3))
    for dd in (d, d3):
        e = single(dd)
        res = simplify(e, subs=SUBS).result
        assert compare(e, res, ENV, seed=4).status == "equal", text(res)


def test_delta_rule_on_legless_copy_tensor() -> None:
    """A copy tensor with no legs is the sum of ones over one index: its dimension
    (the numeric contraction says so: ``contract_diagram`` multiplies by the size).
    The parser never builds one (``delta[]`` is rejected), but the model and the
    evaluator allow it, and the delta rule must then give the factor n, not 1."""
    n = sympy.Symbol("n", positive=True, integer=True)
    d = Diagram.build([Node(CopyTensor(n, 0), ())], {}, {})
    before = single(d)
    expected = Expr.scalar(n)
    assert compare(before, expected, ENV, seed=0).status == "equal"  # the oracle agrees: value n
    delta = registered()["delta"]
    sites = list(delta.match(d))
    assert sites
    after = rewrite_expr(delta, d, sites[:1], {})
    assert compare(after, expected, ENV, seed=0).status == "equal", f"delta rule gives {text(after)}, not n"


# --------------------------------------------------------------------------- 5. the check catches wrong rules


def _joined_by_name(d: Diagram, i: int, j: int, legs) -> bool:
    """Legs ``legs`` of nodes i and j share edges touched by nothing else (test-local copy)."""
    a, b = d.nodes[i], d.nodes[j]
    for leg in legs:
        ea, eb = a.edges[a.op.ports.index(leg)], b.edges[b.op.ports.index(leg)]
        if ea != eb or len(d.incidence[ea]) != 2 or d.edge_labels[ea]:
            return False
    return True


class SloppyIsometry(IsometryRule):
    """WRONG on purpose: also fires on V V† (input legs joined) for any isometry."""

    def match(self, diagram):
        yield from super().match(diagram)
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or op.inv or op.decl.structure != "isometry":
                continue
            for j, other_node in enumerate(diagram.nodes):
                other = other_node.op
                if j <= i or not isinstance(other, TensorOp) or other.decl != op.decl or other.inv:
                    continue
                if op.decl.is_complex and other.conj == op.conj:
                    continue
                if _joined_by_name(diagram, i, j, op.decl.inputs):
                    yield Site((i, j), data=op.decl.outputs)


class SloppyInverse(InverseRule):
    """WRONG on purpose: a matrix and its inverse sharing one edge cancel, whatever the legs."""

    def match(self, diagram):
        seen = set()
        for s in super().match(diagram):
            seen.add(s.nodes)
            yield s
        for i, a in enumerate(diagram.nodes):
            for j, b in enumerate(diagram.nodes):
                if j <= i or (i, j) in seen or not isinstance(a.op, TensorOp) or not isinstance(b.op, TensorOp):
                    continue
                if (
                    a.op.decl != b.op.decl
                    or len(a.op.decl.legs) != 2
                    or not a.op.decl.invertible
                    or {a.op.inv, b.op.inv} != {0, 1}
                    or a.op.conj != b.op.conj
                ):
                    continue
                shared = [
                    e for e in a.edges if e in b.edges and len(diagram.incidence[e]) == 2 and not diagram.edge_labels[e]
                ]
                if len(shared) == 1:
                    leg_a = a.op.ports[a.edges.index(shared[0])]
                    kept = tuple(l for l in a.op.ports if l != leg_a)
                    yield Site((i, j), data=("sloppy", leg_a, b.op.ports[b.edges.index(shared[0])], kept))

    def rewrite(self, diagram, site):
        if not (isinstance(site.data, tuple) and site.data and site.data[0] == "sloppy"):
            return super().rewrite(diagram, site)
        _, leg_a, leg_b, kept = site.data
        i, j = site.nodes
        a, b = diagram.nodes[i], diagram.nodes[j]
        other_b = [l for l in b.op.ports if l != leg_b][0]
        merge = ((b.edges[b.op.ports.index(other_b)], a.edges[a.op.ports.index(kept[0])]),)
        return Edit(remove=(i, j), merge=merge, drop_edges=(a.edges[a.op.ports.index(leg_a)],))


class SloppyHyperIsometry(IsometryRule):
    """WRONG on purpose: ignores whether the joined edge touches a third tensor."""

    def match(self, diagram):
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or op.inv or op.decl.structure not in ("isometry", "unitary"):
                continue
            for j, other_node in enumerate(diagram.nodes):
                other = other_node.op
                if j <= i or not isinstance(other, TensorOp) or other.decl != op.decl or other.inv:
                    continue
                if op.decl.is_complex and other.conj == op.conj:
                    continue
                if all(
                    node.edges[op.ports.index(l)] == other_node.edges[other.ports.index(l)] for l in op.decl.outputs
                ):
                    yield Site((i, j), data=op.decl.inputs)

    def rewrite(self, diagram, site):
        i, j = site.nodes
        a, b = diagram.nodes[i], diagram.nodes[j]
        kept = site.data
        merges = tuple((b.edges[b.op.ports.index(l)], a.edges[a.op.ports.index(l)]) for l in kept)
        joined = [a.edges[a.op.ports.index(l)] for l in a.op.ports if l not in kept]
        # drop a joined edge only when nothing else uses it (else it stays, summed)
        drop = tuple(e for e in joined if {n for n, _ in diagram.incidence[e]} <= {i, j} and not diagram.edge_labels[e])
        return Edit(remove=(i, j), merge=merges, drop_edges=drop)


class SloppyDelta:
    """WRONG on purpose: closed loops vanish instead of becoming their dimension."""

    name = "delta"
    description = "wrong"

    def __init__(self):
        self.real = registered()["delta"]

    def match(self, diagram):
        return self.real.match(diagram)

    def rewrite(self, diagram, site):
        edit = self.real.rewrite(diagram, site)
        if site.data == "loop":
            return Edit(drop_edges=edit.drop_edges)
        return edit


SLOPPY = [
    ("isometry", SloppyIsometry, "V[a, b] conj(V)[c, b]"),
    ("inverse", SloppyInverse, "X[i, j] inv(X)[i, k]"),
    ("isometry", SloppyHyperIsometry, "V[a, b] conj(V)[a, c] vn[a]"),
    ("delta", SloppyDelta, "delta[i: n, i] vm[j]"),
]


@pytest.mark.parametrize("name, cls, example", SLOPPY, ids=[s[1].__name__ for s in SLOPPY])
def test_wrong_rule_is_caught(monkeypatch, name, cls, example) -> None:
    """A wrong rule patched into the registry makes the engine produce a different
    value, and the same checks as the property tests flag it: on a hand-written
    example and on the random examples of the strategy."""
    sloppy = cls()
    monkeypatch.setitem(rules_base._REGISTRY, name, sloppy)
    expr = PROG.expr(example)
    result = Engine(DEFAULT_RULES, SUBS).simplify(expr)
    assert compare(expr, result, ENV, seed=0).status == "different", text(result)
    assert check_rules_on(expr, registered(), seed=0), "the site check missed the wrong rule"

    # the random strategy finds it too (no shrinking: stop at the first failure)
    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def prop(case: Case) -> None:
        problems = check_rules_on(case.expr(), {name: sloppy}, seed=0, step_diagrams=MAX_STEP_DIAGRAMS)
        assert not problems

    with pytest.raises(AssertionError):
        prop()


def test_report_firings() -> None:
    """Prints the sites fired by the property tests in this run (pytest -s)."""
    if FIRED:
        print("\nsites fired by the property tests:")
        for k, v in sorted(FIRED.items()):
            print(f"  {k}: {v}")
