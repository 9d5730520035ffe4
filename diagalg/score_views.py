"""Views of composition scores the way researchers read them: TransformerLens head
names, a ranked list with the pairs above the random baseline flagged, JSON, and
head detectors that run the model on an input.

Naming. TransformerLens numbers layers and heads from 0 (``L0H3``: head 3 of the
first layer). A weights file numbers its layers by the suffix of ``WQ1``, ``WQ2``
(from 1 in the examples); :func:`head_namer` maps the file's layers, in order, to
0, 1, ... so that names agree with TransformerLens whatever the suffixes, and
gives the file's own numbering (``L1.H0``, the form before 0.x) on request.

Above baseline. Random heads score about ``1/sqrt(d_model)``; a pair is flagged
when its score exceeds the Monte-Carlo mean of random heads of the same shapes by
more than two of their standard deviations (about 2% of random pairs would be).

Pure numpy plus :mod:`diagalg.scores`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np

from .scores import KINDS, Baseline, Kind, Layer, Score

__all__ = [
    "head_namer",
    "above_baseline",
    "format_ranked",
    "scores_json",
    "run_patterns",
    "head_detectors",
    "format_detectors",
]

Numbering = Literal["tl", "file"]


def head_namer(layers: Sequence[Layer], numbering: Numbering = "tl") -> Callable[[int, int], str]:
    """``name(layer_index, head)``: ``L0H3`` (TransformerLens: the file's layers in order,
    from 0) or, with ``numbering="file"``, ``L1.H3`` (the file's own layer number)."""
    position = {L.index: k for k, L in enumerate(sorted(layers, key=lambda L: L.index))}
    if numbering == "file":
        return lambda layer, head: f"L{layer}.H{head}"
    return lambda layer, head: f"L{position[layer]}H{head}"


def _threshold(baseline: Baseline, kind: Kind) -> float:
    return baseline.mean[kind] + 2.0 * baseline.std[kind]


def above_baseline(score: Score, baseline: Baseline) -> bool:
    """True when the score is above the random mean by more than two standard deviations."""
    return not math.isnan(score.value) and score.value > _threshold(baseline, score.kind)


def _num(v: float, digits: int | None) -> str:
    """``v`` with ``digits`` decimals, or in full (shortest round-trip repr) for None."""
    if math.isnan(v):
        return "nan"
    return repr(float(v)) if digits is None else f"{v:.{digits}f}"


def format_ranked(
    scores: Sequence[Score],
    baseline: Baseline,
    name: Callable[[int, int], str],
    digits: int | None = 4,
    only_above: bool = False,
    limit: int | None = None,
) -> str:
    """Every (pair, kind) score, largest first, one per line (``K  L0H0 -> L1H1  0.8123  *``);
    ``*`` marks a score above the baseline (:func:`above_baseline`). ``only_above`` keeps
    only those, ``limit`` the first ``limit`` lines. Ends with a newline."""
    ordered = sorted(
        scores,
        key=lambda s: (-(s.value if not math.isnan(s.value) else -1.0), s.layer1, s.head1, s.layer2, s.head2, s.kind),
    )
    rows = []
    for s in ordered:
        flag = above_baseline(s, baseline)
        if only_above and not flag:
            continue
        rows.append(
            (
                s.kind,
                f"{name(s.layer1, s.head1)} -> {name(s.layer2, s.head2)}",
                _num(s.value, digits),
                "*" if flag else "",
            )
        )
    if limit is not None:
        rows = rows[:limit]
    width = max([len(r[1]) for r in rows] + [8])
    out = [f"{k}  {pair.ljust(width)}  {v}  {f}".rstrip() for k, pair, v, f in rows]
    if not rows:
        out.append("(no pairs above the baseline)" if only_above else "(no head pairs)")
    above = sum(above_baseline(s, baseline) for s in scores)
    limits = "  ".join(f"{k} {_num(_threshold(baseline, k), digits)}" for k in KINDS)
    out.append(
        f"* above baseline: {above} of {len(scores)} scores exceed the random mean + 2 std ({limits}; "
        f"random heads, d_model={baseline.d_model}, {baseline.pairs} pairs, seed {baseline.seed})"
    )
    return "\n".join(out) + "\n"


def scores_json(scores: Sequence[Score], baseline: Baseline, name: Callable[[int, int], str]) -> str:
    """One JSON object per line and (pair, kind): ``kind`` (Q, K, V), ``from``, ``to`` (head
    names), ``score`` (full precision; null for nan), ``baseline`` (the random mean of
    that kind) and ``above`` (:func:`above_baseline`)."""
    lines = []
    for s in scores:
        lines.append(
            json.dumps(
                {
                    "kind": s.kind,
                    "from": name(s.layer1, s.head1),
                    "to": name(s.layer2, s.head2),
                    "score": None if math.isnan(s.value) else s.value,
                    "baseline": baseline.mean[s.kind],
                    "above": above_baseline(s, baseline),
                }
            )
        )
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------- head detectors


def run_patterns(
    layers: Sequence[Layer],
    WE: np.ndarray,
    WP: np.ndarray,
    tokens: np.ndarray,
    b_out: Mapping[int, np.ndarray] | None = None,
) -> list[np.ndarray]:
    """The attention patterns ``A[h, q, k]`` of every layer of an attention-only model on
    the token ids ``tokens`` (residual ``x = WE[tokens] + WP[:n]``, scores scaled by
    ``1/sqrt(d_head)``, causal mask, each layer adding its heads' outputs to the stream).
    The layers' biases ``bQ, bK, bV`` are used, and ``b_out[l]`` (a layer's ``b_O``) when given."""
    n = len(tokens)
    if n > WP.shape[0]:
        raise ValueError(f"{n} positions but WP has {WP.shape[0]}")
    x = WE[tokens] + WP[:n]
    mask = np.triu(np.ones((n, n), dtype=bool), 1)
    out = []
    for L in sorted(layers, key=lambda L: L.index):
        zero = np.zeros((L.n_heads, L.d_head))
        bq, bk, bv = (zero if b is None else b for b in (L.bQ, L.bK, L.bV))
        q = np.einsum("qa,haf->hqf", x, L.WQ) + bq[:, None]
        k = np.einsum("ka,haf->hkf", x, L.WK) + bk[:, None]
        s = np.einsum("hqf,hkf->hqk", q, k) / math.sqrt(L.d_head)
        s = np.where(mask, -np.inf, s)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        out.append(a)
        v = np.einsum("ka,haf->hkf", x, L.WV) + bv[:, None]
        x = x + np.einsum("hqk,hkf,hfe->qe", a, v, L.WO) + (b_out or {}).get(L.index, 0.0)
    return out


def head_detectors(
    layers: Sequence[Layer],
    WE: np.ndarray,
    WP: np.ndarray,
    period: int,
    seed: int = 0,
    b_out: Mapping[int, np.ndarray] | None = None,
) -> list[dict[str, float | int]]:
    """Per head, the three detector scores on a random sequence of ``period`` tokens
    repeated twice (``2 * period`` positions), each the mean attention weight, in [0, 1]:

    * ``previous``: attention from q to q - 1 (q >= 1);
    * ``induction``: attention from q to q - period + 1, the token after the earlier
      copy of q's token (second copy, q >= period);
    * ``duplicate``: attention from q to q - period, the earlier copy of q's own token.

    The tokens are drawn with ``numpy.random.default_rng(seed)`` (distinct when the
    vocabulary allows)."""
    vocab = WE.shape[0]
    rng = np.random.default_rng(seed)
    first = rng.permutation(vocab)[:period] if period <= vocab else rng.integers(0, vocab, period)
    tokens = np.tile(first, 2)
    patterns = run_patterns(layers, WE, WP, tokens, b_out)
    q1 = np.arange(1, 2 * period)
    q2 = np.arange(period, 2 * period)
    rows = []
    for layer, (L, a) in enumerate(zip(sorted(layers, key=lambda L: L.index), patterns)):
        for h in range(L.n_heads):
            rows.append(
                {
                    "layer": L.index,
                    "head": h,
                    "previous": float(a[h, q1, q1 - 1].mean()),
                    "induction": float(a[h, q2, q2 - period + 1].mean()),
                    "duplicate": float(a[h, q2, q2 - period].mean()),
                }
            )
    return rows


def format_detectors(rows: Sequence[dict], name: Callable[[int, int], str], digits: int | None = 4) -> str:
    """A table: one row per head, columns previous, induction, duplicate."""
    cols = ("previous", "induction", "duplicate")
    body = [[name(int(r["layer"]), int(r["head"])), *(_num(float(r[c]), digits) for c in cols)] for r in rows]
    table = [["head", *cols], *body]
    widths = [max(len(r[i]) for r in table) for i in range(len(cols) + 1)]
    lines = ["  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:]))]) for r in table]
    return "\n".join(lines) + "\n"


def score_matrices(
    scores: Sequence[Score], layer_names: Callable[[int], str]
) -> list[tuple[str, str, str, np.ndarray]]:
    """The composition scores as matrices, one per kind and pair of layers, in the order
    the kinds and layers first appear: (title, row axis, column axis, matrix), the rows the
    earlier layer's heads and the columns the later layer's (nan where a score is 0/0).
    What ``diagalg scores --values`` draws as heatmaps."""
    cells: dict[tuple[str, int, int], dict[tuple[int, int], float]] = {}
    for sc in scores:
        cells.setdefault((sc.kind, sc.layer1, sc.layer2), {})[sc.head1, sc.head2] = sc.value
    out: list[tuple[str, str, str, np.ndarray]] = []
    for (kind, l1, l2), got in cells.items():
        rows = 1 + max(h for h, _ in got)
        cols = 1 + max(h for _, h in got)
        m = np.full((rows, cols), np.nan)
        for (h1, h2), v in got.items():
            m[h1, h2] = v
        out.append(
            (
                f"{kind}-composition {layer_names(l1)} → {layer_names(l2)}",
                f"{layer_names(l1)} head",
                f"{layer_names(l2)} head",
                m,
            )
        )
    return out
