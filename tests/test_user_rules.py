"""User rules (`rule NAME: L -> R`): the subdiagram matcher and the rewriter.

Rules are applied by passing the rewriter to the engine explicitly, and by name
after `by` in .diag files. Results are checked structurally
with :func:`diagalg.canonical.equal` against a hand-written expected expression
and, for rules that hold, numerically against the input.
"""

from __future__ import annotations

import itertools
import random

import pytest

import diagalg
from conftest import python_calls
from diagalg.canonical import equal
from diagalg.engine import simplify
from diagalg.match import Pattern, find_matches
from diagalg.model import CopyTensor, Diagram, Expr, Node, TensorOp
from diagalg.numeric.check import compare
from diagalg.rules.base import apply_edits
from diagalg.rules.user import UserRuleRewriter, user_rules

DECLS = """\
dim n, m
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor D3[i: n, j: n, k: n]
tensor Dg[i: n, j: n]
tensor x[i: n]
tensor y[i: n]
tensor z[i: m]
tensor S[i: n, j: n] symmetric(i, j)
tensor T[i: n, j: n] antisymmetric(i, j)
tensor X[i: n, j: n] invertible
tensor P[i: n, j: n] projector(j -> i)
tensor Z[i: n, j: n] complex
tensor u[i: n] complex
tensor w[i: n] complex
"""

RULES = """\
rule ab: A[i, j] B[j, k] -> C[i, k]
rule aa: A[i, j] A[j, k] -> C[i, k]
rule sym_slide: S[i, j] x[j] -> x[j] S[j, i]
rule inv_pair: X[i, j] inv(X)[j, k] -> delta[i, k]
rule halves: X[i, j] inv(X)[j, k] -> 1/2 delta[i, k] + 1/2 delta[k, i]
rule split_it: A[i, j] -> S[i, j] + C[i, j]
rule pp: P[i, j] P[j, k] -> P[i, k]
rule anti_zero: T[i, j] x[i] x[j] -> 0
rule c2: 2 A[i, j] B[j, k] -> 4 C[i, k]
rule zc: conj(Z)[i, j] u[j] -> w[i]
rule xi: inv(X)[i, j] y[j] -> x[i]
rule dd: delta[i, j] A[j, k] -> A[i, k]
rule dx: delta[i, j, k] x[k] -> Dg[i, j]
rule d3: delta[i, j, k] -> D3[i, j, k]
rule tr: A[i, i] -> x[j] y[j]
rule ax: A[i, j] x[k] -> C[i, j] y[k]
rule tx: T[i, j] x[j] -> -x[j] T[j, i]
"""

PROG = diagalg.parse(DECLS + RULES)
SUBS = PROG.env.concrete_subs()
USER = user_rules(PROG)


def run(rule: str, text: str, rules: tuple[str, ...] | None = None) -> tuple[Expr, Expr]:
    """(input, simplified by the user rule then delta and collect)."""
    expr = PROG.expr(text)
    names = rules if rules is not None else (rule, "delta", "collect")
    return expr, simplify(expr, rules=names, subs=SUBS, extra_rules=USER).result


def check(rule: str, text: str, expected: str, *, sound: bool = False) -> Expr:
    before, after = run(rule, text)
    want = simplify(PROG.expr(expected), rules=("delta", "collect"), subs=SUBS).result
    assert equal(after, want, SUBS), f"{text} by {rule}: got {diagalg.to_text(after)}, expected {expected}"
    if sound:
        res = compare(before, after, PROG.env)
        assert res.status == "equal", (text, rule, res)
    return after


def unchanged(rule: str, text: str) -> None:
    """The rule does not apply to ``text``."""
    expr = PROG.expr(text)
    d = simplify(expr, rules=(rule,), subs=SUBS, extra_rules=USER)
    assert not d.steps, f"{rule} should not apply to {text}: got {diagalg.to_text(d.result)}"
    assert not list(find_matches(USER[rule].pattern, expr.terms[0].diagram))


def diagram(text: str) -> Diagram:
    (term,) = PROG.expr(text).terms
    return term.diagram


# --------------------------------------------------------------------------- the rewriter


def test_rule_protocol_and_names():
    r = USER["ab"]
    assert r.name == "ab"
    assert "A[i, j] B[j, k] -> C[i, k]" in r.description
    assert set(USER) == set(PROG.rules)
    assert set(user_rules(PROG, ["ab", "pp"])) == {"ab", "pp"}
    with pytest.raises(KeyError):
        user_rules(PROG, ["nope"])


def test_ab_once():
    check("ab", "A[i, j] B[j, k]", "C[i, k]")


def test_ab_twice_in_one_pass():
    before, after = run("ab", "A[a, b] B[b, c] A[c, d] B[d, e]")
    assert equal(after, PROG.expr("C[a, c] C[c, e]"), SUBS)
    d = simplify(before, rules=("ab",), extra_rules=USER)
    assert len(d.steps) == 1 and d.steps[0].sites == 2


def test_ab_different_label_names():
    check("ab", "A[p, q] B[q, r]", "C[p, r]")
    check("ab", "B[s, t] A[u, v] B[v, s]", "C[u, s] B[s, t]")


def test_ab_overlapping_occurrences():
    # A A A: the occurrences (1st, 2nd) and (2nd, 3rd) overlap; one is rewritten
    before, after = run("aa", "A[a, b] A[b, c] A[c, d]")
    assert equal(after, PROG.expr("C[a, c] A[c, d]"), SUBS) or equal(after, PROG.expr("A[a, b] C[b, d]"), SUBS)
    d = before.terms[0].diagram
    assert len(list(USER["aa"].all_sites(d))) == 2
    assert len(list(USER["aa"].match(d))) == 1
    check("aa", "A[a, b] A[b, c] A[c, d] A[d, e]", "C[a, c] C[c, e]")
    check("aa", "A[a, b] A[b, c] A[c, d] A[d, e] A[e, f]", "C[a, c] C[c, e] A[e, f]")


def test_ab_in_a_ring():
    check("ab", "A[a, b] B[b, c] A[c, d] B[d, a]", "C[a, c] C[c, a]")
    # both boundary labels of the rule land on one edge (a trace): glued
    check("ab", "A[a, b] B[b, a]", "C[a, a]")
    check("aa", "A[a, b] A[b, c] A[c, a]", "C[a, c] A[c, a]")


def test_boundary_edge_contracted_elsewhere():
    check("ab", "A[a, b] B[b, c] x[c]", "C[a, c] x[c]")
    check("ab", "x[a] A[a, b] B[b, c] x[c]", "x[a] C[a, c] x[c]")
    check("ab", "C[a, e] A[e, b] B[b, c] x[c] y[e]", "C[a, e] C[e, c] x[c] y[e]")
    # a boundary hyperedge
    check("ab", "A[a, b] B[b, c] x[c] y[c]", "C[a, c] x[c] y[c]")


def test_internal_edge_used_by_a_third_tensor_does_not_match():
    unchanged("ab", "A[a, b] B[b, c] x[b]")
    unchanged("ab", "A[a, b] B[b, c] A[b, d]")
    unchanged("aa", "A[a, b] A[b, c] x[b] B[c, d]")


def test_internal_edge_with_a_free_label_does_not_match():
    d = diagram("A[a, b] B[b, c]")
    # the same diagram with the contracted edge b also open
    d2 = Diagram.build(d.nodes, d.dims, {**d.free_map, "b": "b"})
    assert list(find_matches(USER["ab"].pattern, d2)) == []
    # ... while open boundary legs are fine
    d3 = Diagram.build(d.nodes, d.dims, {**d.free_map, "a2": "a"})
    assert len(list(find_matches(USER["ab"].pattern, d3))) == 1


def test_leg_order_matters():
    unchanged("ab", "B[a, b] A[b, c]")
    unchanged("ab", "A[b, a] B[b, c]")
    unchanged("ab", "A[a, b] B[c, b]")


def test_sym_slide_is_sound():
    check("sym_slide", "S[a, b] x[b]", "x[b] S[b, a]", sound=True)
    check("sym_slide", "A[c, a] S[a, b] x[b]", "A[c, a] S[b, a] x[b]", sound=True)
    check("sym_slide", "y[a] S[a, b] x[b]", "y[a] S[b, a] x[b]", sound=True)
    # two sites in one pass, each with its own fresh contracted edge
    after = check("sym_slide", "S[a, b] x[b] S[c, d] x[d]", "x[b] S[b, a] x[d] S[d, c]", sound=True)
    assert len(after.terms[0].diagram.nodes) == 4
    # S with x on its first leg: legs are matched in declared order (no symmetry)
    unchanged("sym_slide", "S[b, a] x[b]")


def test_inv_pair_is_sound():
    check("inv_pair", "X[a, b] inv(X)[b, c]", "delta[a: n, c]", sound=True)
    check("inv_pair", "X[a, b] inv(X)[b, c] A[c, d]", "A[a, d]", sound=True)
    check("inv_pair", "X[a, b] inv(X)[b, a]", "n", sound=True)
    check("inv_pair", "x[a] X[a, b] inv(X)[b, c] X[c, d] inv(X)[d, e] y[e]", "x[a] y[a]", sound=True)
    check("inv_pair", "X[a, b] inv(X)[b, c] X[c, d] inv(X)[d, a]", "n", sound=True)
    unchanged("inv_pair", "inv(X)[a, b] X[b, c]")
    unchanged("inv_pair", "X[a, b] X[b, c]")


def test_sum_right_side():
    # split_it is not a true identity: only the structure of the result is checked
    check("split_it", "A[a, b] x[b]", "S[a, b] x[b] + C[a, b] x[b]")
    check("split_it", "A[a, b] A[b, c]", "S[a, b] S[b, c] + S[a, b] C[b, c] + C[a, b] S[b, c] + C[a, b] C[b, c]")
    d = simplify(PROG.expr("A[a, b] x[b]"), rules=("split_it",), extra_rules=USER)
    assert d.steps[0].rule == "split_it" and len(d.steps[0].after) == 2
    # a true identity with two terms
    check("halves", "x[a] X[a, b] inv(X)[b, c] y[c]", "x[a] y[a]", sound=True)
    check("halves", "X[a, b] inv(X)[b, c] A[c, d]", "A[a, d]", sound=True)


def test_zero_right_side():
    check("anti_zero", "T[a, b] x[a] x[b] A[c, d]", "0 A[c, d]", sound=True)
    before, after = run("anti_zero", "T[a, b] x[a] x[b]")
    assert after.terms == ()


def test_coefficients():
    check("c2", "A[a, b] B[b, c]", "2 C[a, c]")
    check("c2", "3 A[a, b] B[b, c] x[c]", "6 C[a, c] x[c]")
    check("ab", "n A[a, b] B[b, c]", "n C[a, c]")


def test_projector_rule_is_sound():
    check("pp", "P[a, b] P[b, c] P[c, d]", "P[a, d]", sound=True)
    check("pp", "x[a] P[a, b] P[b, c] x[c]", "x[a] P[a, c] x[c]", sound=True)


def test_conj_respected():
    check("zc", "conj(Z)[a, b] u[b]", "w[a]")
    unchanged("zc", "Z[a, b] u[b]")
    unchanged("zc", "conj(Z)[a, b] conj(u)[b]")
    unchanged("zc", "Z[a, b] conj(u)[b]")


def test_inv_respected():
    check("xi", "inv(X)[a, b] y[b]", "x[a]")
    unchanged("xi", "X[a, b] y[b]")


def test_dims_respected():
    check("d3", "delta[a, b, c] x[c]", "D3[a, b, c] x[c]")
    unchanged("d3", "delta[a, b, c] z[c]")  # a copy tensor of dimension m
    unchanged("d3", "delta[a, b] x[b]")  # arity 2


def test_delta_in_left_side():
    check("dd", "delta[a, b] A[b, c] x[c]", "A[a, c] x[c]", sound=True)
    check("dx", "delta[a, b, c] x[c]", "Dg[a, b]")
    # copy-tensor ports are interchangeable: x on any leg of the delta
    before, after = run("dx", "x[c] delta[c, a, b]")
    assert equal(after, PROG.expr("Dg[a, b]"), SUBS) or equal(after, PROG.expr("Dg[b, a]"), SUBS)
    before, after = run("dx", "A[e, a] delta[a, c, b] x[c] B[b, f]")
    assert equal(after, PROG.expr("A[e, a] Dg[a, b] B[b, f]"), SUBS) or equal(
        after, PROG.expr("A[e, a] Dg[b, a] B[b, f]"), SUBS
    )
    unchanged("dx", "delta[a, b, c] x[c] y[c]")


def test_self_loop_and_disconnected_patterns():
    check("tr", "A[a, a]", "x[j] y[j]")
    check("tr", "A[a, a] A[b, b] B[c, c]", "x[j] y[j] x[k] y[k] B[c, c]")
    unchanged("tr", "A[a, b]")
    check("ax", "A[a, b] x[c]", "C[a, b] y[c]")
    # the vector may sit anywhere, even on the matrix's leg
    check("ax", "A[a, b] x[b]", "C[a, b] y[b]")
    check("ax", "B[d, a] A[a, b] B[b, c] x[c]", "B[d, a] C[a, b] B[b, c] y[c]")


def test_inside_a_parenthesised_sum():
    before, after = run("ab", "(A[a, b] B[b, c] + C[a, c]) x[c]", ("ab", "distribute", "delta", "collect"))
    assert equal(after, PROG.expr("2 C[a, c] x[c]"), SUBS)


def test_left_side_must_be_one_product():
    # refused where it is defined, at the rule's name, before anything runs
    with pytest.raises(diagalg.SourceError, match="left side is a sum of 2 terms") as info:
        diagalg.parse(DECLS + "rule bad: A[i, j] + B[i, j] -> C[i, j]\n")
    assert info.value.line == DECLS.count("\n") + 1 and info.value.col == 6
    prog = diagalg.parse(DECLS + "rule loop: x[i] x[i] A[j, j] -> n A[j, j]\n")
    UserRuleRewriter(prog.rules["loop"])  # fine: every edge has a tensor


@pytest.mark.parametrize("name", ["softmax_shift", "logsumexp_shift", "layernorm_shift", "isometry"])
def test_a_rule_named_like_a_built_in_rule_is_refused_at_its_name(name):
    # a `by` clause names rules: a user rule must not take a built-in's name (a user
    # `softmax_shift` used to replace the built-in in every proof)
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.parse(DECLS + f"rule {name}: A[i, j] -> B[i, j]\n")
    err = info.value
    assert err.message == f"rule '{name}' is a built-in rule; choose another name"
    assert (err.line, err.col) == (DECLS.count("\n") + 1, 6)
    assert err.render().splitlines()[-1] == "         ^"


def test_pattern_with_a_bare_edge_is_refused():
    d = diagram("A[a, b]")
    with pytest.raises(ValueError, match="touched by no tensor"):
        Pattern(Diagram.build(d.nodes, {**d.dims, "c": d.dims["a"]}, {**d.free_map, "c": "c"}))
    with pytest.raises(ValueError, match="closed loop"):
        Pattern(Diagram.build(d.nodes, {**d.dims, "c": d.dims["a"]}, d.free_map))
    with pytest.raises(ValueError, match="no tensor"):
        Pattern(Diagram.build((), {}, {}))


# --------------------------------------------------------------------------- leg symmetries (opt-in)


def test_leg_symmetries_option():
    pat = diagram("S[i, j] x[j]")
    target = diagram("S[b, a] x[b]")
    assert list(find_matches(pat, target)) == []
    (m,) = find_matches(pat, target, leg_symmetries=True)
    assert m.sign == 1 and m.ports[0] == (1, 0)

    pat = diagram("T[i, j] x[j]")
    target = diagram("T[b, a] x[b]")
    (m,) = find_matches(pat, target, leg_symmetries=True)
    assert m.sign == -1
    (m,) = find_matches(pat, diagram("T[a, b] x[b]"), leg_symmetries=True)
    assert m.sign == 1


def test_leg_symmetries_rewrite_is_sound():
    for rule, text in (("tx", "T[b, a] x[b] y[a]"), ("tx", "A[c, a] T[b, a] x[b]"), ("sym_slide", "S[b, a] x[b] y[a]")):
        rw = UserRuleRewriter(PROG.rules[rule], leg_symmetries=True)
        before = PROG.expr(text)
        d = before.terms[0].diagram
        sites = list(rw.match(d))
        assert sites, (rule, text)
        factor, d2 = apply_edits(d, [rw.rewrite(d, sites[0])])
        after = Expr.single(d2, factor)
        assert compare(before, after, PROG.env).status == "equal", (rule, text)


# --------------------------------------------------------------------------- the matcher against brute force


def brute_force(pattern: Diagram, target: Diagram) -> set[tuple]:
    """Every match by the definition (module docstring of diagalg.match), slowly."""
    out = set()
    pinc, tinc = pattern.incidence, target.incidence
    internal = {e for e in pinc if not pattern.edge_labels[e]}
    pn = pattern.nodes
    for image in itertools.permutations(range(len(target.nodes)), len(pn)):
        if any(target.nodes[t].op != pn[k].op for k, t in enumerate(image)):
            continue
        perms = [
            itertools.permutations(range(len(n.edges)))
            if isinstance(n.op, CopyTensor)
            else [tuple(range(len(n.edges)))]
            for n in pn
        ]
        for sig in itertools.product(*[list(p) for p in perms]):
            emap: dict[str, str] = {}
            ok = True
            for k, n in enumerate(pn):
                for p, e in enumerate(n.edges):
                    f = target.nodes[image[k]].edges[sig[k][p]]
                    if emap.setdefault(e, f) != f:
                        ok = False
            if not ok:
                continue
            for e in internal:
                f = emap[e]
                want = {(image[m], sig[m][p]) for m, p in pinc[e]}
                if target.edge_labels[f] or set(tinc[f]) != want or len(tinc[f]) != len(want):
                    ok = False
            if ok:
                out.add((image, tuple(sorted(emap.items()))))
    return out


PATTERNS = [
    "A[i, j] B[j, k]",
    "A[i, j] A[j, k]",
    "A[i, i]",
    "A[i, j] x[k]",
    "x[i] A[i, j] x[j]",
    "A[k, j] B[j, l] x[j]",
    "delta[i, j, k] x[k]",
    "delta[i, j] A[j, k]",
    "A[i, j] B[j, i]",
    "A[i, j] A[j, k] A[k, i]",
]


def random_target(rng: random.Random, plant: Diagram | None = None) -> Diagram:
    """Random nodes on a few edges, some edges open; with ``plant``, 0-2 copies of
    that pattern are placed first (its contracted edges fresh, its open edges on
    the pool), so that random nodes sometimes spoil them."""
    n = PROG.tensors["A"].dims[0]
    ops = [
        TensorOp(PROG.tensors["A"]),
        TensorOp(PROG.tensors["B"]),
        TensorOp(PROG.tensors["x"]),
        CopyTensor(n, 2),
        CopyTensor(n, 3),
    ]
    weights = [5, 3, 3, 1, 1]
    edges = [f"e{k}" for k in range(rng.randint(2, 6))]
    nodes = []
    if plant is not None:
        for c in range(rng.randint(0, 2)):
            rename = {e: (rng.choice(edges) if plant.edge_labels[e] else f"p{c}{e}") for e in plant.dims}
            edges.extend(sorted(set(rename.values()) - set(edges)))
            for node in plant.nodes:
                ports = [rename[e] for e in node.edges]
                if isinstance(node.op, CopyTensor):
                    rng.shuffle(ports)
                nodes.append(Node(node.op, tuple(ports)))
    for _ in range(rng.randint(0 if nodes else 1, 4)):
        op = rng.choices(ops, weights)[0]
        nodes.append(Node(op, tuple(rng.choice(edges) for _ in op.ports)))
    rng.shuffle(nodes)
    free = {f"l{k}": e for k, e in enumerate(edges) if rng.random() < 0.25}
    return Diagram.build(nodes, {e: n for e in edges}, free)


@pytest.mark.parametrize("seed", range(60))
def test_matcher_agrees_with_brute_force(seed):
    rng = random.Random(seed)
    found = 0
    for _ in range(4):
        for text in PATTERNS:
            pat = diagram(text)
            for plant in (None, pat):
                target = random_target(rng, plant)
                got = [(m.nodes, m.edges) for m in find_matches(pat, target)]
                assert len(got) == len(set(got))
                assert set(got) == brute_force(pat, target), (text, target)
                found += len(got)
                # disjoint mode = greedy node-disjoint selection of the full list, in order
                greedy, taken = [], set()
                for nodes, edges in got:
                    if not taken.intersection(nodes):
                        taken.update(nodes)
                        greedy.append((nodes, edges))
                assert [(m.nodes, m.edges) for m in find_matches(pat, target, disjoint=True)] == greedy
    assert found  # not vacuous


@pytest.mark.parametrize("seed", range(10))
def test_random_rewrites_are_sound(seed):
    """inv_pair and pp on random networks: the rewrite never changes the value."""
    rng = random.Random(seed)
    names = ["a", "b", "c", "d", "e", "f", "g"]
    for rule, pair in (("inv_pair", "X[{0}, {1}] inv(X)[{1}, {2}]"), ("pp", "P[{0}, {1}] P[{1}, {2}]")):
        labels = rng.sample(names, 3)
        others = [l for l in names if l != labels[1]]
        factors = [pair.format(*labels)]
        for _ in range(rng.randint(1, 3)):
            t = rng.choice(["A[{0}, {1}]", "X[{0}, {1}]", "inv(X)[{0}, {1}]", "P[{0}, {1}]"])
            factors.append(t.format(rng.choice(others[:4]), rng.choice(others[:4])))
        spoil = rng.random() < 0.3
        if spoil:  # a third tensor on the pair's contracted edge: a hyperedge, no match
            factors.append(f"x[{labels[1]}]")
        rng.shuffle(factors)
        text = " ".join(factors)
        before, after = run(rule, text)
        fired = any(s.rule == rule for s in simplify(before, rules=(rule,), extra_rules=USER).steps)
        assert fired != spoil, text
        res = compare(before, after, PROG.env)
        assert res.status == "equal", (rule, text, diagalg.to_text(after), res)


# --------------------------------------------------------------------------- performance


def chain(n_nodes: int, ring: bool = False) -> Diagram:
    A, B = PROG.tensors["A"], PROG.tensors["B"]
    dim = A.dims[0]
    ne = n_nodes if ring else n_nodes + 1
    nodes = [Node(TensorOp(A if k % 2 == 0 else B), (f"e{k}", f"e{(k + 1) % ne}")) for k in range(n_nodes)]
    free = {} if ring else {"i": "e0", "k": f"e{n_nodes}"}
    return Diagram.build(nodes, {f"e{k}": dim for k in range(ne)}, free)


def test_matching_a_long_chain_is_near_linear():
    # work counted in Python calls (deterministic): four times the chain, about four
    # times the work -- a quadratic matcher would do sixteen times
    pat = USER["ab"].pattern
    for ring in (False, True):
        small, w_small = python_calls(lambda: list(find_matches(pat, chain(500, ring=ring))))
        large, w_large = python_calls(lambda: list(find_matches(pat, chain(2000, ring=ring))))
        assert (len(small), len(large)) == (250, 1000)
        assert w_large < 5 * w_small, (ring, w_small, w_large)

    target = chain(2000)
    _, w_small = python_calls(lambda: simplify(Expr.single(chain(500)), rules=("ab",), extra_rules=USER))
    result, w_large = python_calls(lambda: simplify(Expr.single(target), rules=("ab",), extra_rules=USER).result)
    assert w_large < 5 * w_small, (w_small, w_large)
    (term,) = result.terms
    assert len(term.diagram.nodes) == 1000
    assert all(n.op.decl.name == "C" for n in term.diagram.nodes)
    assert len(term.diagram.dims) == 1001


def test_unconnected_pattern_in_a_large_diagram_is_near_linear():
    # A[i, j] x[k] has N x N occurrences in N A's and N x's; the rule's matcher
    # produces only node-disjoint ones, without enumerating the others (work counted)
    A, x = PROG.tensors["A"], PROG.tensors["x"]
    dim = A.dims[0]

    def diagram(n: int) -> Diagram:
        nodes = [Node(TensorOp(A), (f"a{k}", f"b{k}")) for k in range(n)]
        nodes += [Node(TensorOp(x), (f"a{k}",)) for k in range(n)]
        return Diagram.build(nodes, {f"{c}{k}": dim for k in range(n) for c in "ab"}, {})

    d = diagram(1000)
    small, w_small = python_calls(lambda: list(USER["ax"].match(diagram(250))))
    sites, w_large = python_calls(lambda: list(USER["ax"].match(d)))
    assert (len(small), len(sites)) == (250, 1000)
    assert w_large < 5 * w_small, (w_small, w_large)
    result = simplify(Expr.single(d), rules=("ax",), extra_rules=USER).result
    names = [n.op.decl.name for n in result.terms[0].diagram.nodes]
    assert sorted(set(names)) == ["C", "y"] and len(names) == 2000


def test_user_rules_apply_after_by_in_diag_files(tmp_path):
    from diagalg.cli import main

    f = tmp_path / "r.diag"
    f.write_text(
        "dim n\ntensor S[i: n, j: n] symmetric(i, j)\ntensor x[i: n]\n"
        "tensor A[i: n, j: n]\ntensor B[i: n, j: n]\ntensor C[i: n, j: n]\n"
        "rule sym_slide: S[i, j] x[j] -> x[j] S[j, i]\n"
        "assert S[i, j] x[j] == x[j] S[j, i] by sym_slide\n"
    )
    assert main(["check", str(f)]) == 0
    # a numerically false rule is refused, and statements using it fail (exit 1, not 3)
    f.write_text(f.read_text() + "rule ab: A[i, j] B[j, k] -> C[i, k]\nshow A[p, q] B[q, r] x[r] by ab\n")
    assert main(["check", str(f)]) == 1


# --------------------------------------------------------------------------- rules that do not shrink


CAYLEY_HAMILTON = """\
dim d = 2
tensor A[i: d, j: d]
rule cayley_hamilton: A[i, j] A[j, k] -> A[l, l] A[i, k] - 1/2 * (A[l, l] A[m, m] - A[l, m] A[m, l]) delta[i, k]
"""


def test_shrinking_is_decided_by_the_termination_measure():
    prog = diagalg.parse(
        DECLS + "rule slide: S[i, j] x[j] -> x[j] S[j, i]\n"
        "rule cancel: X[i, j] inv(X)[j, k] -> delta[i, k]\n"
        "rule grow: A[i, j] -> A[i, k] delta[k, j]\n"
    )
    rules = user_rules(prog)
    assert not rules["slide"].shrinks  # same size: may cycle with its own image
    assert rules["cancel"].shrinks
    assert not rules["grow"].shrinks
    assert not UserRuleRewriter(diagalg.parse(CAYLEY_HAMILTON).rules["cayley_hamilton"]).shrinks


def test_a_rule_that_contains_its_own_left_side_stops():
    # Cayley-Hamilton for 2x2: the right side holds tr(A A), which the rule matches
    # again; each distinct term is rewritten once, so simplification terminates
    prog = diagalg.parse(CAYLEY_HAMILTON)
    rules = user_rules(prog)
    start = prog.expr("A[i, j] A[j, k] A[k, i]")
    d = simplify(
        start,
        rules=("cayley_hamilton", "delta", "distribute", "collect"),
        extra_rules=rules,
        subs=prog.env.concrete_subs(),
    )
    want = prog.expr("3/2 * A[l, l] A[m, n] A[n, m] - 1/2 * A[l, l] A[m, m] A[n, n]")
    assert equal(d.result, want, prog.env.concrete_subs())
    assert compare(start, d.result, prog.env, seed=0).status == "equal"
    assert len(d.steps) < 50


def test_a_rule_that_grows_forever_stops_at_the_budget_with_its_name(capsys, tmp_path, monkeypatch):
    import diagalg.engine
    from diagalg.cli import main

    monkeypatch.setattr(diagalg.engine, "MAX_GROWING_STEPS", 300)  # 2000 in use: the same path, 6x faster

    f = tmp_path / "grow.diag"
    f.write_text(
        "dim n\ntensor A[i: n, j: n]\ntensor B[i: n, j: n] invertible\n"
        "rule grow: A[i, j] -> A[i, k] B[k, l] inv(B)[l, j]\n"
        "calc A[i, j]\n  = A[i, k] B[k, l] inv(B)[l, j]   by grow\n"
    )
    # without `inverse` every image is a new, larger term: only the budget stops it
    assert main(["check", "--unchecked", str(f)]) == 4
    out = capsys.readouterr().out
    assert "grow.diag:5: INCONCLUSIVE" in out or "grow.diag:6: INCONCLUSIVE" in out
    assert "rule 'grow' was applied 300 times without reaching a fixed point" in out


def test_one_term_lets_unfold_into_the_product_that_uses_them(tmp_path):
    # a calc step by gauge compares with lets unfolded: B1 = A1 X and B2 = inv(X) A2
    # must join the product, not stay parenthesised
    from diagalg.cli import main

    f = tmp_path / "g.diag"
    f.write_text(
        "dim d, D\ntensor A1[s: d, b: D]\ntensor A2[a: D, s: d]\ntensor X[i: D, j: D] invertible\n"
        "let B1[s, c] = A1[s, a] X[a, c]\nlet B2[c, s] = 2 * inv(X)[c, e] A2[e, s]\n"
        "calc A1[s1, a] A2[a, s2]\n"
        "  = 1/2 * B1[s1, c] B2[c, s2]   by gauge\n"
    )
    assert main(["check", str(f)]) == 0


def test_checked_mode_cuts_out_a_site_that_is_not_the_first_node(monkeypatch):
    # regression: the local view renumbers the site's nodes; the rewriter must use
    # the site's indices, not the match's (it used to remove nothing and be "unsound")
    import diagalg.engine
    from diagalg.engine import StepLimit

    # every checked application of `grow` is a site that is not the first node; a
    # smaller budget reaches the same message without 2000 checked rewrites (~40 s)
    monkeypatch.setattr(diagalg.engine, "MAX_GROWING_STEPS", 100)

    prog = diagalg.parse(
        "dim n\ntensor A[i: n, j: n]\ntensor B[i: n, j: n] invertible\n"
        "rule grow: A[i, j] -> A[i, k] B[k, l] inv(B)[l, j]\n"
    )
    with pytest.raises(StepLimit, match="rule 'grow' was applied"):
        simplify(
            prog.expr("B[k, l] inv(B)[l, j] A[i, k]"),
            rules=("grow", "delta", "collect"),
            extra_rules=user_rules(prog),
            checked=True,
            env=prog.env,
        )
    prog = diagalg.parse(DECLS + "rule cancel: X[i, j] inv(X)[j, k] -> delta[i, k]\n")
    d = simplify(
        prog.expr("A[p, i] B[q, r] X[i, j] inv(X)[j, k]"),
        rules=("cancel", "delta"),
        extra_rules=user_rules(prog),
        checked=True,
        env=prog.env,
    )
    assert equal(d.result, prog.expr("A[p, k] B[q, r]"))
    assert d.checks >= 1
