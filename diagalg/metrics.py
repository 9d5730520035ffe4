"""Metrics for attribution (``expand E ... top K by M``) and inputs that reveal heads.

A metric is a linear functional on E: ``<M, term>`` contracts every free label of
a term with the array M. Some metrics are written in the language directly (the
logit of the correct next token is ``shift(1)[p, q] tok[p, v]`` contracted with
the logits ``L[q, v]``; a logit difference is a difference of two such tensors);
the ones here depend on the input only through its positions and are built as
arrays, to be bound with ``weights`` like any tensor (``diagalg probe`` writes
them to a file).

Pure numpy; nothing else from diagalg is imported.
"""

from __future__ import annotations

import numpy as np

__all__ = ["induction_probe", "previous_token_probe", "repeated_tokens", "next_token_direction", "token_period"]


def _causal_centred(target: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``target`` minus, on every row, its mean over the keys a causal query can see
    (k <= q); masked keys get 0. Rows where ``rows`` is False are 0. Centring makes
    the metric blind to a constant added to a row of attention scores, which the
    softmax ignores too."""
    seq = target.shape[0]
    visible = np.tril(np.ones((seq, seq)))
    mean = (target * visible).sum(1, keepdims=True) / visible.sum(1, keepdims=True)
    out = (target - mean) * visible
    out[~rows] = 0.0
    return out


def induction_probe(seq: int, period: int) -> np.ndarray:
    """``P[q, k]`` for a sequence that repeats with ``period`` (tokens ``t[i + period] ==
    t[i]``): on the repeated part (``q >= period``) 1 at the key an induction head
    attends to, ``k = q - period + 1`` (the token after the earlier copy of q's token),
    minus the row's mean over the visible keys; 0 on the first copy. Contracted with
    pre-softmax attention scores ``S[q, k]`` it measures how much more a head scores
    the induction key than the average key, summed over the repeated positions."""
    if not 1 <= period < seq:
        raise ValueError(f"the period must be between 1 and seq - 1 = {seq - 1}, got {period}")
    target = np.zeros((seq, seq))
    q = np.arange(period, seq)
    target[q, q - period + 1] = 1.0
    return _causal_centred(target, np.arange(seq) >= period)


def previous_token_probe(seq: int) -> np.ndarray:
    """``P[q, k]``: 1 at ``k = q - 1`` minus the row's mean over the visible keys (row 0,
    which has no previous token, is 0): the metric of a previous-token head."""
    if seq < 2:
        raise ValueError(f"a previous-token probe needs at least 2 positions, got {seq}")
    target = np.zeros((seq, seq))
    q = np.arange(1, seq)
    target[q, q - 1] = 1.0
    return _causal_centred(target, np.arange(seq) >= 1)


def repeated_tokens(vocab: int, period: int, repeats: int = 2, seed: int = 0) -> np.ndarray:
    """One-hot rows ``tok[s, t]`` of a random sequence of ``period`` tokens (distinct
    when the vocabulary allows), repeated ``repeats`` times: the input on which an
    induction head shows itself."""
    if vocab < 1 or period < 1 or repeats < 1:
        raise ValueError("vocab, period and repeats must be at least 1")
    rng = np.random.default_rng(seed)
    first = rng.permutation(vocab)[:period] if period <= vocab else rng.integers(0, vocab, period)
    return np.eye(vocab)[np.tile(first, repeats)]


def next_token_direction(tokens: np.ndarray, vocab: int) -> np.ndarray:
    """``N[q, v]``: 1 at ``v = tokens[q + 1]``, 0 elsewhere and on the last row (it has no
    next token). Contracted with logits ``L[q, v]`` it is the summed logit of the correct
    next token, the quantity a model trained on next-token prediction raises; it equals
    ``shift(1)[p, q] tok[p, v]`` written in the language."""
    tokens = np.asarray(tokens)
    out = np.zeros((len(tokens), vocab))
    out[np.arange(len(tokens) - 1), tokens[1:]] = 1.0
    return out


def token_period(tokens: np.ndarray) -> int | None:
    """The smallest period p with at least one whole repeat (``2 p <= len``) such that
    ``tokens[i + p] == tokens[i]`` everywhere, or None: the shift an induction head
    uses on this input (random tokens repeated have the length of the random part)."""
    tokens = np.asarray(tokens)
    for p in range(1, len(tokens) // 2 + 1):
        if np.array_equal(tokens[p:], tokens[:-p]):
            return p
    return None
