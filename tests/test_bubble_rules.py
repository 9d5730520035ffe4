"""The bubble rules ``softmax_shift``, ``logsumexp_shift`` and ``layernorm_shift``.

The oracle is the numeric checker (:func:`diagalg.numeric.check.compare`), which
evaluates bubbles directly and never uses a rewrite rule.

* property: on random bubble expressions (a softmax / logsumexp / layernorm of a
  random sum, some summands constant along the axis, some look-alikes that carry
  it, causal masks inside, random outer context), every site of each rule,
  rewritten alone, keeps the value and strictly decreases the engine's
  termination measure; so does checked-mode simplification with the rules added;
* the strategy is not vacuous: every rule (and the causal case) fires, and the
  look-alikes occur;
* near misses: a summand that carries the axis (a vector on it, an identity
  joining it to another label, the axis of a different bubble), a causal term
  with a non-positive coefficient or with another factor, and a sum with no
  summand left never fire, and the rewrite they would make is numerically wrong;
* a deliberately sloppy constancy test patched in is caught by the same property;
* ``.diag`` level: ``assert ... by softmax_shift`` (and the others) check ok
  through the CLI; without ``by`` they do exactly when the rules are default.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg import canonical
from diagalg.engine import UnsoundRewrite, diagram_measure, simplify
from diagalg.model import BubbleOp, Diagram, Expr, Term
from diagalg.numeric.check import collect as collect_decls
from diagalg.numeric.check import compare, draw_instance
from diagalg.numeric.evaluate import evaluate
from diagalg.numeric.sample import sample_sizes
from diagalg.rules import DEFAULT_RULES, registered
from diagalg.rules import softmax_shift as softmax_shift_mod
from diagalg.rules.base import Edit, apply_edits
from strategies import diagrams_of

RULES = ("softmax_shift", "logsumexp_shift", "layernorm_shift")

DECLS = """\
dim seq, n, m
tensor S[q: seq, k: seq]
tensor T[q: seq, k: seq]
tensor Sc[q: seq, k: seq] complex
tensor A[q: seq, j: n]
tensor B[j: n, k: seq]
tensor P[q: seq, s: m]
tensor b[q: seq]
tensor c[k: seq]
tensor bc[q: seq] complex
tensor y[s: m]
"""

PROG = diagalg.parse(DECLS)
ENV = PROG.env
SUBS = ENV.concrete_subs()

DIM = {"q": "seq", "k": "seq", "s": "m"}
COEFFS = ("1", "-1", "2", "-3", "1/2", "seq", "-seq", "m / 2")
#: factors over two seq labels (``{0}``, ``{1}``); ``{j}`` is a fresh summed label
PAIR_SEQ = (
    "S[{0}, {1}]",
    "T[{1}, {0}]",
    "Sc[{0}, {1}]",
    "A[{0}, {j}] B[{j}, {1}]",
    "exp(S[{0}, {1}])",
    "delta[{0}: seq, {1}]",
)
PAIR_SEQ_M = ("P[{0}, {1}]",)
SINGLE = {
    "seq": ("b[{0}]", "c[{0}]", "bc[{0}]", "tanh(b[{0}])", "delta[{0}: seq]", "delta[{0}: seq]"),
    "m": ("y[{0}]", "delta[{0}: m]"),
}


# --------------------------------------------------------------------------- the strategy


class _Fresh:
    def __init__(self) -> None:
        self.k = 0

    def __call__(self) -> str:
        self.k += 1
        return f"j{self.k}"


@st.composite
def summand(draw, labels: list[str], fresh: _Fresh) -> str:
    """A product using each label of ``labels`` once (free), as random pieces: pairs
    (a matrix, a product of two matrices, an identity) and singles (a vector, the ones
    vector ``delta[l]``, a bubble of a vector). A summand is constant along a label
    exactly when that label's piece is the ones vector."""
    todo = list(draw(st.permutations(labels)))
    factors = []
    while todo:
        a = todo.pop(0)
        partners = [x for x in todo if (DIM[a], DIM[x]) != ("m", "m")]
        if partners and draw(st.integers(0, 2)) == 0:
            x = draw(st.sampled_from(partners))
            todo.remove(x)
            if DIM[a] == DIM[x] == "seq":
                pattern = draw(st.sampled_from(PAIR_SEQ))
                factors.append(pattern.format(a, x, j=fresh()))
            else:
                l_seq, l_m = (a, x) if DIM[a] == "seq" else (x, a)
                factors.append(draw(st.sampled_from(PAIR_SEQ_M)).format(l_seq, l_m))
        else:
            factors.append(draw(st.sampled_from(SINGLE[DIM[a]])).format(a))
    draw(st.randoms()).shuffle(factors)
    return " ".join(factors)


@st.composite
def sum_of(draw, labels: list[str], fresh: _Fresh, depth: int) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        coeff = draw(st.sampled_from(COEFFS))
        kind = draw(st.sampled_from(["plain", "plain", "plain", "causal", "paren"])) if depth == 0 else "plain"
        if kind == "causal" and {"q", "k"} <= set(labels):
            axes = draw(st.sampled_from(["q, k", "k, q"]))
            coeff = draw(st.sampled_from(("1", "2", "1/2", "seq", "-1")))
            body = f"causal[{axes}]({draw(sum_of(labels, fresh, depth + 1))})"
        elif kind == "paren":
            body = f"({draw(sum_of(labels, fresh, depth + 1))})"
        else:
            body = draw(summand(labels, fresh))
        parts.append(f"{coeff} * {body}")
    return " + ".join(parts)


@st.composite
def bubble_cases(draw) -> str:
    """A softmax / logsumexp / layernorm of a random sum, in a random context."""
    fresh = _Fresh()
    labels = draw(st.sampled_from([["q", "k"], ["q", "k"], ["q", "k", "s"], ["k"], ["k", "s"]]))
    kind = draw(st.sampled_from(["softmax", "softmax", "logsumexp", "layernorm"]))
    axis = draw(st.sampled_from(labels))
    bubble = f"{kind}[{axis}]({draw(sum_of(labels, fresh, 0))})"
    out = [l for l in labels if not (kind == "logsumexp" and l == axis)]
    context = draw(st.sampled_from(["plain", "scaled", "contracted", "summed", "nested", "plus"]))
    if context == "scaled":
        return f"{draw(st.sampled_from(COEFFS))} * {bubble}"
    if context == "contracted" and out:
        l = draw(st.sampled_from(out))
        vec = draw(st.sampled_from(SINGLE[DIM[l]][:3] if DIM[l] == "seq" else SINGLE["m"][:1]))
        return f"{bubble} {vec.format(l)}"
    if context == "summed" and out:
        l = draw(st.sampled_from(out))
        return f"{bubble} delta[{l}: {DIM[l]}]"
    if context == "nested":
        return f"{draw(st.sampled_from(['exp', 'tanh']))}({bubble})"
    if context == "plus" and out:
        return f"{bubble} + {draw(st.sampled_from(COEFFS))} * {draw(summand(out, fresh))}"
    return bubble


# --------------------------------------------------------------------------- helpers


def single(d: Diagram, free_dims) -> Expr:
    return Expr.of([Term(sympy.Integer(1), d)], free_dims)


def rewritten(rule, d: Diagram, site, free_dims) -> tuple[Expr, list[Diagram]]:
    out = rule.rewrite(d, site)
    if isinstance(out, Edit):
        factor, d2 = apply_edits(d, [out])
        return Expr.of([Term(factor, d2)], free_dims), [d2]
    return Expr.of([Term(sympy.sympify(c), di) for c, di in out], free_dims), [di for _, di in out]


def same_value(before: Expr, after: Expr, seed: int) -> str | None:
    """None when the two sides are numerically equal, else a description.

    :func:`compare` first; when it is inconclusive because of non-finite entries (a
    causal mask gives ``-inf``: a fully masked logsumexp row is ``-inf``, a fully
    masked softmax row NaN, and the phase of a complex ``-inf`` is meaningless), the
    same draws are compared entrywise on real parts: where the start is defined (not
    NaN), the result must be too, infinities must sit at the same places with the same
    sign, and the finite entries must agree to 1e-9 of the largest term."""
    res = compare(before, after, ENV, seed=seed)
    if res.status == "equal":
        return None
    if res.status != "inconclusive":
        return f"{res.status} (max error {res.max_error:.3g}, sizes {res.sizes})"
    decls, funcs, syms = collect_decls([before, after])
    rng = np.random.default_rng(seed)
    avoid: list = []
    for _ in range(2):
        draw = sample_sizes(syms, ENV, decls.values(), rng, avoid, {})
        avoid.append(draw.sizes)
        for _ in range(2):
            inst = draw_instance(decls, funcs, draw, rng)
            lv, rv = evaluate(before, inst, before.labels), evaluate(after, inst, before.labels)
            a, b = np.asarray(lv.array), np.asarray(rv.array)
            ra, rb = np.real(a), np.real(b)
            # NaN in the start is an undefined entry (-inf - -inf where two masked
            # bubbles are subtracted): any value there is acceptable; a NaN the
            # rewrite introduces where the start is defined is not
            defined = ~np.isnan(ra)
            if (np.isnan(rb) & defined).any():
                return f"NaN at different places ({res.reason})"
            inf = (np.isinf(ra) | np.isinf(rb)) & defined
            if (ra[inf] != rb[inf]).any():
                return f"infinities at different places ({res.reason})"
            fin = np.isfinite(ra) & np.isfinite(rb)
            scale = max(1e-3, lv.scale, rv.scale)
            if fin.any() and not float(np.abs(a[fin] - b[fin]).max()) <= 1e-9 * scale:
                return f"finite entries differ ({res.reason})"
    return None


def shapes(expr: Expr):
    """The diagrams of ``expr``, of its nested sums, and of the same after the delta
    rule (ones vectors become port-less label edges) and distribution."""
    yield from diagrams_of(expr)
    cleaned = simplify(expr, rules=("delta", "distribute", "collect"), subs=SUBS).result
    yield from diagrams_of(cleaned)


def site_problems(expr: Expr, seed: int, counts: collections.Counter | None = None) -> list[str]:
    """Every site of the bubble rules in ``expr``'s diagrams, rewritten alone, must keep
    the value and shrink every diagram it produces."""
    problems = []
    for d, free in shapes(expr):
        m0 = diagram_measure(d)
        for name in RULES:
            rule = registered()[name]
            for site in rule.match(d):
                if counts is not None:
                    counts[name] += 1
                before = single(d, free)
                after, produced = rewritten(rule, d, site, free)
                bigger = [diagram_measure(x) for x in produced if diagram_measure(x) >= m0]
                if bigger:
                    problems.append(f"{name}: measure {m0} -> {bigger}\n  {diagalg.to_text(before)}")
                wrong = same_value(before, after, seed)
                if wrong is not None:
                    problems.append(
                        f"{name}: {wrong}\n  before: {diagalg.to_text(before)}\n  after:  {diagalg.to_text(after)}"
                    )
    return problems


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=bubble_cases(), seed=st.integers(0, 2**31 - 1))
def test_every_site_keeps_value(text: str, seed: int) -> None:
    problems = site_problems(PROG.expr(text), seed)
    assert not problems, f"expression: {text}\n" + "\n".join(problems)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=bubble_cases(), seed=st.integers(0, 2**31 - 1))
def test_checked_simplify_keeps_value(text: str, seed: int) -> None:
    """The default rules plus the bubble rules (what `by` gives), in checked mode: no
    rewrite is refuted on its site, the result is numerically the start, and a second
    pass changes nothing."""
    expr = PROG.expr(text)
    rules = tuple(dict.fromkeys(DEFAULT_RULES + RULES))
    try:
        der = simplify(expr, rules=rules, subs=SUBS, checked=True, env=ENV, seed=seed)
    except UnsoundRewrite as err:
        pytest.fail(f"{err}\n  expression: {text}")
    wrong = same_value(expr, der.result, seed)
    assert wrong is None, f"{wrong}: {text}\n  -> {diagalg.to_text(der.result)}"
    again = simplify(der.result, rules=rules, subs=SUBS).result
    assert canonical.equal(der.result, again, SUBS), f"not idempotent: {text}"
    # a fixed point: no bubble rule applies any more
    for d, _ in diagrams_of(der.result):
        for name in RULES:
            assert not list(registered()[name].match(d)), f"{name} still applies: {diagalg.to_text(der.result)}"


def _is_causal_site(d: Diagram, site) -> bool:
    op = d.nodes[site.nodes[0]].op
    return softmax_shift_mod.drop_constant(op.inner, op.axes[0]) is None


def _near_misses(d: Diagram) -> collections.Counter:
    """Look-alikes in ``d``: a summand of an axis bubble whose axis edge carries a
    one-leg tensor or a second label (it carries the axis), and causal terms under a
    softmax with a non-positive coefficient."""
    out: collections.Counter = collections.Counter()
    for n in d.nodes:
        op = n.op
        if not isinstance(op, BubbleOp) or op.kind not in ("softmax", "logsumexp", "layernorm"):
            continue
        for t in op.inner.terms:
            e = t.diagram.free_map[op.axes[0]]
            ports = [t.diagram.nodes[i].op for i, _ in t.diagram.incidence[e]]
            if len(t.diagram.edge_labels[e]) > 1:
                out["near-miss:second-label"] += 1
            elif (
                ports
                and all(len(p.ports) == 1 for p in ports)
                and not softmax_shift_mod.constant_along(t.diagram, op.axes[0])
            ):
                out["near-miss:vector-on-axis"] += 1
            if (
                op.kind == "softmax"
                and any(isinstance(x.op, BubbleOp) and x.op.kind == "causal" for x in t.diagram.nodes)
                and not t.coeff.is_positive
            ):
                out["near-miss:causal-negative"] += 1
    return out


def test_strategy_fires_every_rule() -> None:
    """Deterministic: the strategy's examples fire every rule and the causal case, and
    contain the look-alikes, so the properties above cannot pass vacuously."""
    counts: collections.Counter = collections.Counter()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(text=bubble_cases())
    def collect(text: str) -> None:
        for d, _ in shapes(PROG.expr(text)):
            counts.update(_near_misses(d))
            for name in RULES:
                for site in registered()[name].match(d):
                    counts[name] += 1
                    if name == "softmax_shift" and _is_causal_site(d, site):
                        counts["softmax_shift:causal-only"] += 1

    collect()
    report = dict(sorted(counts.items()))
    print("\nbubble-rule sites and look-alikes in the fixed-seed examples:", report)
    for kind in RULES + (
        "softmax_shift:causal-only",
        "near-miss:second-label",
        "near-miss:vector-on-axis",
        "near-miss:causal-negative",
    ):
        assert counts[kind] >= 5, f"{kind} occurred {counts[kind]} times: {report}"


# --------------------------------------------------------------------------- hand-written cases


FIRES = [
    ("softmax_shift", "softmax[k](S[q, k] + b[q] delta[k: seq])", "softmax[k](S[q, k])"),
    ("softmax_shift", "softmax[k](S[q, k] - 2 * delta[q: seq] delta[k: seq])", "softmax[k](S[q, k])"),
    ("softmax_shift", "softmax[q](S[q, k] + seq * c[k] delta[q: seq])", "softmax[q](S[q, k])"),
    ("softmax_shift", "softmax[k](Sc[q, k] + bc[q] delta[k: seq])", "softmax[k](Sc[q, k])"),
    ("softmax_shift", "softmax[k](causal[q, k](S[q, k] + b[q] delta[k: seq]))", "softmax[k](causal[q, k](S[q, k]))"),
    ("softmax_shift", "softmax[q](causal[q, k](S[q, k] + c[k] delta[q: seq]))", "softmax[q](causal[q, k](S[q, k]))"),
    (
        "softmax_shift",
        "softmax[k](2 * causal[q, k](S[q, k] + b[q] delta[k: seq]) + b[q] delta[k: seq] + T[q, k])",
        "softmax[k](2 * causal[q, k](S[q, k]) + T[q, k])",
    ),
    ("logsumexp_shift", "logsumexp[k](S[q, k] + b[q] delta[k: seq])", "logsumexp[k](S[q, k]) + b[q]"),
    ("logsumexp_shift", "logsumexp[k](c[k] - 3 * delta[k: seq])", "logsumexp[k](c[k]) - 3"),
    # a complex argument with a real shift
    (
        "logsumexp_shift",
        "logsumexp[k](Sc[q, k] + seq * b[q] delta[k: seq] + bc[q] delta[k: seq])",
        "logsumexp[k](Sc[q, k] + bc[q] delta[k: seq]) + seq * b[q]",
    ),
    ("logsumexp_shift", "b[q] logsumexp[k](S[q, k] + b[q] delta[k: seq])", "b[q] logsumexp[k](S[q, k]) + b[q] b[q]"),
    (
        "logsumexp_shift",
        "logsumexp[k](S[q, k] + 2 * delta[q: seq] delta[k: seq]) delta[q: seq]",
        "logsumexp[k](S[q, k]) delta[q: seq] + 2 * seq",
    ),
    ("layernorm_shift", "layernorm[s](P[q, s] + b[q] delta[s: m])", "layernorm[s](P[q, s])"),
    (
        "layernorm_shift",
        "layernorm[s](P[q, s] - m * delta[q: seq] delta[s: m] + y[s] b[q])",
        "layernorm[s](P[q, s] + y[s] b[q])",
    ),
]


@pytest.mark.parametrize("rule, lhs, rhs", FIRES, ids=[f[1] for f in FIRES])
def test_rule_fires_and_proves(rule: str, lhs: str, rhs: str) -> None:
    left, right = PROG.expr(lhs), PROG.expr(rhs)
    assert compare(left, right, ENV, seed=11).status == "equal"
    assert site_problems(left, seed=3) == []
    assert any(list(registered()[rule].match(d)) for d, _ in shapes(left))
    # proved with the rule added to the default rules (as `by rule` does), not without
    # it unless it is a default rule
    with_rule = tuple(dict.fromkeys(DEFAULT_RULES + (rule,)))
    assert diagalg.equal(left, right, PROG, rules=with_rule)
    assert diagalg.equal(left, right, PROG, rules=DEFAULT_RULES) == (rule in DEFAULT_RULES)


NEAR_MISSES = [
    # the summand carries the axis: a vector on it, or an identity joining it to q
    ("softmax[k](S[q, k] + c[k] delta[q: seq])", "softmax[k](S[q, k])"),
    ("softmax[k](S[q, k] + b[q] c[k])", "softmax[k](S[q, k])"),
    ("softmax[k](S[q, k] + delta[q, k])", "softmax[k](S[q, k])"),
    ("softmax[k](S[q, k] + A[q, j] B[j, k])", "softmax[k](S[q, k])"),
    # constant along k, but the softmax is along q
    ("softmax[q](S[q, k] + b[q] delta[k: seq])", "softmax[q](S[q, k])"),
    # inside the mask: constant along q, the softmax is along k
    ("softmax[k](causal[q, k](S[q, k] + c[k] delta[q: seq]))", "softmax[k](causal[q, k](S[q, k]))"),
    ("logsumexp[k](S[q, k] + c[k] delta[q: seq])", "logsumexp[k](S[q, k])"),
    ("layernorm[s](P[q, s] + y[s] delta[q: seq])", "layernorm[s](P[q, s])"),
    ("layernorm[s](P[q, s] + y[s] b[q])", "layernorm[s](P[q, s])"),
    # nothing would be left: logsumexp[k](b) = b + log(seq), not b
    ("logsumexp[k](b[q] delta[k: seq])", "b[q]"),
    # a complex summand: log(e^c z) = c + log z only modulo 2 pi i (the principal branch)
    ("logsumexp[k](Sc[q, k] + 10 * bc[q] delta[k: seq])", "logsumexp[k](Sc[q, k]) + 10 * bc[q]"),
]


@pytest.mark.parametrize("lhs, wrong", NEAR_MISSES, ids=[n[0] for n in NEAR_MISSES])
def test_near_miss_never_fires(lhs: str, wrong: str) -> None:
    expr, wrong_expr = PROG.expr(lhs), PROG.expr(wrong)
    assert compare(expr, wrong_expr, ENV, seed=7).status == "different"
    for d, _ in shapes(expr):
        for name in RULES:
            assert not list(registered()[name].match(d)), f"{name} fires on {diagalg.to_text(single(d, {}))}"
    rules = tuple(dict.fromkeys(DEFAULT_RULES + RULES))
    result = simplify(expr, rules=rules, subs=SUBS, checked=True, env=ENV).result
    assert compare(expr, result, ENV, seed=5).status == "equal"
    assert not diagalg.equal(expr, wrong_expr, PROG, rules=rules)


STRUCTURAL_MISSES = [
    # a causal term under a non-positive (or unknown-sign) coefficient: -inf becomes +inf
    "softmax[k](-causal[q, k](S[q, k] + b[q] delta[k: seq]))",
    "softmax[k](-seq * causal[q, k](S[q, k] + b[q] delta[k: seq]))",
    # a causal term times another factor is not a shift of the masked argument
    "softmax[k](keep[k](causal[q, k](S[q, k] + b[q] delta[k: seq]) c[k]))",
    "softmax[k](keep[q](causal[q, k](S[q, k] + b[q] delta[k: seq]) b[q]))",
    # a diagonal: the causal node's two legs on one edge
    "softmax[k](keep[k](causal[q, k](S[q, k] + b[q] delta[k: seq]) delta[q, k]))",
    # the mask under logsumexp and layernorm is not handled
    "logsumexp[k](causal[q, k](S[q, k] + b[q] delta[k: seq]))",
    "layernorm[k](causal[q, k](S[q, k] + b[q] delta[k: seq]))",
    # no summand would be left
    "softmax[k](b[q] delta[k: seq])",
]


@pytest.mark.parametrize("lhs", STRUCTURAL_MISSES)
def test_structural_near_miss_never_fires(lhs: str) -> None:
    expr = PROG.expr(lhs)
    for d, _ in shapes(expr):
        for name in RULES:
            assert not list(registered()[name].match(d)), lhs


def test_rules_are_registered_and_sound_in_derivatives() -> None:
    for name in RULES:
        rule = registered()[name]
        assert rule.name == name and rule.description
        assert rule.uses_declared_properties is False
    assert set(RULES) <= set(diagalg.rules.implemented_rules())


# --------------------------------------------------------------------------- the property catches wrong rules


def _sloppy_constant_along(d: Diagram, label: str) -> bool:
    """WRONG on purpose: any summand whose axis edge touches only one-leg nodes (so a
    vector c[k], not only the ones vector) counts as constant."""
    edge = d.free_map.get(label)
    if edge is None or d.edge_labels[edge] != [label]:
        return False
    return all(len(d.nodes[i].op.ports) == 1 for i, _ in d.incidence[edge])


def test_sloppy_constancy_is_caught(monkeypatch) -> None:
    monkeypatch.setattr(softmax_shift_mod, "constant_along", _sloppy_constant_along)
    assert site_problems(PROG.expr("softmax[k](S[q, k] + c[k] delta[q: seq])"), seed=0)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(text=bubble_cases())
    def prop(text: str) -> None:
        assert not site_problems(PROG.expr(text), seed=0)

    with pytest.raises(AssertionError):
        prop()


# --------------------------------------------------------------------------- .diag level

CLI_DECLS = """\
dim seq, dh
tensor S[q: seq, k: seq]
tensor b[q: seq]
tensor c[k: seq]
tensor v[k: seq, e: dh]
tensor u[k: seq]
"""

CLI_IDENTITIES = [
    ("softmax_shift", "softmax[k](S[q, k] + b[q] delta[k]) == softmax[k](S[q, k])"),
    ("softmax_shift", "softmax[k](causal[q, k](S[q, k] + b[q] delta[k])) == softmax[k](causal[q, k](S[q, k]))"),
    ("logsumexp_shift", "logsumexp[k](S[q, k] + b[q] delta[k]) == logsumexp[k](S[q, k]) + b[q]"),
    ("layernorm_shift", "layernorm[e](v[k, e] + u[k] delta[e]) == layernorm[e](v[k, e])"),
]


@pytest.mark.parametrize("rule, identity", CLI_IDENTITIES, ids=[c[1] for c in CLI_IDENTITIES])
def test_cli_assert_by_rule(write_diag, cli, tmp_path, rule: str, identity: str) -> None:
    write_diag(
        "bubbles.diag",
        CLI_DECLS + f"assert {identity} by {rule}\nassert {identity}\n"
        f"calc {identity.split(' == ')[0]}\n  = {identity.split(' == ')[1]} by {rule}\n",
    )
    r = cli("check", "bubbles.diag", cwd=tmp_path)
    lines = [l for l in r.stdout.splitlines() if l.startswith("bubbles.diag:")]
    assert lines[0].startswith("bubbles.diag:7: ok    assert ") and "[symbolic; numeric" in lines[0], r.stdout
    assert lines[2].startswith("bubbles.diag:10: ok    = ") and f"[step 1 by {rule}; numeric" in lines[2], r.stdout
    if rule in DEFAULT_RULES:
        assert lines[1].startswith("bubbles.diag:8: ok    assert "), r.stdout
        assert r.returncode == 0
    else:  # true, so not refuted; but not proved by the default rules
        assert lines[1].startswith("bubbles.diag:8: FAIL  assert "), r.stdout
        assert lines[1].endswith(
            "not proved symbolically; numerically equal: no built-in rule reaches it; state a rule and name it with by, or use assert numeric"
        )
        assert r.returncode == 1


def test_cli_near_miss_fails(write_diag, cli, tmp_path) -> None:
    write_diag(
        "miss.diag",
        CLI_DECLS + "assert softmax[k](S[q, k] + c[k] delta[q]) == softmax[k](S[q, k]) "
        "by softmax_shift\nassert softmax[k](S[q, k] + c[k] delta[q]) != softmax[k](S[q, k])\n",
    )
    r = cli("check", "miss.diag", cwd=tmp_path)
    lines = [l for l in r.stdout.splitlines() if l.startswith("miss.diag:")]
    assert "FAIL" in lines[0] and "not equal: max error" in lines[0], r.stdout
    assert lines[1].startswith("miss.diag:8: ok    assert softmax[k]"), r.stdout
    assert r.returncode == 1
