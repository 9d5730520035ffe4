"""A small two-layer attention-only transformer with a planted induction circuit.

Used by the circuit tests (tests/test_circuits.py) as the stand-in for a trained
model until the repository ships one: layer 1 head 0 is a previous-token head
(its QK circuit matches position q with position q - 1, its OV circuit copies
the token into a "previous token" subspace) and layer 2 head 1 is an induction
head (its query reads the current token, its key reads the previous-token
subspace: K-composition with L1H0; its OV circuit copies the token to the
output). Every other head is random, and the induction head's QK circuit also
carries a large random position-position part, so that ranking terms by norm
puts a position term first while the induction probe finds the circuit.

The residual stream (d = 40) is four orthogonal blocks: token (8), position
(16), previous token (8), output (8). Weights follow the .diag conventions of
examples/transformers/toy_model.diag: ``WQ{l}[h, a, f]``, ``WO{l}[h, f, e]``.
The input is a random sequence of 8 tokens repeated twice (period 8, 16
positions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB, PERIOD, SEQ, HEADS, DH = 8, 8, 16, 4, 16
TOK, POS, PREV, OUT = 0, VOCAB, VOCAB + SEQ, 2 * VOCAB + SEQ
D = 3 * VOCAB + SEQ
PREV_HEAD, INDUCTION_HEAD = 0, 1


def planted_model(seed: int = 0) -> dict[str, np.ndarray]:
    """The weights and the input (``tok``, one-hot rows) of the planted model."""
    rng = np.random.default_rng(seed)
    noise = 0.02

    def w(*shape: int, scale: float = noise) -> np.ndarray:
        return scale * rng.standard_normal(shape)

    out: dict[str, np.ndarray] = {}
    out["WE"] = np.zeros((VOCAB, D))
    out["WE"][np.arange(VOCAB), TOK + np.arange(VOCAB)] = 1.0
    out["WP"] = np.zeros((SEQ, D))
    out["WP"][np.arange(SEQ), POS + np.arange(SEQ)] = 1.0
    for layer in (1, 2):
        out[f"WQ{layer}"] = w(HEADS, D, DH, scale=0.3)
        out[f"WK{layer}"] = w(HEADS, D, DH, scale=0.3)
        out[f"WV{layer}"] = w(HEADS, D, DH, scale=0.3)
        out[f"WO{layer}"] = w(HEADS, DH, D, scale=0.3)
    # large random OV circuits in layer 1 (distractors: big terms that are no circuit)
    out["WV1"][2:] *= 1.3
    out["WO1"][2:] *= 1.3
    # L1H0: previous-token head. Query at position s reads f = s, key at s' writes f = s' + 1.
    c1 = np.sqrt(10.0 * np.sqrt(DH))
    h = PREV_HEAD
    out["WQ1"][h] = w(D, DH)
    out["WK1"][h] = w(D, DH)
    for s in range(SEQ):
        out["WQ1"][h, POS + s, s % DH] += c1
        if s + 1 < SEQ:
            out["WK1"][h, POS + s, (s + 1) % DH] += c1
    out["WV1"][h] = w(D, DH)
    out["WO1"][h] = w(DH, D)
    for t in range(VOCAB):
        out["WV1"][h, TOK + t, t] += 1.0
        out["WO1"][h, t, PREV + t] += 1.0
    # L2H1: induction head: query reads the token, key reads the previous token.
    c2 = np.sqrt(8.0 * np.sqrt(DH))
    h = INDUCTION_HEAD
    out["WQ2"][h] = w(D, DH)
    out["WK2"][h] = w(D, DH)
    for t in range(VOCAB):
        out["WQ2"][h, TOK + t, t] += c2
        out["WK2"][h, PREV + t, t] += c2
    # a large random position-position part (a distractor for norm ranking)
    out["WQ2"][h, POS : POS + SEQ, VOCAB:] += 1.2 * rng.standard_normal((SEQ, DH - VOCAB))
    out["WK2"][h, POS : POS + SEQ, VOCAB:] += 1.2 * rng.standard_normal((SEQ, DH - VOCAB))
    out["WV2"][h] = w(D, DH)
    out["WO2"][h] = w(DH, D)
    for t in range(VOCAB):
        out["WV2"][h, TOK + t, t] += 1.0
        out["WO2"][h, t, OUT + t] += 1.0
    out["WU"] = w(D, VOCAB)
    out["WU"][OUT + np.arange(VOCAB), np.arange(VOCAB)] += 1.0
    first = rng.permutation(VOCAB)
    tokens = np.concatenate([first, first])
    out["tok"] = np.eye(VOCAB)[tokens]
    return out


DIAG = """\
dim heads = 4, d = 40, dh = 16, vocab = 8, seq = 16
tensor WE[t: vocab, e: d]
tensor WP[s: seq, e: d]
tensor WQ1[h: heads, a: d, f: dh]
tensor WK1[h: heads, a: d, f: dh]
tensor WV1[h: heads, a: d, f: dh]
tensor WO1[h: heads, f: dh, e: d]
tensor WQ2[h: heads, a: d, f: dh]
tensor WK2[h: heads, a: d, f: dh]
tensor WV2[h: heads, a: d, f: dh]
tensor WO2[h: heads, f: dh, e: d]
tensor WU[e: d, v: vocab]
tensor tok[s: seq, t: vocab]
weights "model.npz"

let x[s, e] = tok[s, t] WE[t, e] + WP[s, e]
let A1[h, q, k] = softmax[k](causal[q, k](keep[h, q, k](x[q, a] WQ1[h, a, f] WK1[h, b, f] x[k, b]) / sqrt(dh)))
let y1[q, e] = skip1: x[q, e] + attn1: A1[h, q, k] x[k, a] WV1[h, a, f] WO1[h, f, e]
"""


def write_model(directory: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write ``model.npz`` (weights and input) into ``directory``; return the arrays."""
    arrays = planted_model(seed)
    np.savez(directory / "model.npz", **arrays)
    return arrays


def numpy_layer1(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent numpy: the embedding x, layer 1's patterns A1[h, q, k] and y1."""
    x = arrays["tok"] @ arrays["WE"] + arrays["WP"]
    logits = np.einsum("qa,haf,hbf,kb->hqk", x, arrays["WQ1"], arrays["WK1"], x) / np.sqrt(DH)
    mask = np.triu(np.ones((SEQ, SEQ), dtype=bool), 1)
    logits = np.where(mask, -np.inf, logits)
    a1 = np.exp(logits - logits.max(-1, keepdims=True))
    a1 /= a1.sum(-1, keepdims=True)
    y1 = x + np.einsum("hqk,ka,haf,hfe->qe", a1, x, arrays["WV1"], arrays["WO1"])
    return x, a1, y1
