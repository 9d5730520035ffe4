"""Composition scores between attention heads (transformer-circuits framework).

Pure numpy; nothing else from diagalg is imported.

Array conventions (row vectors)
-------------------------------
The residual stream holds row vectors ``x`` of shape ``(d,)`` (``d`` =
d_model).  Layer ``l`` is given by four arrays, ``h`` heads of size ``dh``::

    WQ{l}[h, d, dh]   WK{l}[h, d, dh]   WV{l}[h, d, dh]   WO{l}[h, dh, d]

and for head ``h`` (dropping the head index)::

    query  q = x @ WQ            key  k = x @ WK
    logit  q . k = x_q @ WQ @ WK.T @ x_k.T
    output (A @ (X @ WV)) @ WO   (X: rows = positions, A: attention pattern)

so in row-vector form the head reads ``x @ WV @ WO``.

The framework paper uses column vectors.  Its virtual weights are, in these
arrays (both ``d x d``)::

    W_QK = WQ @ WK.T          logit = x_q^T W_QK x_k   (same bilinear form)
    W_OV = (WV @ WO).T        column form: out = W_OV x  (row form: x @ WV @ WO)

For a head ``h1`` in an earlier layer and ``h2`` in a later one the scores
are (``|.|`` the Frobenius norm)::

    Q:  |W_QK2.T @ W_OV1| / (|W_QK2| |W_OV1|)  = |WK2 WQ2.T WO1.T WV1.T| / ...
    K:  |W_QK2   @ W_OV1| / (|W_QK2| |W_OV1|)  = |WQ2 WK2.T WO1.T WV1.T| / ...
    V:  |W_OV2   @ W_OV1| / (|W_OV2| |W_OV1|)  = |WV1 WO1 WV2 WO2|       / ...

Sanity check of the K formula: if h1 writes ``y @ WV1 @ WO1`` into the key
position, h2's logit is ``x_q WQ2 WK2.T (y WV1 WO1).T``, whose matrix is the
one above; for Q the written vector enters on the query side, giving the
transpose (same norm) of ``WV1 WO1 WQ2 WK2.T``.  Each numerator contains the
``dh x dh`` "interface" ``WO1 @ WQ2`` / ``WO1 @ WK2`` / ``WO1 @ WV2``: what h1
writes, seen through what h2 reads.  By sub-multiplicativity of the
Frobenius norm every score lies in ``[0, 1]``.

How the scores are computed (no ``d x d`` matrices)
---------------------------------------------------
For ``A`` of shape ``(n, r)`` with thin QR ``A = Q R`` (``Q`` orthonormal
columns), ``|A X|_F = |R X|_F``; likewise ``|X B.T|_F = |X R_B.T|_F``.  With
per-head triangular factors ``R_Q, R_K, R_V`` (of ``WQ, WK, WV``) and ``R_O``
(of ``WO.T``), all at most ``dh x dh``::

    |W_QK|       = |R_Q R_K.T|        |W_OV| = |R_V R_O.T|
    Q numerator  = |R_V1 (WO1 @ WQ2) R_K2.T|
    K numerator  = |R_V1 (WO1 @ WK2) R_Q2.T|
    V numerator  = |R_V1 (WO1 @ WV2) R_O2.T|

(the same as ``|M|_F^2 = trace(M.T M)`` with cyclicity and Gram matrices,
but without squaring the condition number).  The factors cost
``O(d dh^2)`` per head, once; each head pair costs ``O(d dh^2)`` for the
interface product plus ``O(dh^3)``.

Random baseline
---------------
If h1's weights are drawn from any distribution invariant under rotations of
the residual stream (e.g. i.i.d. Gaussian entries) and independently of h2,
then for all three kinds ``E[score^2] = 1/d_model`` exactly, whatever
``dh``: ``E[(W_OV1 W_OV1^T)] / |W_OV1|^2 = I/d``.  So ``1/sqrt(d_model)``
is the exact root-mean-square score of random heads (:func:`analytic_baseline`);
the mean is slightly lower (Jensen).  :func:`random_baseline` estimates the
mean and RMS by Monte Carlo with the actual shapes and a seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "KINDS",
    "HeadWeights",
    "Layer",
    "Score",
    "Baseline",
    "layers_from_arrays",
    "composition_scores",
    "analytic_baseline",
    "random_baseline",
    "format_table",
]

Kind = Literal["Q", "K", "V"]
#: The three kinds of composition, in the order they are reported.
KINDS: tuple[Kind, ...] = ("Q", "K", "V")

_NAME = re.compile(r"^W([QKVO])(\d+)$")
_BIAS = re.compile(r"^b([QKV])(\d+)$")


def _as_weight(name: str, a: object) -> np.ndarray:
    """``a`` as a read-only float64 array; ValueError naming ``name`` if not real/finite."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)  # private copy
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains non-finite values (nan or inf)")
    arr.setflags(write=False)
    return arr


def _shape_error(name: str, expected: str, actual: tuple[int, ...], why: str = "") -> ValueError:
    msg = f"{name}: expected shape {expected}, got {actual}"
    return ValueError(msg + (f" ({why})" if why else ""))


@dataclass(frozen=True, eq=False)
class HeadWeights:
    """The weights of one head: ``WQ, WK, WV`` of shape ``(d, dh)``, ``WO`` of shape ``(dh, d)``.

    Views into the owning :class:`Layer`'s read-only arrays.
    """

    layer: int
    head: int
    WQ: np.ndarray
    WK: np.ndarray
    WV: np.ndarray
    WO: np.ndarray

    def w_qk(self) -> np.ndarray:
        """The paper's ``W_QK = WQ @ WK.T`` (``d x d``; logit = ``x_q W_QK x_k^T``).

        Forms the full matrix: for inspection and checks, not used by the scores.
        """
        return self.WQ @ self.WK.T

    def w_ov(self) -> np.ndarray:
        """The paper's column-vector ``W_OV = (WV @ WO).T`` (``d x d``).

        Forms the full matrix: for inspection and checks, not used by the scores.
        """
        return (self.WV @ self.WO).T


@dataclass(frozen=True, eq=False)
class Layer:
    """One attention layer: ``WQ, WK, WV`` of shape ``(h, d, dh)`` and ``WO`` of shape ``(h, dh, d)``.

    ``index`` is the layer's number (the suffix in ``WQ1``); earlier layers
    have smaller indices.  On construction the arrays are copied to
    read-only float64 and checked: ValueError naming the array (e.g.
    ``WK2``) with the expected and actual shape if they disagree, or if
    any of ``h, d, dh`` is zero, or if values are not finite.
    """

    index: int
    WQ: np.ndarray
    WK: np.ndarray
    WV: np.ndarray
    WO: np.ndarray
    #: optional biases ``bQ, bK, bV [h, dh]``: when given, the scores are those of the
    #: affine maps, in homogeneous coordinates (see :func:`composition_scores`)
    bQ: np.ndarray | None = None
    bK: np.ndarray | None = None
    bV: np.ndarray | None = None
    # per-head triangular factors (see module docstring); computed once
    _r: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        i = self.index
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"layer index must be a non-negative integer, got {i!r}")
        object.__setattr__(self, "index", int(i))
        arrays = {k: _as_weight(f"W{k[1]}{i}", getattr(self, k)) for k in ("WQ", "WK", "WV", "WO")}
        wq = arrays["WQ"]
        if wq.ndim != 3:
            raise _shape_error(f"WQ{i}", "(heads, d_model, d_head)", wq.shape, f"{wq.ndim}-D, need 3-D")
        h, d, dh = wq.shape
        if 0 in wq.shape:
            raise _shape_error(f"WQ{i}", "(heads, d_model, d_head) with all sizes >= 1", wq.shape)
        expected = {"WK": (h, d, dh), "WV": (h, d, dh), "WO": (h, dh, d)}
        for k, shape in expected.items():
            if arrays[k].shape != shape:
                raise _shape_error(
                    f"W{k[1]}{i}", str(shape), arrays[k].shape, f"heads={h}, d_model={d}, d_head={dh} from WQ{i}"
                )
        for k, a in arrays.items():
            object.__setattr__(self, k, a)
        reads = dict(arrays)
        for k in ("bQ", "bK", "bV"):
            b = getattr(self, k)
            if b is None:
                continue
            b = _as_weight(f"{k}{i}", b)
            if b.shape != (h, dh):
                raise _shape_error(f"{k}{i}", str((h, dh)), b.shape, f"heads={h}, d_head={dh} from WQ{i}")
            object.__setattr__(self, k, b)
            # the bias as one more input row: the affine map x -> x W + b is (x, 1) -> (x, 1) [W; b]
            reads["W" + k[1]] = np.concatenate([arrays["W" + k[1]], b[:, None, :]], axis=1)
        r = {
            "Q": np.linalg.qr(reads["WQ"], mode="r"),
            "K": np.linalg.qr(reads["WK"], mode="r"),
            "V": np.linalg.qr(reads["WV"], mode="r"),
            "O": np.linalg.qr(np.swapaxes(arrays["WO"], 1, 2), mode="r"),
        }
        object.__setattr__(self, "_r", r)

    @property
    def n_heads(self) -> int:
        """Number of heads ``h``."""
        return self.WQ.shape[0]

    @property
    def d_model(self) -> int:
        """Residual width ``d``."""
        return self.WQ.shape[1]

    @property
    def d_head(self) -> int:
        """Head size ``dh``."""
        return self.WQ.shape[2]

    def head(self, h: int) -> HeadWeights:
        """The weights of head ``h`` (IndexError if out of range)."""
        if not 0 <= h < self.n_heads:
            raise IndexError(f"layer {self.index} has {self.n_heads} heads, no head {h}")
        return HeadWeights(self.index, h, self.WQ[h], self.WK[h], self.WV[h], self.WO[h])

    def heads(self) -> list[HeadWeights]:
        """All heads, in order."""
        return [self.head(h) for h in range(self.n_heads)]

    def qk_norms(self) -> np.ndarray:
        """``|W_QK|_F`` per head, shape ``(h,)``, computed from the factors."""
        return _fro(self._r["Q"] @ np.swapaxes(self._r["K"], -1, -2))

    def ov_norms(self) -> np.ndarray:
        """``|W_OV|_F`` per head, shape ``(h,)``, computed from the factors."""
        return _fro(self._r["V"] @ np.swapaxes(self._r["O"], -1, -2))


@dataclass(frozen=True)
class Score:
    """One composition score: head ``head1`` of layer ``layer1`` into head ``head2`` of layer ``layer2``.

    ``value`` is in ``[0, 1]``, or nan when a head's virtual weight is zero
    (the score is then 0/0).
    """

    kind: Kind
    layer1: int
    head1: int
    layer2: int
    head2: int
    value: float


def _fro(m: np.ndarray) -> np.ndarray:
    """Frobenius norm over the last two axes."""
    return np.sqrt(np.einsum("...ij,...ij->...", m, m))


def layers_from_arrays(arrays: Mapping[str, np.ndarray]) -> list[Layer]:
    """Build the layers from arrays named ``WQ{l}, WK{l}, WV{l}, WO{l}`` (``l`` = layer number).

    Biases ``bQ{l}, bK{l}, bV{l}`` (``[heads, d_head]``), when present, are taken into
    the layer (see :func:`composition_scores`); ``bO{l}`` is a constant the layer
    writes, no head's, and is in no score.

    Returns the layers sorted by ``l``.  Names are matched exactly
    (``^W[QKVO][0-9]+$``); other entries (``WE``, ``WP``, ``WU``, ...) are
    ignored, except that ``WE[vocab, d]``, ``WP[seq, d]`` and ``WU[d, vocab]``,
    when present, are checked to be 2-D with the same ``d``.  Layer numbers
    need not be contiguous.

    Raises ValueError, naming the array and the expected vs actual shape,
    when: no layer arrays are present; a layer lacks one of its four arrays;
    shapes within a layer disagree (heads, d_model, d_head are set by
    ``WQ{l}``); a layer's d_model differs from the first layer's; or an
    array is not real and finite.
    """
    groups: dict[int, dict[str, np.ndarray]] = {}
    for name, a in arrays.items():
        m = _NAME.match(name)
        if not m:
            continue
        if len(m.group(2)) > 1 and m.group(2).startswith("0"):
            raise ValueError(
                f"{name}: layer numbers must not have leading zeros (write W{m.group(1)}{int(m.group(2))})"
            )
        groups.setdefault(int(m.group(2)), {})[m.group(1)] = a
    biases: dict[int, dict[str, np.ndarray]] = {}
    for name, a in arrays.items():
        mb = _BIAS.match(name)
        if mb and int(mb.group(2)) in groups:
            biases.setdefault(int(mb.group(2)), {})[mb.group(1)] = a
    if not groups:
        raise ValueError(f"no layer arrays found: expected names like WQ1, WK1, WV1, WO1 (got {sorted(arrays)!r})")
    layers: list[Layer] = []
    for idx in sorted(groups):
        g = groups[idx]
        missing = [f"W{k}{idx}" for k in "QKVO" if k not in g]
        if missing:
            raise ValueError(f"layer {idx}: missing {', '.join(missing)}")
        shape = np.shape(g["Q"])
        if layers and len(shape) == 3 and shape[1] != layers[0].d_model:
            # check d_model across layers first, so the layer's own WQ is blamed
            d0 = layers[0].d_model
            raise _shape_error(
                f"WQ{idx}",
                str((shape[0], d0, shape[2])),
                shape,
                f"all layers must share d_model={d0}, set by WQ{layers[0].index}",
            )
        b = biases.get(idx, {})
        layers.append(Layer(idx, g["Q"], g["K"], g["V"], g["O"], b.get("Q"), b.get("K"), b.get("V")))
    d = layers[0].d_model
    for name, exp, axis in (("WE", "(vocab, d_model)", 1), ("WP", "(seq, d_model)", 1), ("WU", "(d_model, vocab)", 0)):
        if name not in arrays:
            continue
        shape = np.shape(arrays[name])
        if len(shape) != 2 or shape[axis] != d:
            raise _shape_error(name, exp.replace("d_model", str(d)), tuple(shape), f"d_model={d} from the layers")
    return layers


def _check_layers(layers: Sequence[Layer]) -> list[Layer]:
    ordered = sorted(layers, key=lambda L: L.index)
    for a, b in zip(ordered, ordered[1:]):
        if a.index == b.index:
            raise ValueError(f"two layers have index {a.index}")
    if ordered:
        d = ordered[0].d_model
        for L in ordered:
            if L.d_model != d:
                raise ValueError(
                    f"WQ{L.index}: d_model {L.d_model} differs from d_model {d} of layer {ordered[0].index}"
                )
    return ordered


def _pair_scores(l1: Layer, l2: Layer) -> dict[Kind, np.ndarray]:
    """Scores ``[h1, h2]`` per kind for layer ``l1`` (earlier) into ``l2``."""
    r1, r2 = l1._r, l2._r
    rv1 = r1["V"][:, None]  # (h1, 1, k, dh1)
    wo1 = l1.WO[:, None]  # (h1, 1, dh1, d)
    ov1 = l1.ov_norms()[:, None]  # (h1, 1)
    qk2 = l2.qk_norms()[None, :]  # (1, h2)
    ov2 = l2.ov_norms()[None, :]
    reads = {"Q": (l2.WQ, r2["K"], qk2), "K": (l2.WK, r2["Q"], qk2), "V": (l2.WV, r2["O"], ov2)}
    out: dict[Kind, np.ndarray] = {}
    for kind in KINDS:
        w2, partner, norm2 = reads[kind]
        interface = wo1 @ w2[None]  # (h1, h2, dh1, dh2): O(d dh^2) per pair
        num = _fro(rv1 @ interface @ np.swapaxes(partner, -1, -2)[None])
        den = ov1 * norm2
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        out[kind] = np.minimum(s, 1.0)  # rounding only: mathematically <= 1
    return out


def composition_scores(layers: Sequence[Layer]) -> list[Score]:
    """Q-, K- and V-composition scores for every head pair across layers.

    For every pair of layers ``l1 < l2`` (by ``Layer.index``), every head
    ``h1`` of ``l1`` and ``h2`` of ``l2``, and each kind in ``Q, K, V``
    (definitions in the module docstring), one :class:`Score`, ordered by
    ``(layer1, layer2, head1, head2, kind)``.  Values are in ``[0, 1]``
    (nan if either head's virtual weight is exactly zero).  Computed from
    per-head QR factors; no ``d x d`` matrix is formed, cost ``O(d dh^2)``
    per head pair.  Raises ValueError if two layers share an index or
    d_model differs.  Fewer than two layers gives an empty list.

    Biases: a layer with ``bQ, bK, bV`` is scored as the affine maps it computes, in
    homogeneous coordinates (the residual stream with a constant 1 appended): ``W_Q``
    becomes ``[W_Q; b_Q]`` and so on, a head writes nothing to the constant
    coordinate, so ``W_OV' = [W_V; b_V] W_O`` and ``W_QK' = [W_Q; b_Q] [W_K; b_K]^T``.
    Only the factors and norms change (the interface ``WO1 @ W2`` does not see the
    constant), and zero biases give exactly the bias-free scores.
    """
    ordered = _check_layers(layers)
    scores: list[Score] = []
    for i, l1 in enumerate(ordered):
        for l2 in ordered[i + 1 :]:
            block = _pair_scores(l1, l2)
            for h1 in range(l1.n_heads):
                for h2 in range(l2.n_heads):
                    for kind in KINDS:
                        scores.append(Score(kind, l1.index, h1, l2.index, h2, float(block[kind][h1, h2])))
    return scores


def analytic_baseline(d_model: int) -> float:
    """``1/sqrt(d_model)``: the exact RMS score of rotation-invariant random heads.

    For all three kinds, when h1's weights are isotropic (e.g. i.i.d.
    Gaussian) and independent of h2, ``E[score^2] = 1/d_model`` for any head
    size; the mean score is a little lower (see :func:`random_baseline`).
    """
    if d_model < 1:
        raise ValueError(f"d_model must be >= 1, got {d_model}")
    return 1.0 / math.sqrt(d_model)


@dataclass(frozen=True)
class Baseline:
    """Scores of random heads with given shapes.

    ``analytic`` is ``1/sqrt(d_model)`` (exact RMS).  ``mean``, ``rms`` and
    ``std`` map each kind to a Monte-Carlo estimate over ``pairs`` head
    pairs (``samples`` two-layer models of ``heads`` heads each, i.i.d.
    standard normal entries, ``numpy.random.default_rng(seed)``).
    """

    d_model: int
    d_head: int
    heads: int
    seed: int
    samples: int
    analytic: float
    mean: Mapping[Kind, float]
    rms: Mapping[Kind, float]
    std: Mapping[Kind, float]

    @property
    def pairs(self) -> int:
        """Number of head pairs each kind's estimate averages over."""
        return self.samples * self.heads * self.heads


def random_baseline(d_model: int, dh: int, heads: int, seed: int = 0, samples: int = 64) -> Baseline:
    """Monte-Carlo composition scores of random heads with these shapes.

    Draws ``samples`` independent pairs of layers with ``heads`` heads,
    every entry of ``WQ, WK, WV [heads, d_model, dh]`` and
    ``WO [heads, dh, d_model]`` i.i.d. standard normal (the scale does not
    matter: scores are scale-invariant per head), from
    ``numpy.random.default_rng(seed)``, and returns mean, RMS and standard
    deviation per kind over all ``samples * heads**2`` head pairs, with
    ``analytic = 1/sqrt(d_model)``.  Deterministic for a given seed.
    """
    for name, v in (("d_model", d_model), ("dh", dh), ("heads", heads), ("samples", samples)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    rng = np.random.default_rng(seed)
    vals: dict[Kind, list[np.ndarray]] = {k: [] for k in KINDS}
    for _ in range(samples):
        pair = []
        for idx in (1, 2):
            w = rng.standard_normal((4, heads, d_model, dh))
            wo = rng.standard_normal((heads, dh, d_model))
            pair.append(Layer(idx, w[0], w[1], w[2], wo))
        block = _pair_scores(*pair)
        for k in KINDS:
            vals[k].append(block[k].ravel())
    flat = {k: np.concatenate(v) for k, v in vals.items()}
    return Baseline(
        d_model=d_model,
        d_head=dh,
        heads=heads,
        seed=seed,
        samples=samples,
        analytic=analytic_baseline(d_model),
        mean={k: float(np.mean(v)) for k, v in flat.items()},
        rms={k: float(np.sqrt(np.mean(v * v))) for k, v in flat.items()},
        std={k: float(np.std(v)) for k, v in flat.items()},
    )


def format_table(
    scores: Iterable[Score],
    baseline: Baseline | float | None = None,
    name: Callable[[int, int], str] | None = None,
    digits: int | None = 4,
) -> str:
    """A plain-text table: one row per head pair (``L0H0 -> L1H3``), columns Q, K, V.

    Heads are named by ``name(layer_index, head)``; by default TransformerLens's way,
    layers counted from 0 in the order of their indices (``L0H3``; see
    :func:`diagalg.score_views.head_namer` for the file's own numbering). Scores have
    ``digits`` decimals (None: full precision). Rows appear in the order of
    ``scores``; a missing kind shows ``-``, a nan score ``nan``.  With a :class:`Baseline`, a ``random (mean)`` row
    under the header gives its Monte-Carlo means in the same columns and a
    note states ``1/sqrt(d_model)`` and how the baseline was drawn; with a
    float, a ``baseline`` row repeats it in every column.  Ends with a
    newline.
    """
    rows: dict[tuple[int, int, int, int], dict[str, float]] = {}
    for s in scores:
        rows.setdefault((s.layer1, s.head1, s.layer2, s.head2), {})[s.kind] = s.value
    if name is None:
        position = {i: k for k, i in enumerate(sorted({x for key in rows for x in (key[0], key[2])}))}

        def name(layer: int, head: int) -> str:
            return f"L{position[layer]}H{head}"

    def cell(v: float | None) -> str:
        if v is None:
            return "-"
        if math.isnan(v):
            return "nan"
        return repr(float(v)) if digits is None else f"{v:.{digits}f}"

    labels = [f"{name(a, b)} -> {name(c, d)}" for a, b, c, d in rows]
    body = [[lab, *(cell(r.get(k)) for k in KINDS)] for lab, r in zip(labels, rows.values())]
    header = ["h1 -> h2", *KINDS]
    extra: list[list[str]] = []
    notes: list[str] = []
    if isinstance(baseline, Baseline):
        extra.append(["random (mean)", *(cell(baseline.mean[k]) for k in KINDS)])
        rms = "  ".join(f"{k} {baseline.rms[k]:.4f}" for k in KINDS)
        notes.append(
            f"baseline (random heads, d_model={baseline.d_model}): "
            f"1/sqrt(d_model) = {baseline.analytic:.4f}, the exact RMS score"
        )
        notes.append(
            f"random (mean): Monte-Carlo mean over {baseline.pairs} head pairs "
            f"(d_head={baseline.d_head}, {baseline.heads} heads per layer, seed {baseline.seed}); RMS {rms}"
        )
    elif baseline is not None:
        b = float(baseline)
        extra.append(["baseline", *(cell(b) for _ in KINDS)])
        notes.append(f"baseline: {b:.4f} (random heads score about 1/sqrt(d_model))")
    table = [header, *extra, *body]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:]))]).rstrip()

    out = [line(header)]
    out += [line(r) for r in extra]
    out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in body]
    if not body:
        out.append("(no head pairs: composition needs at least two layers)")
    out += notes
    return "\n".join(out) + "\n"
