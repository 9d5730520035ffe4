"""Steady pictures of a derivation: each step is laid out starting from where the
previous step put its shapes, and a network without free legs (a closed loop) is
always drawn the same way round.

A step's tensors are matched to the previous step's by a stable identity (what the
shape shows, its name with its ``*`` or ``⁻¹``, and the labels of its legs; then the
name alone, in order). The new layout keeps its own shape but is moved, and turned
by one of the eight symmetries of the square if that fits better, so that the
matched tensors sit where they sat (:func:`align`); the frame keeps its origin. A
tensor that survives a step then keeps its place, and what a rewrite adds appears
where the rewrite left room. The renderer never runs the engine: the steps come
from the report, the CLI or a notebook (:func:`diagalg.render.pictures`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..model import BoxOp, BubbleOp, CopyTensor, DerivOp, Diagram, TensorOp
from .shapes import base_name

Key = tuple[str, tuple[str, ...]]  # (what the shape shows, the labels of its legs)

#: the eight symmetries of the square as 2x2 matrices (acting on row vectors), the
#: identity first so that ties keep the layout as it came
SYMMETRIES = tuple(
    np.array(m, float)
    for m in (
        [[1, 0], [0, 1]],
        [[-1, 0], [0, 1]],
        [[1, 0], [0, -1]],
        [[-1, 0], [0, -1]],
        [[0, 1], [1, 0]],
        [[0, -1], [1, 0]],
        [[0, 1], [-1, 0]],
        [[0, -1], [-1, 0]],
    )
)


def node_name(op: object) -> str:
    """What a node's shape shows, as a reader would name it: ``A``, ``A*``, ``X⁻¹``, a
    let's name, ``softmax`` (a bubble), ``delta``."""
    if isinstance(op, TensorOp):
        return op.decl.name + ("*" if op.conj else "") + ("⁻¹" if op.inv % 2 else "")
    if isinstance(op, BoxOp):
        return op.name or "(sum)"
    if isinstance(op, BubbleOp):
        return op.func.name if op.kind == "func" and op.func else op.kind
    if isinstance(op, DerivOp):
        return "d/d" + op.wrt.text()
    if isinstance(op, CopyTensor):
        return "delta"
    return type(op).__name__


def node_keys(d: Diagram) -> list[Key]:
    """The identity of each node of ``d``: its name and the labels of its legs in port
    order (a free leg by its label, a contracted one by its base name)."""
    label_of = {e: label for label, e in d.free}
    return [(node_name(n.op), tuple(label_of.get(e, base_name(e)) for e in n.edges)) for n in d.nodes]


@dataclass(frozen=True)
class TermMemory:
    """Where one term's shapes were: each node's key and centre (in the term's layout
    coordinates), and the offset of those coordinates in the drawn term (its origin)."""

    places: tuple[tuple[Key, tuple[float, float]], ...]
    origin: tuple[float, float]


@dataclass(frozen=True)
class Memory:
    """Where a drawing's shapes were, term by term: what the next step starts from."""

    terms: tuple[TermMemory, ...]


def match(
    keys: Sequence[Key], memory: TermMemory, taken: set[int] | None = None
) -> dict[int, tuple[tuple[float, float], bool]]:
    """The remembered centre of every node (by index in ``keys``) that survives from
    ``memory``, and whether it matched exactly: first the nodes with the same name and leg
    labels, then those with the same name alone, each remembered place used once, in
    order. ``taken``: places already used (by another part of the same term); the places
    used here are added to it."""
    taken = set() if taken is None else taken
    free = [j for j in range(len(memory.places)) if j not in taken]
    out: dict[int, tuple[tuple[float, float], bool]] = {}
    for exact in (True, False):
        for i, key in enumerate(keys):
            if i in out:
                continue
            for j in free:
                k = memory.places[j][0]
                if k == key if exact else k[0] == key[0]:
                    out[i] = (memory.places[j][1], exact)
                    free.remove(j)
                    taken.add(j)
                    break
    return out


def align(x: np.ndarray, matched: dict[int, tuple[tuple[float, float], bool]], near: float = 1.0) -> np.ndarray:
    """``x`` moved (and turned by the symmetry of the square that fits best) so that as
    many of the points in ``matched`` as can be sit exactly at their remembered places
    (an exact match counting twice a match by name alone), the rest as near as they can
    come. Rigid: the layout keeps its shape, so what was readable stays readable, and
    when a rewrite shortens a chain the tensors on one side of it stay put instead of
    all of them moving a little."""
    if not matched:
        return x
    idx = sorted(matched)
    old = np.array([matched[i][0] for i in idx], float)
    weight = np.array([2.0 if matched[i][1] else 1.0 for i in idx])
    best, best_cost = x, (np.inf, np.inf, 0, 0)
    for rank, m in enumerate(SYMMETRIES):
        y = x @ m
        for anchor in range(len(idx)):  # one matched point exactly in place, in turn
            shift = old[anchor] - y[idx[anchor]]
            err = np.hypot(*(y[idx] + shift - old).T)
            # ties (to rounding) go to the symmetry listed first, then the first anchor
            cost = (-float(weight[err < near].sum()), round(float((err**2).sum()), 3), rank, anchor)
            if cost < best_cost:
                best, best_cost = y + shift, cost
    return best


def choose(keys: Sequence[Key], memory: Memory | None, index: int) -> TermMemory | None:
    """The remembered term a new term (number ``index``, with node ``keys``) continues:
    the one at the same index when the number of terms is unchanged, else the one with
    the most names in common (None when nothing is shared)."""
    if memory is None or not memory.terms:
        return None
    names = [k[0] for k in keys]

    def shared(t: TermMemory) -> int:
        pool = [k[0] for k, _ in t.places]
        n = 0
        for name in names:
            if name in pool:
                pool.remove(name)
                n += 1
        return n

    if index < len(memory.terms) and shared(memory.terms[index]) > 0:
        return memory.terms[index]
    best = max(memory.terms, key=shared)
    return best if shared(best) > 0 else None
