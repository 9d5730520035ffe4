"""The paper's toy induction head (examples/transformers/induction_head.diag),
checked numerically with diagalg's own evaluator: the paper's sanity check.

x is a three-times repeated sequence of random unit vectors. The attention
pattern ``attn[q, k] = softmax[k](causal[q, k](x_q . x_(k-1)))`` is built by
diagalg from the .diag file (the previous-token head is ``shift(1)[k, t]`` on the
key side: key k reads the token at k - 1). For every query q in the second and
third repeats, every key that takes the largest attention weight (up to 1e-9)
must directly follow an earlier occurrence of q's own vector. In the third
repeat there are two such keys and they tie, so the check is set membership,
not a single argmax.

The paper's code puts the shift on the query side (query q reads x_(q+1), a
future token); that variant, and the other near-misses, fail the check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import diagalg
from diagalg.numeric.check import collect, draw_instance
from diagalg.numeric.evaluate import evaluate
from diagalg.numeric.sizes import sample_sizes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "transformers" / "induction_head.diag"

REPEATS = 3
#: keys whose weight is within this of the row's largest weight count as argmax
TIE_TOL = 1e-9
SEEDS = [0, 1, 2, 3, 4]
#: (pattern length, vector dimension); (6, 768) is the paper's own setting
SHAPES = [(3, 16), (5, 32), (6, 768), (8, 64)]


@pytest.fixture(scope="module")
def program():
    return diagalg.load(EXAMPLE)


# --------------------------------------------------------------------------- helpers


def repeated_unit_vectors(rng: np.random.Generator, pattern_len: int, d: int) -> np.ndarray:
    """``pattern_len`` random unit vectors in R^d, the whole block repeated three times."""
    v = rng.standard_normal((pattern_len, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return np.tile(v, (REPEATS, 1))


def evaluate_qk(program, expr, x: np.ndarray, seed: int = 0, **arrays: np.ndarray) -> np.ndarray:
    """Evaluate a [q, k] expression of the program with diagalg, with ``x`` (and any
    other named tensors) bound; every other tensor it uses is drawn at random."""
    if isinstance(expr, str):
        expr = program[expr] if expr in program.lets else program.expr(expr)
    assert sorted(expr.labels) == ["k", "q"]
    decls, funcs, syms = collect([expr])
    env = program.env
    exact = {env.symbols["seq"]: x.shape[0], env.symbols["d"]: x.shape[1]}
    rng = np.random.default_rng(seed)
    draw = sample_sizes(syms, env, decls.values(), rng, exact=exact)
    inst = draw_instance(decls, funcs, draw, rng)
    for name, array in {"x": x, **arrays}.items():
        assert inst.arrays[name].shape == array.shape, name
        inst = inst.with_array(name, array)
    value = evaluate(expr, inst, ("q", "k")).array
    assert value.shape == (x.shape[0], x.shape[0])
    return value


def induction_targets(x: np.ndarray, q: int) -> set[int]:
    """Positions that directly follow an earlier occurrence of x_q: {p + 1 : p < q, x_p == x_q}."""
    return {p + 1 for p in range(q) if np.array_equal(x[p], x[q])}


def top_keys(row: np.ndarray, tol: float = TIE_TOL) -> set[int]:
    """Every key whose weight is within ``tol`` of the row's largest."""
    return set(np.flatnonzero(row >= row.max() - tol).tolist())


def induction_failures(attn: np.ndarray, x: np.ndarray, pattern_len: int) -> dict[int, tuple[set, set]]:
    """Queries of the second and third repeats whose largest weights are not all on
    induction targets: {q: (top keys, targets)}."""
    bad = {}
    for q in range(pattern_len, REPEATS * pattern_len):
        top, targets = top_keys(attn[q]), induction_targets(x, q)
        assert targets, q  # every such query has an earlier occurrence
        if not top <= targets:
            bad[q] = (top, targets)
    return bad


# --------------------------------------------------------------------------- the example file


def test_example_file_checks(cli):
    res = cli("check", EXAMPLE)
    assert res.returncode == 0, res.stdout + res.stderr
    last = res.stdout.splitlines()[-1]
    assert " 0 failed" in last and "inconclusive" not in last, res.stdout
    assert "FAIL" not in res.stdout and "ERROR" not in res.stdout


def test_lets_the_test_relies_on_exist(program):
    for name in ("logit", "attn", "logit_M", "attn_M", "logit_paper", "attn_paper"):
        assert name in program.lets, name
    assert {"x", "M"} <= set(program.tensors)


# --------------------------------------------------------------------------- conventions


def test_logit_is_query_dot_previous_key(program):
    """The sign of the shift: logit[q, k] = x_q . x_(k-1), and 0 at k = 0 (no previous token)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, 5))
    logit = evaluate_qk(program, "logit", x)
    expected = np.zeros((9, 9))
    expected[:, 1:] = x @ x[:-1].T
    np.testing.assert_allclose(logit, expected, rtol=0, atol=1e-12)


def test_paper_logit_matches_the_papers_code(program):
    """logit_paper is what the paper's einsum computes: query q reads x_(q+1)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 5))
    seq_len, hidden = x.shape
    prev_token_head = np.diag(np.ones(seq_len - 1), -1)  # t.diag(..., diagonal=-1)
    match = np.eye(hidden)
    # einsum(x, match, x, prev_token_head,
    #        'seq0 hidden0, hidden0 hidden1, seq1 hidden1, seq1 seq2 -> seq2 seq0')
    paper = np.einsum("ah,hg,cg,cd->da", x, match, x, prev_token_head)
    np.testing.assert_allclose(evaluate_qk(program, "logit_paper", x), paper, rtol=0, atol=1e-12)
    expected = np.zeros((9, 9))
    expected[:-1, :] = x[1:] @ x.T  # row q is x_(q+1) . x_k: a future token
    np.testing.assert_allclose(paper, expected, rtol=0, atol=1e-12)


def test_attention_is_a_causal_softmax(program):
    x = repeated_unit_vectors(np.random.default_rng(3), 4, 8)
    attn = evaluate_qk(program, "attn", x)
    np.testing.assert_allclose(attn.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.triu(attn, 1) == 0)  # no weight on a later key
    assert np.all(attn >= 0)


# --------------------------------------------------------------------------- the sanity check


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pattern_len, d", SHAPES)
def test_induction_head_attends_after_earlier_occurrences(program, seed, pattern_len, d):
    x = repeated_unit_vectors(np.random.default_rng(seed), pattern_len, d)
    attn = evaluate_qk(program, "attn", x, seed=seed)
    assert induction_failures(attn, x, pattern_len) == {}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pattern_len, d", SHAPES)
def test_third_repeat_ties_between_both_earlier_occurrences(program, seed, pattern_len, d):
    """With Match = identity the two induction targets of a third-repeat query have the
    same logit x_q . x_q = 1, so their weights tie: the top set is exactly the pair."""
    x = repeated_unit_vectors(np.random.default_rng(seed), pattern_len, d)
    attn = evaluate_qk(program, "attn", x, seed=seed)
    for q in range(2 * pattern_len, 3 * pattern_len):
        targets = induction_targets(x, q)
        j = q - 2 * pattern_len
        assert targets == {j + 1, pattern_len + j + 1}
        assert top_keys(attn[q]) == targets
        a, b = sorted(targets)
        assert abs(attn[q, a] - attn[q, b]) <= TIE_TOL
    for q in range(pattern_len, 2 * pattern_len):  # second repeat: one target
        assert top_keys(attn[q]) == induction_targets(x, q)


@pytest.mark.parametrize("eps", [0.05, 0.2])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pattern_len, d", [(5, 32), (6, 768), (8, 64)])
def test_match_close_to_identity_still_induces(program, seed, pattern_len, d, eps):
    """attn_M: the same head with a declared Match M = I + eps G / sqrt(d)."""
    rng = np.random.default_rng(1000 + seed)
    x = repeated_unit_vectors(rng, pattern_len, d)
    M = np.eye(d) + eps * rng.standard_normal((d, d)) / np.sqrt(d)
    attn = evaluate_qk(program, "attn_M", x, seed=seed, M=M)
    assert induction_failures(attn, x, pattern_len) == {}
    # with M = I exactly, attn_M is attn
    attn_id = evaluate_qk(program, "attn_M", x, seed=seed, M=np.eye(d))
    np.testing.assert_allclose(attn_id, evaluate_qk(program, "attn", x), rtol=0, atol=1e-12)


def test_a_match_far_from_identity_does_not_induce(program):
    """A random Match carries no matching: the check fails (so it is not vacuous)."""
    failed = 0
    for seed in SEEDS:
        rng = np.random.default_rng(2000 + seed)
        x = repeated_unit_vectors(rng, 6, 32)
        M = rng.standard_normal((32, 32))
        attn = evaluate_qk(program, "attn_M", x, seed=seed, M=M)
        failed += bool(induction_failures(attn, x, 6))
    assert failed == len(SEEDS)


# --------------------------------------------------------------------------- near-misses


def _row_weights_change_with_the_future(program, name, x, q, rng) -> bool:
    """Whether row q of the pattern changes when the tokens after q are redrawn."""
    y = x.copy()
    y[q + 1 :] = repeated_unit_vectors(rng, len(x), x.shape[1])[: len(x) - q - 1]
    a, b = evaluate_qk(program, name, x), evaluate_qk(program, name, y)
    return not np.allclose(a[q], b[q], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pattern_len, d", SHAPES)
def test_query_side_shift_fails_the_check(program, seed, pattern_len, d):
    """The paper's code (shift on the query side): query q scores x_(q+1) . x_k. Inside a
    repeat that lands on the right keys only because the sequence repeats; at the end of
    the second repeat x_(q+1) is x_0, which also matches key 0 (not after any
    occurrence), and the last query has no next token at all (a flat row)."""
    x = repeated_unit_vectors(np.random.default_rng(seed), pattern_len, d)
    attn = evaluate_qk(program, "attn_paper", x, seed=seed)
    bad = induction_failures(attn, x, pattern_len)
    assert 2 * pattern_len - 1 in bad and 0 in bad[2 * pattern_len - 1][0]
    last = REPEATS * pattern_len - 1
    assert last in bad and bad[last][0] == set(range(last + 1))  # uniform: every key ties


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_query_side_shift_reads_a_future_token(program, seed):
    """Row q of the paper's pattern depends on x_(q+1); the key-side head's does not."""
    rng = np.random.default_rng(seed)
    x = repeated_unit_vectors(rng, 5, 16)
    for q in range(1, len(x) - 1):  # row 0 has one key (weight 1) whatever is read
        assert not _row_weights_change_with_the_future(program, "attn", x, q, rng)
        assert _row_weights_change_with_the_future(program, "attn_paper", x, q, rng)


NEAR_MISSES = {
    # key k reads x_(k+1): attends to the position *before* an earlier occurrence
    "key shift the wrong way": "softmax[k](causal[q, k](x[q, a] shift(-1)[k, t] x[t, a]))",
    # no previous-token head (shift(0)): attends to the occurrences themselves
    "no previous-token head": "softmax[k](causal[q, k](x[q, a] shift(0)[k, t] x[t, a]))",
    # two previous-token heads in a row: two positions after an occurrence
    "previous-previous token": "softmax[k](causal[q, k](x[q, a] shift(2)[k, t] x[t, a]))",
}


@pytest.mark.parametrize("variant", sorted(NEAR_MISSES))
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pattern_len, d", [(5, 32), (6, 768)])
def test_near_miss_shifts_fail_the_check(program, variant, seed, pattern_len, d):
    x = repeated_unit_vectors(np.random.default_rng(seed), pattern_len, d)
    attn = evaluate_qk(program, program.expr(NEAR_MISSES[variant]), x, seed=seed)
    bad = induction_failures(attn, x, pattern_len)
    # every query of the second and third repeats misses
    assert set(bad) == set(range(pattern_len, REPEATS * pattern_len))
