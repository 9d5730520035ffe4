"""Sliced contraction: a contraction whose largest intermediate exceeds the memory
cap is done as a sum of smaller ones instead of being refused.

Fixing a summed index ``e`` to each of its values splits a contraction into
``size(e)`` contractions of the same network without ``e``; their sum is the
whole. :func:`plan_slices` picks such indices greedily (each round the one whose
removal costs the least total work among those that shrink the largest
intermediate)
until one slice fits under the cap, and gives up (returns None) when no summed
index is left, or when the total work of all slices would exceed
:data:`MAX_SLICED_FLOPS` (the time bound). Output indices are never sliced: an
output larger than the cap is refused as before. opt_einsum has no slicing of its
own; this is the classic scheme (as in cotengra's ``SliceFinder``) on top of
opt_einsum's path search, without a new dependency.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import opt_einsum as oe

#: Most floating-point operations a sliced contraction may take, over all its slices
#: (about a minute of numpy on one core); a larger one is refused.
MAX_SLICED_FLOPS = 5e10
#: At most this many summed indices are tried per round (the largest ones).
MAX_CANDIDATES = 48

Spec = tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]


@dataclass(frozen=True)
class SlicePlan:
    """Which summed indices to fix, and how to contract one slice."""

    sliced: tuple[int, ...]
    sizes: tuple[int, ...]
    path: list
    largest: int  # entries of the largest intermediate of one slice
    flops: float  # over all slices

    @property
    def slices(self) -> int:
        return math.prod(self.sizes)


def _without(spec: Spec, fixed: set[int]) -> Spec:
    return tuple(
        (tuple(s for s, i in zip(shape, ids) if i not in fixed), tuple(i for i in ids if i not in fixed))
        for shape, ids in spec
    )


def _path_info(spec: Spec, out: Sequence[int], strategy: str) -> tuple[list, int, float]:
    args: list = []
    for shape, ids in spec:
        args += [np.broadcast_to(np.int8(0), shape), list(ids)]  # shape-only stand-ins
    path, info = oe.contract_path(*args, list(out), optimize=strategy)
    return path, int(info.largest_intermediate), float(info.opt_cost)


def plan_slices(
    spec: Spec, out: Sequence[int], cap_entries: int, strategy: str = "auto", max_flops: float | None = None
) -> SlicePlan | None:
    """A slicing of the contraction ``spec`` (operand shapes and index ids) into ``out``
    whose slices each have a largest intermediate of at most ``cap_entries``, doing at
    most ``max_flops`` (default :data:`MAX_SLICED_FLOPS`) in all; None when there is
    none (see the module docstring)."""
    if max_flops is None:
        max_flops = MAX_SLICED_FLOPS
    size: dict[int, int] = {}
    for shape, ids in spec:
        size.update(zip(ids, shape))
    summed = [i for i in size if i not in set(out) and size[i] > 1]
    sliced: list[int] = []
    path, largest, cost = _path_info(spec, out, strategy)
    while largest > cap_entries:
        candidates = sorted((i for i in summed if i not in sliced), key=lambda i: -size[i])[:MAX_CANDIDATES]
        if not candidates:
            return None
        best = None
        for i in candidates:
            trial = sliced + [i]
            p, lg, c = _path_info(_without(spec, set(trial)), out, strategy)
            total = c * math.prod(size[j] for j in trial)
            # prefer the least total work among the choices that shrink the largest
            # intermediate; if none does, the one that grows it least
            score = (lg >= largest, total if lg < largest else lg, total)
            if best is None or score < best[4]:
                best = (i, p, lg, total, score)
        assert best is not None  # there was a candidate
        sliced.append(best[0])
        path, largest, cost = best[1], best[2], best[3] / math.prod(size[j] for j in sliced)
        if cost * math.prod(size[j] for j in sliced) > max_flops:
            return None
    sizes = tuple(size[i] for i in sliced)
    return SlicePlan(tuple(sliced), sizes, path, largest, cost * math.prod(sizes))


def contract_sliced(operands: list[tuple[np.ndarray, list[int]]], out_ids: list[int], plan: SlicePlan) -> np.ndarray:
    """The contraction of ``operands`` into ``out_ids``, summed over the slices of ``plan``
    (each operand is indexed, not copied, per slice)."""
    result = None
    for values in itertools.product(*(range(s) for s in plan.sizes)):
        fixed = dict(zip(plan.sliced, values))
        args: list = []
        for arr, ids in operands:
            index = tuple(fixed.get(i, slice(None)) for i in ids)
            args += [arr[index], [i for i in ids if i not in fixed]]
        part = np.asarray(oe.contract(*args, list(out_ids), optimize=plan.path))
        if result is None:
            result = part.copy()
        else:
            result += part
    assert result is not None
    return result
