"""Sliced contraction (diagalg.numeric.slicing): a numeric check whose largest
intermediate exceeds the memory cap is summed over slices that fit, and gives
the same value; one that cannot be sliced within the time bound, or whose output
alone exceeds the cap, is refused with the memory-cap message."""

from __future__ import annotations

import numpy as np
import opt_einsum as oe
import pytest

import diagalg
from diagalg.numeric import contract as contract_mod
from diagalg.numeric import slicing
from diagalg.numeric.check import compare
from diagalg.numeric.errors import MemoryCapError


def torus(k: int, prefix: str) -> str:
    """A k x k periodic lattice of the 4-leg tensor T (a PEPS norm-like network)."""
    factors = []
    for r in range(k):
        for c in range(k):
            factors.append(
                f"T[{prefix}h{r}_{(c - 1) % k}, {prefix}v{(r - 1) % k}_{c}, {prefix}h{r}_{c}, {prefix}v{r}_{c}]"
            )
    return " ".join(factors)


PROG = diagalg.parse("dim D = 6\ntensor T[a: D, b: D, c: D, d: D]\ntensor v[a: D]\n")


@pytest.fixture
def slice_calls(monkeypatch):
    calls = []
    real = contract_mod.contract_sliced

    def counting(operands, out_ids, plan):
        calls.append(plan)
        return real(operands, out_ids, plan)

    monkeypatch.setattr(contract_mod, "contract_sliced", counting)
    return calls


def test_a_torus_too_big_for_the_cap_is_sliced_not_refused(slice_calls) -> None:
    # each T is 6^4 entries (10 KiB) and fits under 64 KiB; the contraction's
    # intermediates (6^6 entries and more) do not
    lhs, rhs = PROG.expr(torus(3, "x")), PROG.expr(torus(3, "y"))
    res = compare(lhs, rhs, PROG.env, memory_cap=2**16, path="float")
    assert res.status == "equal", res.reason
    assert slice_calls and all(p.slices > 1 and p.largest * 8 <= 2**16 for p in slice_calls)
    # and a false claim is still refuted through sliced contractions
    wrong = PROG.expr(torus(3, "y") + " v[w] v[w]")
    assert compare(lhs, wrong, PROG.env, memory_cap=2**16, path="float").status == "different"
    # the exact path slices its own contractions the same way
    assert compare(lhs, rhs, PROG.env, memory_cap=2**16).status == "equal"
    assert compare(lhs, wrong, PROG.env, memory_cap=2**16).status == "different"


def test_sliced_value_is_the_whole_value() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(30):
        n_ops = rng.integers(3, 7)
        ids = list(range(8))
        operands = []
        for _ in range(n_ops):
            legs = list(rng.choice(ids, size=rng.integers(2, 5), replace=False))
            operands.append((rng.standard_normal([5] * len(legs)), [int(i) for i in legs]))
        used = sorted({i for _, legs in operands for i in legs})
        out = [used[0]]
        spec = tuple((a.shape, tuple(legs)) for a, legs in operands)
        args = [x for a, legs in operands for x in (a, legs)]
        whole = oe.contract(*args, out)
        _, largest, _ = slicing._path_info(spec, out, "auto")
        if largest <= 5:
            continue  # fits as it is: nothing to slice
        plan = slicing.plan_slices(spec, out, max(5, largest // 5))
        if plan is None:
            continue
        assert plan.slices > 1 and plan.largest <= max(5, largest // 5)
        np.testing.assert_allclose(slicing.contract_sliced(operands, out, plan), whole, rtol=1e-10, atol=1e-10)
        checked += 1
    assert checked >= 3


def test_slicing_beyond_the_time_bound_is_refused_without_searching_for_slices(monkeypatch) -> None:
    # the order's own FLOPs already exceed the bound, and slicing only adds work to an
    # order: refused at once, from the path's cost, before any slice is planned
    def no_planning(*args, **kwargs):
        raise AssertionError("slices were planned for a hopeless contraction")

    monkeypatch.setattr(slicing, "MAX_SLICED_FLOPS", 1.0)
    monkeypatch.setattr(slicing, "plan_slices", no_planning)
    lhs, rhs = PROG.expr(torus(3, "x")), PROG.expr(torus(3, "y"))
    res = compare(lhs, rhs, PROG.env, memory_cap=2**16)
    assert res.status == "inconclusive"
    assert (
        "slicing it would take too long" in res.reason and "exceeds the memory cap of 64 KiB (--memory)" in res.reason
    )


def test_an_output_bigger_than_the_cap_is_compared_through_random_vectors() -> None:
    # the output (6^4 entries) cannot be sliced away, and it need not be held: both sides are
    # contracted with the same random vector on each free leg first (Freivalds)
    e = PROG.expr("v[a] v[b] v[c] v[d]")
    for path in ("auto", "float"):
        res = compare(e, PROG.expr("v[d] v[c] v[b] v[a]"), PROG.env, memory_cap=2**12, path=path)
        assert res.status == "equal", res.reason
        wrong = compare(
            e, PROG.expr("v[d] v[c] v[b] v[a] + v[a] v[b] v[c] v[d]"), PROG.env, memory_cap=2**12, path=path
        )
        assert wrong.status == "different"
    # what cannot be held is still refused: an evaluation that must build the output itself
    from diagalg.numeric import evaluate_once

    with pytest.raises(MemoryCapError, match="exceeds the memory cap of 4 KiB"):
        evaluate_once(e, PROG.env, memory_cap=2**12)
