"""Contraction orders found once per network and carried out in linear time.

A check contracts the same network many times: at several size draws, for several
tensor draws, on the float path and modulo two primes on the exact one. The order of
the pairwise contractions depends on the network's wiring far more than on its
sizes, so :func:`contraction_order` searches it once per wiring (which operand has
which index ids, and which ids are the output) and every later draw reuses it.
What does depend on the sizes, the largest intermediate and the FLOPs that decide
whether the contraction fits the memory cap, is recomputed for every call by
:func:`cost_of` in one pass over the order.

Everything here is linear in the number of operands: the order is kept in static
single assignment form (each step's result gets a new id, nothing is renumbered),
and :func:`run_order` tracks, for every index id, how many live operands (and the
output) still carry it, so deciding which indices a pairwise contraction keeps costs
only the two operands' own indices. opt_einsum's ``contract_path`` re-derives that
at each step by scanning every remaining operand, and ``contract_expression`` calls
it again on a path it is given: quadratic in the network's size (profiled, the exact
check of a 2,000-matrix ring spent 20 of its 25 s in such scans).

The search itself is opt_einsum's: its ``auto`` choice (optimal, then branch and
bound, for up to 14 operands) and, beyond that, its greedy search in single
assignment form, which is near-linear on the sparse networks diagrams are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import opt_einsum as oe

from .. import caches

#: A network's wiring: the index ids of every operand, then the output's.
Wiring = tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]
#: Contraction steps in single-assignment form: operands are ``0 .. n-1`` and the
#: result of step ``k`` is operand ``n + k``.
Order = tuple[tuple[int, ...], ...]

#: Above this many operands opt_einsum's ``auto`` is its greedy search; below it,
#: the exhaustive and branch-and-bound searches (which are fast for so few).
_EXHAUSTIVE_UP_TO = 14

T = TypeVar("T")


@dataclass(frozen=True)
class Cost:
    """What an order costs at one assignment of sizes: the entries of its largest
    intermediate result and its floating-point operations (opt_einsum's count: the
    product of the sizes of every index a step touches, times two when it sums one)."""

    largest: int
    flops: float


def contraction_order(inputs: Sequence[Sequence[int]], output: Sequence[int], size: dict[int, int]) -> Order:
    """A contraction order for the wiring ``inputs -> output``, found at the sizes
    ``size`` the first time this wiring is seen and reused for every later call with
    the same wiring, whatever its sizes (see the module docstring for why)."""
    global _searches
    wiring: Wiring = (tuple(map(tuple, inputs)), tuple(output))
    order = _ORDERS.get(wiring)
    if order is None:
        if len(_ORDERS) >= _MAX_ORDERS:
            _ORDERS.clear()
        order = _ORDERS[wiring] = _search(wiring, size)
        _searches += 1
    return order


def search_count() -> int:
    """How many orders have been searched (not reused) so far: tests count work with it."""
    return _searches


def clear_orders() -> None:
    """Forget every order found so far (the bench clears it between repeats, so that
    each run pays for its own search as a peer's would)."""
    _ORDERS.clear()


_MAX_ORDERS = 4096
_ORDERS: dict[Wiring, Order] = {}
_searches = 0
caches.register(clear_orders)


def _search(wiring: Wiring, size: dict[int, int]) -> Order:
    inputs, output = wiring
    if len(inputs) <= 1:
        return ((0,),) if inputs else ()
    sets = [frozenset(ids) for ids in inputs]
    out = frozenset(output)
    if len(inputs) <= _EXHAUSTIVE_UP_TO:
        return tuple(tuple(step) for step in oe.paths.linear_to_ssa(oe.paths.auto(sets, out, size)))
    return tuple(tuple(step) for step in oe.paths.ssa_greedy_optimize(sets, out, size))


def ssa_of_linear(path: Sequence[Sequence[int]]) -> Order:
    """An opt_einsum path (positions in a shrinking list, results appended) as
    single-assignment steps (used for the few, small, paths of a sliced contraction)."""
    return tuple(tuple(step) for step in oe.paths.linear_to_ssa([tuple(s) for s in path]))


def cost_of(order: Order, inputs: Sequence[Sequence[int]], output: Sequence[int], size: dict[int, int]) -> Cost:
    """The :class:`Cost` of ``order`` at the sizes ``size``, in one pass."""
    largest, flops = 1, 0.0

    def step(ids: list[tuple[int, ...]], keep: tuple[int, ...]) -> None:
        nonlocal largest, flops
        touched = dict.fromkeys(i for part in ids for i in part)
        entries = math.prod(size[i] for i in keep)
        largest = max(largest, entries)
        summed = len(touched) > len(keep)
        flops += math.prod(size[i] for i in touched) * max(len(ids) - 1, 1) * (2 if summed else 1)

    _walk(order, [tuple(ids) for ids in inputs], output, step)
    return Cost(largest, flops)


def run_order(
    order: Order,
    operands: list[tuple[T, list[int]]],
    output: Sequence[int],
    pair: Callable[[tuple[T, list[int]], tuple[T, list[int]], set[int]], tuple[T, list[int]]],
    reduce_own: Callable[[tuple[T, list[int]], set[int]], tuple[T, list[int]]],
) -> tuple[T, list[int]]:
    """Carry out ``order`` on ``operands`` (arrays with index ids): ``pair(a, b, keep)``
    contracts two operands keeping the ids in ``keep`` (shared kept ids are batch
    axes), ``reduce_own(a, keep)`` sums one operand over its ids not in ``keep``.
    Returns the result with its ids (those of ``output``, in some order)."""
    live: dict[int, tuple[T, list[int]]] = dict(enumerate(operands))
    count = _holders([ids for _, ids in operands], output)
    next_id = len(operands)
    for step in order:
        picked = [live.pop(k) for k in step]
        for _, ids in picked:
            for i in ids:
                count[i] -= 1
        acc = picked[0]
        for k in range(1, len(picked)):
            later = {i for _, ids in picked[k + 1 :] for i in ids}
            keep = {i for i in set(acc[1]) | set(picked[k][1]) if count[i] > 0 or i in later}
            acc = pair(acc, picked[k], keep)
        acc = reduce_own(acc, {i for i in acc[1] if count[i] > 0})
        for i in acc[1]:
            count[i] += 1
        live[next_id] = acc
        next_id += 1
    rest = list(live.values())
    while len(rest) > 1:  # an order that leaves disconnected parts: outer products, left to right
        for _, ids in rest[:2]:
            for i in ids:
                count[i] -= 1
        keep = {i for i in set(rest[0][1]) | set(rest[1][1]) if count[i] > 0}
        merged = pair(rest[0], rest[1], keep)
        for i in merged[1]:
            count[i] += 1
        rest = [merged] + rest[2:]
    return reduce_own(rest[0], set(output))


def _walk(
    order: Order,
    inputs: list[tuple[int, ...]],
    output: Sequence[int],
    step: Callable[[list[tuple[int, ...]], tuple[int, ...]], None],
) -> None:
    """Follow ``order`` on index ids only, calling ``step(parts, kept)`` per step."""
    live: dict[int, tuple[int, ...]] = dict(enumerate(inputs))
    count = _holders(inputs, output)
    next_id = len(inputs)
    for s in order:
        parts = [live.pop(k) for k in s]
        for ids in parts:
            for i in ids:
                count[i] -= 1
        kept = tuple(i for i in dict.fromkeys(i for ids in parts for i in ids) if count[i] > 0)
        step(parts, kept)
        for i in kept:
            count[i] += 1
        live[next_id] = kept
        next_id += 1


def _holders(inputs: Sequence[Sequence[int]], output: Sequence[int]) -> dict[int, int]:
    """Index id -> how many operands carry it, plus one when the output does: an id
    whose count falls to zero is summed at the step that takes its last holders."""
    count: dict[int, int] = {}
    for ids in inputs:
        for i in ids:
            count[i] = count.get(i, 0) + 1
    for i in output:
        count[i] = count.get(i, 0) + 1
    return count
