"""The cyclic garbage collector in batches, while diagalg does bulk work.

Parsing, lowering and numeric checks allocate millions of small objects that are
never part of a reference cycle (frozen AST and model nodes, tuples, tokens, index
lists), and they stay alive until the work is done. CPython's default first
threshold (a collection every 700 net allocations) makes the collector rescan them
over and over, so its cost grows with the size of the input: on a 20,000-matrix ring
it was 40% of parsing and 20% of a whole ``diagalg check`` (13.8 s of CPU; 11.0 s with
batches; peak memory 235 MB both ways), and it bent the numeric check's growth in N
from 1.05 to 1.09. Garbage in cycles is still collected, in larger batches.

The thresholds are process-wide, so :func:`collected_in_batches` sets them for the
duration of a call only and puts back what it found (nesting is harmless). Measured
and rejected: ``gc.freeze()`` after the imports (no gain), disabling the collector
(unbounded memory if a cycle-heavy input appears).
"""

from __future__ import annotations

import functools
import gc
from contextlib import contextmanager
from typing import Callable, Iterator, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: (first, second, third) collector thresholds during bulk work; CPython's default is (700, 10, 10).
BATCH_THRESHOLDS = (100_000, 20, 10)


@contextmanager
def collected_in_batches() -> Iterator[None]:
    """Run the body with :data:`BATCH_THRESHOLDS`, then restore the previous thresholds."""
    before = gc.get_threshold()
    if before[0] >= BATCH_THRESHOLDS[0]:  # already batched (nested, or the caller's own choice)
        yield
        return
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def in_batches(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run inside :func:`collected_in_batches` (for the library's bulk entry points:
    parsing a program, a numeric comparison)."""

    @functools.wraps(fn)
    def batched(*args: P.args, **kwargs: P.kwargs) -> R:
        with collected_in_batches():
            return fn(*args, **kwargs)

    return batched
