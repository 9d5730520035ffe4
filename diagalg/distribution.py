"""The ``distribution`` property: a tensor whose entries along some legs form a
probability distribution (every entry a real number >= 0, and the entries summed
over those legs are 1 for every value of the other legs).

``tensor t[i: n] distribution(i)`` is a target vector (one-hot or soft labels);
``tensor T[b: m, i: n] distribution(i)`` a batch of them, one per ``b``;
``distribution(i, j)`` normalises over both legs jointly; a bare ``distribution``
normalises over every leg (as a bare ``symmetric`` takes every leg).

What it promises the rules is only Σ t = 1 over those legs (rule
``distribution_sum``). It does *not* make t positive: a one-hot target has zero
entries, so ``log(t)`` and ``pow(t, -1)`` stay unsimplified (a tensor may be
declared ``positive, distribution(i)`` when its entries are known positive).

How the oracle samples it (the meaning, exactly):

* float path: the exponential of a standard Gaussian, divided by its sum over the
  distribution legs: a point in the interior of the simplex, in every batch
  slice. Every statement the language can make is continuous where it is
  defined, so holding on the interior is holding on the simplex where defined;
* exact path: uniform residues r over F_p, and the whole slice divided by Σ r
  over the distribution legs (drawn again when that sum is 0 mod p): a uniform
  point of the hyperplane Σ t = 1. The interior of the simplex is open in that
  hyperplane, so a rational identity holds on the simplex exactly when it holds
  on the hyperplane (a polynomial vanishing on an open set of an affine space
  vanishes on it), which is what Schwartz–Zippel on F_p points of the
  hyperplane decides. Positivity has no meaning mod p and is not needed.

Declared in its own module (the model keeps :class:`~diagalg.model.TensorDecl`
as it is): a tensor with the property is a :class:`DistributionDecl`, a
TensorDecl with one more field; :func:`distribution_legs` reads it off any
declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .model import TensorDecl

if TYPE_CHECKING:
    from .numeric.modp import Field

#: entries of a bound array may miss the simplex by this much (relative to 1)
DISTRIBUTION_TOL = 1e-8


@dataclass(frozen=True)
class DistributionDecl(TensorDecl):
    """A :class:`TensorDecl` declared ``distribution(legs)``: its entries are >= 0 and sum
    to 1 over ``distribution`` (legs in declared order) for every value of its other legs."""

    distribution: tuple[str, ...] = ()


def distribution_legs(decl: object) -> tuple[str, ...]:
    """The legs ``decl`` is normalised over (empty when it is not declared a distribution)."""
    return getattr(decl, "distribution", ())


def conflict(decl: TensorDecl) -> str | None:
    """Why ``distribution`` cannot be combined with ``decl``'s other properties, or None:
    complex entries, a map structure (samples with entries of both signs), and leg
    symmetries (a row-normalised symmetric matrix is doubly stochastic, which the
    samplers do not draw; no tensor is ever sampled without its declared meaning)."""
    if not distribution_legs(decl):
        return "'distribution' needs a leg to normalise over"
    if decl.is_complex:
        return "'distribution' entries are real: it cannot be combined with 'complex'"
    if decl.structure is not None:
        return f"'distribution' cannot be combined with '{decl.structure}'"
    if decl.symmetric or decl.antisymmetric:
        return "'distribution' combined with leg symmetries is not supported"
    return None


def _axes(decl: TensorDecl) -> tuple[int, ...]:
    return tuple(decl.legs.index(leg) for leg in distribution_legs(decl))


def normalise_float(decl: TensorDecl, gaussian: np.ndarray) -> np.ndarray:
    """The float sample of a distribution from a standard Gaussian array of its shape:
    ``exp(g) / Σ exp(g)`` over the distribution legs (positive entries summing to 1)."""
    axes = _axes(decl)
    e = np.exp(gaussian - gaussian.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


def normalise_field(
    decl: TensorDecl, field: Field, shape: Sequence[int], rng: np.random.Generator, retries: int = 20
) -> np.ndarray:
    """The exact sample of a distribution over F_p: uniform residues divided by their sum
    over the distribution legs, slice by slice (a slice whose sum is 0 mod p is drawn
    again). Entries canonical residues in [0, p)."""
    axes = _axes(decl)
    p = field.p
    arr = field.uniform(shape, rng)
    for _ in range(retries):
        sums = field.canonical(field.sum_axes(arr, axes))
        bad = sums == 0
        if not bad.any():
            break
        redraw = field.uniform(shape, rng)
        mask = np.expand_dims(bad, axes)
        arr = np.where(np.broadcast_to(mask, arr.shape), redraw, arr)
    else:
        from .numeric.errors import SamplingError

        raise SamplingError(f"{decl.name}: could not draw a distribution mod {p} (its sums kept vanishing)")
    inv = np.vectorize(lambda s: float(pow(int(s), p - 2, p)), otypes=[np.float64])(sums)
    return field.canonical(field.multiply(arr, np.expand_dims(inv, axes)))


def violation(decl: TensorDecl, arr: np.ndarray) -> str:
    """Why the bound array ``arr`` is not a distribution as ``decl`` declares ("" when it is):
    a complex or negative entry, or a sum over the distribution legs other than 1."""
    legs = distribution_legs(decl)
    if not legs:
        return ""
    if np.iscomplexobj(arr) or bool(np.any(arr < -DISTRIBUTION_TOL)):
        return "is not a distribution as declared (an entry is negative or complex)"
    sums = arr.sum(axis=_axes(decl))
    err = float(np.abs(sums - 1).max()) if np.size(sums) else 0.0
    if err > DISTRIBUTION_TOL * max(1, arr.size):
        return f"is not a distribution as declared: its sums over {', '.join(legs)} miss 1 by {err:.2g}"
    return ""


__all__ = [
    "DISTRIBUTION_TOL",
    "DistributionDecl",
    "conflict",
    "distribution_legs",
    "normalise_field",
    "normalise_float",
    "violation",
]
