"""Deterministic graph layout: stress majorization from a classical-MDS start.

A diagram's vertices (tensors, copy dots, free-leg ends) get positions whose
distances follow graph distances, so chains come out straight, rings round and
ladders (matrix product states) as ladders. Everything is plain numpy linear
algebra with a fixed start: the same graph always gets the same picture.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def shortest_paths(n: int, edges: Sequence[tuple[int, int, float]]) -> np.ndarray:
    """All-pairs weighted shortest path lengths (Floyd–Warshall); ``inf`` between components."""
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0.0)
    for u, v, w in edges:
        if u != v:
            d[u, v] = d[v, u] = min(d[u, v], w)
    for k in range(n):
        d = np.minimum(d, d[:, k : k + 1] + d[k : k + 1, :])
    return d


def _classical_mds(d: np.ndarray) -> np.ndarray:
    n = len(d)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    vals, vecs = np.linalg.eigh(b)
    order = np.argsort(-vals, kind="stable")[:2]
    x = vecs[:, order] * np.sqrt(np.maximum(vals[order], 0.0))
    if x.shape[1] < 2:
        x = np.hstack([x, np.zeros((n, 2 - x.shape[1]))])
    # eigenvectors have an arbitrary sign: fix it (largest-magnitude entry positive)
    for c in range(2):
        k = int(np.argmax(np.abs(x[:, c]) - 1e-9 * np.arange(n)))
        if x[k, c] < 0:
            x[:, c] = -x[:, c]
    # a degenerate start (all points on a line, or one point) gets a small fixed spread
    if np.ptp(x[:, 1]) < 1e-6 * max(1.0, float(np.ptp(x[:, 0]))) and n > 2 and not _is_path_like(d):
        x[:, 1] += 0.05 * np.cos(np.arange(n) * 2.399) * max(1.0, float(d.max()))
    return x


def _is_path_like(d: np.ndarray) -> bool:
    """True when the distances are those of points on a line (d[0,k] differences add up)."""
    far = int(np.argmax(d[0]))
    a = d[far]
    return bool(np.all(np.abs(np.abs(a[:, None] - a[None, :]) - d) < 1e-6 * max(1.0, float(d.max()))))


def stress_layout(d: np.ndarray, iterations: int = 300) -> np.ndarray:
    """2-D positions whose pairwise distances approximate ``d`` (a connected distance matrix).

    SMACOF with weights ``d**-2`` from the classical-MDS solution; deterministic."""
    n = len(d)
    if n == 1:
        return np.zeros((1, 2))
    x = _classical_mds(d)
    w = np.zeros_like(d)
    off = ~np.eye(n, dtype=bool)
    w[off] = 1.0 / d[off] ** 2
    lw = -w.copy()
    np.fill_diagonal(lw, w.sum(axis=1))
    lw_pinv = np.linalg.pinv(lw)
    for _ in range(iterations):
        diff = x[:, None, :] - x[None, :, :]
        dist = np.sqrt((diff**2).sum(-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(dist > 1e-9, d / dist, 0.0)
        bz = -w * ratio
        np.fill_diagonal(bz, 0.0)
        np.fill_diagonal(bz, -bz.sum(axis=1))
        new = lw_pinv @ bz @ x
        if np.abs(new - x).max() < 1e-4:
            x = new
            break
        x = new
    return x - x.mean(axis=0)


def principal_axes(x: np.ndarray) -> np.ndarray:
    """``x`` rotated so that its longest spread is horizontal (a chain lies flat)."""
    if len(x) < 2:
        return x.copy()
    c = x - x.mean(axis=0)
    cov = c.T @ c
    vals, vecs = np.linalg.eigh(cov)
    if abs(vals[1] - vals[0]) < 1e-6 * max(1.0, vals[1]):
        return c  # round (a ring): no preferred axis, keep the MDS orientation
    main = vecs[:, 1]
    if main[0] < 0 or (abs(main[0]) < 1e-12 and main[1] < 0):
        main = -main
    rot = np.array([[main[0], main[1]], [-main[1], main[0]]])
    return c @ rot.T


def separate(
    centers: np.ndarray, sizes: np.ndarray, movable: np.ndarray, gap: float = 14.0, max_rounds: int = 400
) -> np.ndarray:
    """Push overlapping boxes apart (centres ``centers``, full sizes ``sizes``) until every
    pair of movable boxes is at least ``gap`` apart on some axis. Deterministic: pairs are
    visited in index order and pushed along the axis of least overlap."""
    x = centers.astype(float).copy()
    n = len(x)
    idx = [i for i in range(n) if movable[i]]
    for _ in range(max_rounds):
        moved = False
        for a_pos, i in enumerate(idx):
            for j in idx[a_pos + 1 :]:
                dx, dy = x[j, 0] - x[i, 0], x[j, 1] - x[i, 1]
                ox = (sizes[i, 0] + sizes[j, 0]) / 2 + gap - abs(dx)
                oy = (sizes[i, 1] + sizes[j, 1]) / 2 + gap - abs(dy)
                if ox <= 1e-9 or oy <= 1e-9:
                    continue
                moved = True
                if ox <= oy:
                    s = 1.0 if dx > 0 or (dx == 0 and j > i) else -1.0
                    x[i, 0] -= s * ox / 2 + s * 0.01
                    x[j, 0] += s * ox / 2 + s * 0.01
                else:
                    s = 1.0 if dy > 0 or (dy == 0 and j > i) else -1.0
                    x[i, 1] -= s * oy / 2 + s * 0.01
                    x[j, 1] += s * oy / 2 + s * 0.01
        if not moved:
            break
    return x
