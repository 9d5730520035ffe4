"""The outcome of a numeric comparison (:func:`diagalg.numeric.check.compare`), shared by
the floating-point and the exact path."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("equal", "different", "inconclusive")


@dataclass(frozen=True)
class NumericResult:
    """The outcome of :func:`compare`.

    ``status``: "equal", "different" or "inconclusive". ``max_error``: the largest
    ``max|L − R|`` over the conclusive draws; ``rel_error``: the largest
    ``max|L − R| / S`` over them. ``seed``: the seed used; ``draws``: instances
    evaluated; ``standins``: concrete dimensions checked at a smaller size, name
    -> (declared, then the stand-in of each draw); ``reason``: why the result is inconclusive (memory cap,
    NaN, sampling failure, a difference too small to refute ``!=``).
    ``approximate``: a derivative was taken by finite differences.
    ``sizes``: the dimension sizes of the draw with the largest relative error
    (the counterexample when different). ``path``: "exact" when the prime-field
    evaluation decided it (:mod:`.exact`; the error figures are then 0, or 1 for a
    difference), "float" otherwise.
    """

    status: str
    max_error: float
    rel_error: float
    seed: int
    draws: int
    standins: dict[str, tuple[int, ...]] = field(default_factory=dict)
    reason: str = ""
    approximate: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    path: str = "float"
