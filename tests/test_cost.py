"""`cost E`: the symbolic FLOPs of every contraction order equal opt_einsum's count at
concrete sizes (not only at the sizes the order was chosen at), and the comparisons
the matmul-visualisation paper makes come out as it says."""

from __future__ import annotations

import opt_einsum
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import diagalg
from conftest import expect_error
from diagalg.checker import Checker
from diagalg.cost import _all_paths, _equation, _shapes, best_plan, cost_report, network, plan_of

CHAIN = (
    "dim n, m, p\ntensor A[i: n, j: m]\ntensor B[i: m, j: p]\ntensor x[i: p]\n"
    "dim r < n\ntensor W[i: n, j: m]\ntensor Bl[i: n, a: r]\ntensor Al[a: r, j: m]\ntensor v[j: m]\n"
)


def report(text: str, expr: str):
    prog = diagalg.parse(text)
    return cost_report(prog.expr(expr), prog.env), prog


def test_matrix_vector_order_beats_forming_the_matrix_product():
    rep, prog = report(CHAIN, "A[i, j] B[j, k] x[k]")
    n, m, p = (prog.env.symbols[c] for c in "nmp")
    assert sympy.expand(rep.flops - (2 * m * n + 2 * m * p)) == 0
    assert rep.agrees
    assert any("A[i, j] (B[j, k] x[k])" in line and "(chosen)" in line for line in rep.lines)
    assert any("x[k] (A[i, j] B[j, k])" in line and "2*m*n*p" in line for line in rep.lines)


def test_a_low_rank_update_applied_costs_less_than_forming_it():
    applied, prog = report(CHAIN, "W[i, j] v[j] + Bl[i, a] Al[a, j] v[j]")
    formed, _ = report(CHAIN, "(W[i, j] + Bl[i, a] Al[a, j]) v[j]")
    n, m, r = (prog.env.symbols[c] for c in "nmr")
    assert sympy.expand(applied.flops - (2 * m * n + 2 * m * r + 2 * n * r)) == 0
    assert sympy.expand(applied.extra - n) == 0  # one addition of two length-n vectors
    # forming B A costs 2 n m r; adding W costs n m (plus opt_einsum's n m for W on its own)
    assert sympy.expand(formed.flops - (2 * m * n * r + 3 * m * n)) == 0
    sizes = {n: 1000, m: 1000, r: 100}
    assert (formed.flops + formed.extra).subs(sizes) > 80 * (applied.flops + applied.extra).subs(sizes)


def test_one_attention_head_is_six_matmuls_at_gpt2_sizes():
    text = (
        "dim seq = 1024, d = 768, dh = 64\ntensor X[t: seq, e: d]\ntensor Wq[e: d, h: dh]\n"
        "tensor Wk[e: d, h: dh]\ntensor Wv[e: d, h: dh]\ntensor Wo[h: dh, e: d]\n"
    )
    rep, prog = report(text, "softmax[k](X[q, e] Wq[e, a] X[k, f] Wk[f, a] / sqrt(dh)) X[k, g] Wv[g, c] Wo[c, o]")
    steps = [line for line in rep.lines if "->" in line]
    assert len(steps) == 6, rep.lines
    seq, d, dh = (prog.env.symbols[c] for c in ("seq", "d", "dh"))
    assert sympy.expand(rep.flops - (8 * seq * d * dh + 4 * seq**2 * dh)) == 0
    assert rep.agrees


NAMES = "ABCDEF"


@st.composite
def networks(draw):
    """A random connected einsum network of 2-4 matrices/vectors/3-tensors over 5 dims."""
    k = draw(st.integers(2, 4))
    labels = "abcdefg"
    ops = []
    for t in range(k):
        arity = draw(st.integers(1, 3))
        ops.append(draw(st.lists(st.sampled_from(labels), min_size=arity, max_size=arity, unique=True)))
    return ops, draw(st.lists(st.integers(2, 40), min_size=7, max_size=7))


@settings(max_examples=40, deadline=None)
@given(networks())
def test_symbolic_flops_of_every_order_match_opt_einsum_at_other_sizes(net_sizes):
    ops, sizes_list = net_sizes
    labels = sorted({l for o in ops for l in o})
    text = "dim " + ", ".join(f"d{l}" for l in labels) + "\n"
    for name, o in zip(NAMES, ops):
        text += f"tensor {name}[{', '.join(f'{l}: d{l}' for l in o)}]\n"
    expr = " ".join(f"{name}[{', '.join(o)}]" for name, o in zip(NAMES, ops))
    prog = diagalg.parse(text)
    e = prog.expr(expr)
    net = network(e.terms[0].diagram, prog.env)
    sizes = {prog.env.symbols[f"d{l}"]: s for l, s in zip(labels, sizes_list)}
    eq, _ = _equation(net)
    for path in _all_paths(len(net.indices))[:12]:
        plan = plan_of(net, path)
        _, info = opt_einsum.contract_path(eq, *_shapes(net, sizes), shapes=True, optimize=path)
        assert int(plan.flops.subs(sizes)) == int(info.opt_cost), (expr, path)
        assert int(sympy.sympify(plan.largest).subs(sizes)) == int(info.largest_intermediate)
    best = best_plan(net, sizes)
    _, info = opt_einsum.contract_path(eq, *_shapes(net, sizes), shapes=True, optimize="optimal")
    assert int(best.flops.subs(sizes)) == int(info.opt_cost)


def test_cost_statement_in_a_file(tmp_path):
    prog = diagalg.parse(CHAIN + "cost A[i, j] B[j, k] x[k]\n")
    (res,) = Checker(prog).run()
    assert res.status == "ok" and "2*m*n + 2*m*p flops" in res.detail and "agrees with opt_einsum" in res.detail


def test_cost_of_a_reshape_is_a_positioned_error():
    err = expect_error("dim n\ntensor A[i: n, j: n]\ncost group[(i, j) -> g](A[i, j])\n")
    assert err.line == 3 and "cost does not model" in err.message


def test_free_copy_tensor_legs_and_hyperedges_are_costed():
    rep, prog = report("dim n\ntensor a[i: n]\ntensor b[i: n]\ntensor c[i: n]\n", "keep[i](a[i] b[i] c[i])")
    assert rep.agrees and rep.flops != 0


def test_cost_prices_the_order_the_parentheses_give_beside_the_optimal_one():
    # the bad order forms the matrix product A B (n m p), the good one two matrix-vector products
    prog = diagalg.parse(
        "dim n\ntensor A[i: n, j: n]\ntensor B[j: n, k: n]\ntensor x[k: n]\n"
        "cost (A[i, j] B[j, k]) x[k]\ncost A[i, j] (B[j, k] x[k])\ncost A[i, j] B[j, k] x[k]\n"
    )
    bad, good, plain = Checker(prog).run()
    assert bad.status == good.status == "ok"
    assert bad.detail == plain.detail  # the chosen order and its figures do not depend on the parentheses
    (line,) = [x for x in bad.output if x.startswith("as written")]
    assert line == "as written (A[i, j] B[j, k]) x[k]: 2*n**3 + 2*n**2 flops = 2e+09 (500x the chosen order)"
    assert any(
        x.startswith("as written A[i, j] (B[j, k] x[k]): 4*n**2 flops") and "(1x the chosen order)" in x
        for x in good.output
    )
    assert not any(x.startswith("as written") for x in plain.output)  # no parentheses: no written order
