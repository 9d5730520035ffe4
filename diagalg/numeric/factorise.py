"""Computing stated decompositions on sampled tensors (numpy.linalg).

:func:`factorise` turns the target's array into the factors' arrays, each in its
declared leg order, and a :class:`FactorReport` with what the approximation
guarantees are checked against: the discarded squared singular values of a
truncated SVD (Eckart–Young), of every mode of a truncated HOSVD and every step of
a truncated TT-SVD (their error bounds), and the best rank-r error of every
unfolding for CP (a lower bound no rank-r CP can beat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import sympy

from ..decompose import Decomposition, FactorUse
from .decls import dim_value, int_subs

CP_SWEEPS = 200
CP_TOL = 1e-12


@dataclass
class FactorReport:
    """``discarded``: per step/mode, the sum of discarded squared singular values.
    ``lower_bound``: an error² no approximation of this shape can go below.
    ``sweeps``: ALS sweeps (CP)."""

    kind: str
    discarded: list[float] = field(default_factory=list)
    lower_bound: float = 0.0
    sweeps: int = 0


def _to(arr: np.ndarray, have: tuple[str, ...], want: list[str]) -> np.ndarray:
    return np.transpose(arr, [have.index(l) for l in want])


def _place(arr: np.ndarray, have: list[str], use: FactorUse) -> np.ndarray:
    """``arr`` with axes labelled ``have`` reordered to the factor's declared legs."""
    return np.ascontiguousarray(np.transpose(arr, [have.index(l) for l in use.labels]))


def _matrix(t: np.ndarray, labels: tuple[str, ...], rows: list[str], cols: list[str]) -> np.ndarray:
    m = _to(t, labels, rows + cols)
    nr = int(np.prod(m.shape[: len(rows)], dtype=np.int64))
    return m.reshape(nr, -1)


def _svd(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.linalg.svd(m, full_matrices=False)


def factorise(
    dec: Decomposition, target: np.ndarray, sizes: Mapping[sympy.Symbol, int]
) -> tuple[dict[str, np.ndarray], FactorReport]:
    """The factors of ``dec`` computed from ``target`` (in the target's declared leg
    order), each array in its factor's declared leg order."""
    subs = int_subs(sizes)
    bond = {l: dim_value(d, subs) for l, d in dec.bonds}
    tl = dec.target_labels
    shape = dict(zip(tl, target.shape))
    uses = dec.uses
    report = FactorReport(dec.kind)
    out: dict[str, np.ndarray] = {}

    def split(u: FactorUse) -> tuple[list[str], list[str]]:
        return [l for l in u.labels if l in tl], [l for l in u.labels if l not in tl]

    if dec.kind in ("svd", "qr", "polar"):
        if dec.kind == "svd":
            vec = next(u for u in uses if len(u.labels) == 1)
            left, right = [u for u in uses if u is not vec]
        else:
            left, right = uses
        rows, (r,) = split(left)
        cols = split(right)[0]
        m = _matrix(target, tl, rows, cols)
        k = bond[r]
        if dec.kind == "svd":
            u, s, vh = _svd(m)
            report.discarded = [float(np.sum(s[k:] ** 2))]
            out[left.name] = _place(u[:, :k].reshape([shape[l] for l in rows] + [k]), rows + [r], left)
            out[vec.name] = np.ascontiguousarray(s[:k].astype(np.float64))
            v = vh[:k].conj().T
            out[right.name] = _place(v.reshape([shape[l] for l in cols] + [k]), cols + [r], right)
        elif dec.kind == "qr":
            q, rr = np.linalg.qr(m, mode="reduced")
            out[left.name] = _place(q[:, :k].reshape([shape[l] for l in rows] + [k]), rows + [r], left)
            out[right.name] = _place(rr[:k].reshape([k] + [shape[l] for l in cols]), [r] + cols, right)
        else:
            w, s, vh = _svd(m)
            unit = w @ vh
            p = vh.conj().T @ np.diag(s) @ vh
            out[left.name] = _place(unit.reshape([shape[l] for l in rows] + [k]), rows + [r], left)
            out[right.name] = _place(p, [r] + cols, right)
        return out, report
    if dec.kind == "eigh":
        vec = next(u for u in uses if len(u.labels) == 1)
        q1, q2 = [u for u in uses if u is not vec]
        rows, (bond_label,) = split(q1)
        cols = split(q2)[0]
        m = _matrix(target, tl, rows, cols)
        w, q = np.linalg.eigh((m + m.conj().T) / 2)
        out[q1.name] = _place(q.reshape([shape[l] for l in rows] + [bond[bond_label]]), rows + [bond_label], q1)
        out[vec.name] = np.ascontiguousarray(w.astype(np.float64))
        return out, report
    if dec.kind == "tucker":
        return _tucker(dec, target, bond, shape)
    if dec.kind == "tt":
        return _tt(dec, target, bond, shape)
    if dec.kind == "cp":
        return _cp(dec, target, bond, shape)
    raise ValueError(f"unknown decomposition kind {dec.kind!r}")


def _tucker(
    dec: Decomposition, target: np.ndarray, bond: dict[str, int], shape: dict[str, int]
) -> tuple[dict[str, np.ndarray], FactorReport]:
    tl = dec.target_labels
    report = FactorReport("tucker")
    out: dict[str, np.ndarray] = {}
    core_use = next(u for u in dec.uses if not any(l in tl for l in u.labels))
    core = target
    core_labels = list(tl)
    for u in dec.uses:
        if u is core_use:
            continue
        (leg,) = [l for l in u.labels if l in tl]
        (b,) = [l for l in u.labels if l not in tl]
        m = _matrix(target, tl, [leg], [l for l in tl if l != leg])
        left, s, _ = _svd(m)
        k = bond[b]
        report.discarded.append(float(np.sum(s[k:] ** 2)))
        a = left[:, :k]
        out[u.name] = _place(a, [leg, b], u)
        # project the core's `leg` axis onto the factor: core[..., b, ...] = Σ conj(a)[leg, b] core[..., leg, ...]
        ax = core_labels.index(leg)
        core = np.moveaxis(np.tensordot(core, a.conj(), axes=([ax], [0])), -1, ax)
        core_labels[ax] = b
    out[core_use.name] = _place(core, core_labels, core_use)
    report.lower_bound = max(report.discarded, default=0.0)
    return out, report


def _tt(
    dec: Decomposition, target: np.ndarray, bond: dict[str, int], shape: dict[str, int]
) -> tuple[dict[str, np.ndarray], FactorReport]:
    tl = dec.target_labels
    report = FactorReport("tt")
    out: dict[str, np.ndarray] = {}
    uses = list(dec.uses)
    phys = [[l for l in u.labels if l in tl] for u in uses]
    order = [l for p in phys for l in p]
    rest = _to(target, tl, order)
    r_prev, left_label = 1, None
    for k, u in enumerate(uses):
        pdims = [shape[l] for l in phys[k]]
        if k == len(uses) - 1:
            core = rest.reshape([r_prev] + pdims)
            labels = ([left_label] if left_label else ["~"]) + phys[k]
            if left_label is None:
                core, labels = core[0], labels[1:]
            out[u.name] = _place(core, labels, u)
            break
        right_label = next(l for l in u.labels if l not in tl and l in uses[k + 1].labels)
        m = rest.reshape(r_prev * int(np.prod(pdims, dtype=np.int64)), -1)
        left, s, vh = _svd(m)
        rk = bond[right_label]
        report.discarded.append(float(np.sum(s[rk:] ** 2)))
        core = left[:, :rk].reshape([r_prev] + pdims + [rk])
        labels = ([left_label] if left_label else ["~"]) + phys[k] + [right_label]
        if left_label is None:
            core, labels = core[0], labels[1:]
        out[u.name] = _place(core, labels, u)
        rest = s[:rk, None] * vh[:rk]
        r_prev, left_label = rk, right_label
    return out, report


def _cp(
    dec: Decomposition, target: np.ndarray, bond: dict[str, int], shape: dict[str, int]
) -> tuple[dict[str, np.ndarray], FactorReport]:
    """Rank-r CP by alternating least squares from a fixed start (deterministic)."""
    tl = dec.target_labels
    report = FactorReport("cp")
    (r,) = {l for u in dec.uses for l in u.labels if l not in tl}
    rank = bond[r]
    mats = [u for u in dec.uses if any(l in tl for l in u.labels)]
    weights = [u for u in dec.uses if not any(l in tl for l in u.labels)]
    legs = [next(l for l in u.labels if l in tl) for u in mats]
    t = _to(target, tl, legs)
    rng = np.random.default_rng(12345)
    dtype = np.result_type(t.dtype, np.float64)
    fac = [rng.standard_normal((t.shape[i], rank)).astype(dtype) for i in range(t.ndim)]
    norm_t = float(np.linalg.norm(t))
    letters = "abcdefghijklmnopqrstuvwxyz"[: t.ndim]
    prev = np.inf
    for sweep in range(1, CP_SWEEPS + 1):
        for i in range(t.ndim):
            others = [j for j in range(t.ndim) if j != i]
            # the Khatri–Rao normal equations: (⊙ others)ᴴ (⊙ others) = Hadamard of Grams
            gram = np.ones((rank, rank), dtype=dtype)
            for j in others:
                gram = gram * (fac[j].conj().T @ fac[j])
            spec = letters + "," + ",".join(letters[j] + "z" for j in others) + "->" + letters[i] + "z"
            rhs = np.einsum(spec, t, *[fac[j].conj() for j in others])
            fac[i] = np.linalg.lstsq(gram, rhs.T, rcond=None)[0].T  # gram is Hermitian
        approx = np.einsum(",".join(l + "z" for l in letters) + "->" + letters, *fac)
        err = float(np.linalg.norm(t - approx))
        report.sweeps = sweep
        if abs(prev - err) <= CP_TOL * max(norm_t, 1e-300):
            break
        prev = err
    out: dict[str, np.ndarray] = {}
    if weights:
        norms = np.ones(rank)
        for i in range(t.ndim):
            n = np.linalg.norm(fac[i], axis=0)
            n[n == 0] = 1.0
            fac[i] = fac[i] / n
            norms = norms * n
        out[weights[0].name] = norms.astype(np.float64)
    for u, leg, f in zip(mats, legs, fac):
        out[u.name] = _place(f, [leg, r], u)
    # every unfolding of a rank-r CP has rank <= r: Eckart–Young bounds its error from below
    best = 0.0
    for i, leg in enumerate(legs):
        s = np.linalg.svd(_matrix(t, tuple(legs), [leg], [l for l in legs if l != leg]), compute_uv=False)
        best = max(best, float(np.sum(s[rank:] ** 2)))
    report.lower_bound = best
    return out, report
