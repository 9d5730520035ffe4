"""Contraction orders: searched once per wiring, costed per size, carried out linearly.

The oracle contracts one network at several size draws and tensor draws; these tests
count the work (searches, steps) rather than time it.
"""

from __future__ import annotations

import math

import numpy as np
import opt_einsum as oe
from hypothesis import given, settings
from hypothesis import strategies as st

from diagalg.numeric import plan
from diagalg.numeric.contract import float_pair, float_reduce
from diagalg.numeric.plan import contraction_order, cost_of, run_order


def ring(n: int) -> list[tuple[int, ...]]:
    """tr(A_0 ... A_{n-1}): operand k carries indices k and k+1 (mod n)."""
    return [(k, (k + 1) % n) for k in range(n)]


@st.composite
def networks(draw):
    """1-6 operands over 6 indices (sizes 1-4), repeated indices across operands
    (hyperedges) allowed, an output of some used indices."""
    sizes = dict(enumerate(draw(st.lists(st.integers(1, 4), min_size=6, max_size=6))))
    ops = draw(
        st.lists(st.lists(st.integers(0, 5), min_size=0, max_size=3, unique=True).map(tuple), min_size=1, max_size=6)
    )
    used = sorted({i for ids in ops for i in ids})
    out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    return sizes, ops, out


@settings(max_examples=80, deadline=None)
@given(networks(), st.integers(0, 2**32 - 1))
def test_an_order_carried_out_equals_einsum(net, seed) -> None:
    sizes, ops, out = net
    rng = np.random.default_rng(seed)
    operands = [(rng.standard_normal(tuple(sizes[i] for i in ids)), list(ids)) for ids in ops]
    order = contraction_order(ops, out, sizes)
    arr, ids = run_order(order, operands, out, float_pair, float_reduce)
    got = np.transpose(arr, [ids.index(i) for i in out]) if ids != out else arr
    want = oe.contract(*[x for a, i in operands for x in (a, i)], out)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(networks())
def test_the_cost_of_an_order_is_opt_einsums_count_on_the_same_path(net) -> None:
    sizes, ops, out = net
    order = contraction_order(ops, out, sizes)
    cost = cost_of(order, ops, out, sizes)
    args = []
    for ids in ops:
        args += [np.broadcast_to(np.int8(0), tuple(sizes[i] for i in ids)), list(ids)]
    _, info = oe.contract_path(
        *args, out, optimize=[tuple(s) for s in oe.paths.ssa_to_linear(list(order))] if order else "auto"
    )
    assert cost.largest == max(int(info.largest_intermediate), 1)
    assert math.isclose(cost.flops, float(info.opt_cost), rel_tol=1e-9) or len(ops) == 1


def test_one_search_per_wiring_whatever_the_sizes() -> None:
    """A check draws several sizes for one network: the order is searched once and
    re-costed at each (the largest intermediate follows the sizes)."""
    wiring = ring(40)
    before = plan.search_count()
    costs = [
        cost_of(contraction_order(wiring, [], {k: n for k in range(40)}), wiring, [], {k: n for k in range(40)})
        for n in (3, 5, 8, 13)
    ]
    assert plan.search_count() - before == 1
    assert [c.largest for c in costs] == [9, 25, 64, 169]


def test_a_ring_of_twenty_thousand_is_contracted_in_as_many_steps() -> None:
    """Linear bookkeeping: one pairwise contraction per operand, each seeing only the
    two operands' own indices (opt_einsum's path info scans all remaining operands at
    every step)."""
    n = 20_000
    wiring = ring(n)
    order = contraction_order(wiring, [], {k: 2 for k in range(n)})
    assert len(order) == n - 1 and all(len(step) == 2 for step in order)
    seen = []

    def pair(a, b, keep):
        seen.append(len(a[1]) + len(b[1]))
        return float_pair(a, b, keep)

    mats = [(np.eye(2), [k, (k + 1) % n]) for k in range(n)]
    arr, _ = run_order(order, mats, [], pair, float_reduce)
    assert float(arr) == 2.0  # tr(I) at size 2
    assert len(seen) == n - 1 and max(seen) <= 4


def test_clearing_every_memo_makes_the_next_contraction_search_again() -> None:
    """The bench clears diagalg's memos before every repeat (diagalg.caches) so that no
    run reuses an order or a canonical key another run found: after clear_all the
    same wiring is searched afresh and the canonical-key memo is empty."""
    import diagalg
    from diagalg import caches
    from diagalg.canonical import _term_memo, canonical_key

    wiring = ring(12)
    size = {k: 3 for k in range(12)}
    contraction_order(wiring, [], size)
    before = plan.search_count()
    contraction_order(wiring, [], size)
    assert plan.search_count() == before  # reused
    prog = diagalg.parse("dim n\ntensor A[i: n, j: n]\n")
    d = prog.expr("A[i, j] A[j, k]").terms[0].diagram  # held: the memo is weak
    canonical_key(d)
    assert _term_memo._data
    caches.clear_all()
    assert not _term_memo._data
    contraction_order(wiring, [], size)
    assert plan.search_count() == before + 1
