"""Soundness of the canonical form on generated diagrams (issue 8, part 2).

The rules' soundness on random diagrams (every site of every registered rule
keeps the value; ``simplify`` keeps the value and is idempotent) is tested in
test_rules.py (tensors with properties, deltas, sums), test_rules_structural.py
(shifts, reshapes, projectors) and test_bubble_rules.py (softmax, logsumexp and
layernorm bubbles). This module checks what equality rests on, the canonical
key, on the same generators:

* invariance: renaming every edge and reordering the nodes of each term, and
  reordering the terms of a sum, keeps the keys (and the sign of a term);
  across ``strategies.cases`` (properties, conj/inv, copy tensors, boxes) and
  ``bubble_cases`` (bubbles with causal masks and constant summands);
* completeness against an independent oracle: on small generated diagrams over
  structured tensors (conj, inv, inv(inv), copy tensors of two dimensions,
  free labels), two diagrams have equal keys exactly when networkx finds a
  colour-preserving isomorphism of an independent graph encoding. Pairs are an
  independent draw, a relabelled copy, or a copy with one small change (two
  legs swapped, conj or inv toggled, a free label moved), so that both
  isomorphic and nearly isomorphic non-isomorphic pairs occur (the test
  counts both);
* simplification of generated bubble expressions is idempotent.
"""

from __future__ import annotations

import random

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagalg import canonical
from diagalg.canonical import canonical_term, expr_key
from diagalg.engine import simplify
from diagalg.model import CopyTensor, Diagram, Expr, Node, TensorOp, Term, tensor_op
from diagalg.rules import DEFAULT_RULES
from strategies import PROG, SUBS, cases, nx_graph, shuffled
from test_bubble_rules import PROG as BUBBLE_PROG
from test_bubble_rules import RULES as BUBBLE_RULES
from test_bubble_rules import bubble_cases

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_invariance(expr: Expr, seed: int) -> None:
    for t, term in enumerate(expr.terms):
        k1, s1 = canonical_term(term.diagram)
        k2, s2 = canonical_term(shuffled(term.diagram, seed + t))
        assert k1 == k2, f"relabelling changed the key of {term.diagram}"
        assert s1 == s2, "relabelling is an exact isomorphism: the sign must not change"
    rng = random.Random(seed)
    terms = [Term(t.coeff, shuffled(t.diagram, seed + 7 * i), t.tags) for i, t in enumerate(expr.terms)]
    rng.shuffle(terms)
    assert expr_key(Expr.of(terms, expr.free_dims), SUBS) == expr_key(expr, SUBS)


@SETTINGS
@given(case=cases(), seed=st.integers(0, 2**31 - 1))
def test_keys_are_invariant_under_relabelling_and_reordering(case, seed: int) -> None:
    _check_invariance(case.expr(), seed)


@SETTINGS
@given(text=bubble_cases(), seed=st.integers(0, 2**31 - 1))
def test_bubble_keys_are_invariant_under_relabelling_and_reordering(text: str, seed: int) -> None:
    _check_invariance(BUBBLE_PROG.expr(text), seed)


@SETTINGS
@given(text=bubble_cases())
def test_simplify_of_bubble_expressions_is_idempotent(text: str) -> None:
    rules = tuple(dict.fromkeys(DEFAULT_RULES + BUBBLE_RULES))
    subs = BUBBLE_PROG.env.concrete_subs()
    once = simplify(BUBBLE_PROG.expr(text), rules=rules, subs=subs).result
    twice = simplify(once, rules=rules, subs=subs).result
    assert canonical.equal(once, twice, subs), f"not idempotent: {text}"


# --------------------------------------------------------------------------- against networkx

T = PROG.tensors
#: Structured tensors without leg symmetries (so ports are told apart by name alone):
#: matrices over two dimensions, invertible (real and complex), unitary, isometries,
#: a three-leg tensor, a multi-leg invertible map and vectors.
VOCAB = [T[name] for name in ("M_nn", "M_nm", "M_mn", "M_mm", "X", "Xc", "U", "Y", "K", "S3", "vn", "vm")]
EDGES = {"n": ["a", "b", "c", "d"], "m": ["p", "q", "s"], "r": ["u", "v"]}


def _edges_for(decl, leg: str) -> list[str]:
    return EDGES[str(decl.leg_dim(leg))]


@st.composite
def flat_diagrams(draw) -> Diagram:
    """1-4 occurrences (random conj on complex tensors, inv levels 0-2 on invertible
    ones) and copy tensors over dims n and m, on a small pool of edges, with 0-2
    free labels."""
    nodes = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 5)) == 0:
            dim = draw(st.sampled_from(["n", "m"]))
            arity = draw(st.integers(1, 3))
            sym = PROG.env.symbols[dim]
            nodes.append(Node(CopyTensor(sym, arity), tuple(draw(st.sampled_from(EDGES[dim])) for _ in range(arity))))
            continue
        decl = draw(st.sampled_from(VOCAB))
        inv = draw(st.integers(0, 2)) if decl.invertible else 0
        op = tensor_op(decl, conj=draw(st.booleans()), inv=inv)
        nodes.append(Node(op, tuple(draw(st.sampled_from(_edges_for(decl, p))) for p in op.ports)))
    used = sorted({e for nd in nodes for e in nd.edges})
    free = {}
    for label in ("i", "j"):
        if draw(st.booleans()):
            free[label] = draw(st.sampled_from(used))
    return Diagram.build(nodes, {e: _dim_of(e) for e in used}, free)


def _dim_of(edge: str):
    for dim, names in EDGES.items():
        if edge in names:
            return PROG.env.symbols[dim]
    raise KeyError(edge)


def _changed(d: Diagram, kind: str, rng: random.Random) -> Diagram:
    """``d`` with one small change (which may or may not break isomorphism)."""
    nodes = list(d.nodes)
    free = d.free_map
    t = rng.randrange(len(nodes))
    nd = nodes[t]
    if kind == "swap" and len(nd.edges) >= 2:
        i, j = rng.sample(range(len(nd.edges)), 2)
        edges = list(nd.edges)
        if d.dims[edges[i]] == d.dims[edges[j]]:
            edges[i], edges[j] = edges[j], edges[i]
        nodes[t] = Node(nd.op, tuple(edges))
    elif kind == "conj" and isinstance(nd.op, TensorOp):
        nodes[t] = Node(tensor_op(nd.op.decl, conj=not nd.op.conj, inv=nd.op.inv), nd.edges)
    elif kind == "inv" and isinstance(nd.op, TensorOp) and nd.op.decl.invertible:
        op = tensor_op(nd.op.decl, conj=nd.op.conj, inv=nd.op.inv + 1)
        # ports change order with inv: keep each leg on its edge
        by_leg = dict(zip(nd.op.ports, nd.edges))
        nodes[t] = Node(op, tuple(by_leg[p] for p in op.ports))
    elif kind == "free" and free:
        label = rng.choice(sorted(free))
        same_dim = [e for e, dm in d.edge_dims if dm == d.dims[free[label]]]
        free[label] = rng.choice(same_dim)
    return Diagram.build(nodes, dict(d.edge_dims), free)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    d1=flat_diagrams(),
    other=flat_diagrams(),
    how=st.sampled_from(["independent", "relabelled", "swap", "conj", "inv", "free"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_key_equality_is_networkx_isomorphism(d1: Diagram, other: Diagram, how: str, seed: int) -> None:
    rng = random.Random(seed)
    if how == "independent":
        d2 = other
    elif how == "relabelled":
        d2 = shuffled(d1, seed)
    else:
        d2 = shuffled(_changed(d1, how, rng), seed)
    iso = nx.is_isomorphic(nx_graph(d1), nx_graph(d2), node_match=lambda a, b: a["c"] == b["c"])
    same = canonical_term(d1)[0] == canonical_term(d2)[0]
    assert same == iso, (
        f"keys {'equal' if same else 'differ'}, networkx says {'' if iso else 'not '}isomorphic:\n  {d1}\n  {d2}"
    )


def test_networkx_cross_check_sees_both_outcomes() -> None:
    """The cross-check is not vacuous: a fixed sweep of the generator meets many
    isomorphic and many non-isomorphic pairs (and every one agrees)."""
    rng = random.Random(5)
    iso = non = 0
    for k in range(150):
        d1 = _sample(rng)
        d2 = shuffled(_changed(d1, rng.choice(["swap", "conj", "inv", "free", "none"]), rng), k)
        g_iso = nx.is_isomorphic(nx_graph(d1), nx_graph(d2), node_match=lambda a, b: a["c"] == b["c"])
        assert (canonical_term(d1)[0] == canonical_term(d2)[0]) == g_iso, (d1, d2)
        iso += g_iso
        non += not g_iso
    assert iso >= 30 and non >= 15, (iso, non)


def _sample(rng: random.Random) -> Diagram:
    """A draw like :func:`flat_diagrams`, from a plain random generator."""
    nodes = []
    for _ in range(rng.randint(1, 4)):
        decl = rng.choice(VOCAB)
        op = tensor_op(decl, conj=rng.random() < 0.5, inv=rng.randint(0, 2) if decl.invertible else 0)
        nodes.append(Node(op, tuple(rng.choice(_edges_for(decl, p)) for p in op.ports)))
    used = sorted({e for nd in nodes for e in nd.edges})
    free = {label: rng.choice(used) for label in ("i", "j") if rng.random() < 0.5}
    return Diagram.build(nodes, {e: _dim_of(e) for e in used}, free)
