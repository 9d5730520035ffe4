"""``f[i -> o](E)``: a user function declared by ``func`` (opaque: random smooth
parameters in the oracle, no closed form to export or differentiate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .spec import Bubble


def apply(x: np.ndarray, axes: tuple[int, ...], param: float | complex | None = None,
          func: Any = None, real_semantics: bool = False) -> np.ndarray:
    """The sampled function ``func`` (:class:`diagalg.numeric.sample.FuncParams`) on axis
    ``axes[0]`` of ``x``; the result has the output axis last instead."""
    if func is None:
        raise ValueError("a user function bubble has no sampled parameters")
    (axis,) = axes
    return func.apply(x, axis)


BUBBLE = Bubble(
    kind="func",
    description="a declared user function from one label to a new one",
    apply=apply,
    axes=1,
    drops_axes=True,
    why_not_exact="a user function is opaque",
    no_export="the user function {name} is opaque (declared by `func`, it has no definition)",
    keyword=False,
)
