"""Composition scores (diagalg.scores) and the toy-model script.

Every score is checked against a direct computation that forms the paper's
full d x d virtual weights from the row-vector arrays:
W_QK = WQ @ WK.T and W_OV = (WV @ WO).T.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_script
from diagalg.scores import (
    KINDS,
    Baseline,
    Layer,
    Score,
    analytic_baseline,
    composition_scores,
    format_table,
    layers_from_arrays,
    random_baseline,
)

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- helpers


def random_arrays(rng, d, shapes, scale=1.0):
    """Arrays WQ{l}.. for layers 1..len(shapes); shapes = [(heads, dh), ...]."""
    arrays = {}
    for l, (h, dh) in enumerate(shapes, start=1):
        arrays[f"WQ{l}"] = scale * rng.standard_normal((h, d, dh))
        arrays[f"WK{l}"] = scale * rng.standard_normal((h, d, dh))
        arrays[f"WV{l}"] = scale * rng.standard_normal((h, d, dh))
        arrays[f"WO{l}"] = scale * rng.standard_normal((h, dh, d))
    return arrays


def direct_scores(arrays, n_layers):
    """{(kind, l1, h1, l2, h2): score} from full d x d matrices (paper formulas)."""
    fro = np.linalg.norm
    qk = {}
    ov = {}
    for l in range(1, n_layers + 1):
        for h in range(arrays[f"WQ{l}"].shape[0]):
            qk[l, h] = arrays[f"WQ{l}"][h] @ arrays[f"WK{l}"][h].T
            ov[l, h] = (arrays[f"WV{l}"][h] @ arrays[f"WO{l}"][h]).T
    out = {}
    for (l1, h1), ov1 in ov.items():
        for (l2, h2), qk2 in qk.items():
            if l1 >= l2:
                continue
            ov2 = ov[l2, h2]
            out["Q", l1, h1, l2, h2] = fro(qk2.T @ ov1) / (fro(qk2) * fro(ov1))
            out["K", l1, h1, l2, h2] = fro(qk2 @ ov1) / (fro(qk2) * fro(ov1))
            out["V", l1, h1, l2, h2] = fro(ov2 @ ov1) / (fro(ov2) * fro(ov1))
    return out


def as_dict(scores):
    return {(s.kind, s.layer1, s.head1, s.layer2, s.head2): s.value for s in scores}


def one_head_layer(index, WQ, WK, WV, WO):
    """A one-head layer from 2-D WQ, WK, WV (d, dh) and WO (dh, d)."""
    return Layer(index, WQ[None], WK[None], WV[None], WO[None])


def basis(d, i):
    e = np.zeros((d, 1))
    e[i, 0] = 1.0
    return e


# ---------------------------------------------------------------- conventions


def test_virtual_weights_express_the_row_vector_forward_pass():
    rng = np.random.default_rng(1)
    d, dh = 7, 3
    layers = layers_from_arrays(random_arrays(rng, d, [(2, dh), (2, dh)]))
    h1, h2 = layers[0].head(1), layers[1].head(0)
    xq, xk, y = rng.standard_normal((3, d))
    # logit: (x_q WQ) . (x_k WK) = x_q^T W_QK x_k
    assert np.isclose((xq @ h2.WQ) @ (xk @ h2.WK), xq @ h2.w_qk() @ xk)
    # head output: y WV WO (row) = W_OV y (column)
    assert np.allclose(y @ h1.WV @ h1.WO, h1.w_ov() @ y)
    # K-composition: h1's output at the key position enters h2's logit through W_QK W_OV1
    assert np.isclose(xq @ h2.WQ @ h2.WK.T @ (y @ h1.WV @ h1.WO), xq @ h2.w_qk() @ h1.w_ov() @ y)
    # Q-composition: h1's output at the query position, through W_QK^T W_OV1
    assert np.isclose((y @ h1.WV @ h1.WO) @ h2.WQ @ h2.WK.T @ xk, xk @ h2.w_qk().T @ h1.w_ov() @ y)


# ---------------------------------------------------------------- against the direct computation


@pytest.mark.parametrize(
    "seed, d, shapes",
    [
        (0, 16, [(4, 4), (4, 4)]),  # d == heads * dh
        (1, 10, [(3, 4), (2, 4)]),  # d != heads * dh, different head counts
        (2, 12, [(2, 3), (3, 5), (1, 2)]),  # three layers, dh varies by layer
        (3, 5, [(2, 8), (2, 6)]),  # dh > d: QR factors are wide
        (4, 1, [(1, 1), (2, 3)]),  # d = 1
        (5, 33, [(5, 2), (3, 7), (2, 1), (1, 4)]),
    ],
)
def test_scores_match_full_matrices(seed, d, shapes):
    rng = np.random.default_rng(seed)
    arrays = random_arrays(rng, d, shapes)
    got = as_dict(composition_scores(layers_from_arrays(arrays)))
    want = direct_scores(arrays, len(shapes))
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 24),
    shapes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), min_size=2, max_size=3),
    log_scale=st.floats(-6, 6),
    rank_cut=st.integers(0, 3),
)
def test_scores_match_and_lie_in_unit_interval(seed, d, shapes, log_scale, rank_cut):
    rng = np.random.default_rng(seed)
    arrays = random_arrays(rng, d, shapes, scale=10.0**log_scale)
    if rank_cut:  # low-rank heads: zero some columns of WV/WQ (scores stay defined)
        for l, (_, dh) in enumerate(shapes, start=1):
            keep = max(1, dh - rank_cut)
            arrays[f"WV{l}"][:, :, keep:] = 0
            arrays[f"WQ{l}"][:, :, keep:] = 0
    scores = composition_scores(layers_from_arrays(arrays))
    want = direct_scores(arrays, len(shapes))
    assert len(scores) == len(want)
    for s in scores:
        assert 0.0 <= s.value <= 1.0
        assert s.value == pytest.approx(want[s.kind, s.layer1, s.head1, s.layer2, s.head2], rel=1e-8, abs=1e-10)


def test_order_and_count():
    rng = np.random.default_rng(7)
    shapes = [(2, 3), (3, 3), (1, 3)]
    scores = composition_scores(layers_from_arrays(random_arrays(rng, 6, shapes)))
    assert len(scores) == 3 * (2 * 3 + 2 * 1 + 3 * 1)
    keys = [(s.layer1, s.layer2, s.head1, s.head2, KINDS.index(s.kind)) for s in scores]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(s.layer1 < s.layer2 for s in scores)


def test_fewer_than_two_layers_gives_no_scores():
    rng = np.random.default_rng(0)
    assert composition_scores(layers_from_arrays(random_arrays(rng, 4, [(2, 2)]))) == []
    assert composition_scores([]) == []


def test_layers_out_of_order_are_sorted_by_index():
    rng = np.random.default_rng(3)
    arrays = random_arrays(rng, 6, [(2, 2), (2, 2)])
    layers = layers_from_arrays(arrays)
    assert as_dict(composition_scores(layers[::-1])) == as_dict(composition_scores(layers))


def test_large_d_never_forms_d_by_d():
    # d = 200000: one d x d float64 matrix would take 320 GB
    rng = np.random.default_rng(0)
    d, dh = 200_000, 3
    arrays = random_arrays(rng, d, [(2, dh), (2, dh)])
    scores = composition_scores(layers_from_arrays(arrays))
    # independent route: |A S B|_F^2 = trace(S^T (A^T A) S (B B^T)) with dh x dh Gram matrices
    for s in scores:
        WQ2, WK2, WV2, WO2 = (arrays[f"W{k}2"][s.head2] for k in "QKVO")
        WV1, WO1 = arrays["WV1"][s.head1], arrays["WO1"][s.head1]
        left = WV1.T @ WV1
        read, partner = {"Q": (WQ2, WK2.T @ WK2), "K": (WK2, WQ2.T @ WQ2), "V": (WV2, WO2 @ WO2.T)}[s.kind]
        S = WO1 @ read
        num2 = np.trace(S.T @ left @ S @ partner)
        ov1 = np.trace(left @ WO1 @ WO1.T)
        qk2 = np.trace((WQ2.T @ WQ2) @ (WK2.T @ WK2))
        ov2 = np.trace((WV2.T @ WV2) @ (WO2 @ WO2.T))
        den2 = ov1 * (ov2 if s.kind == "V" else qk2)
        assert s.value == pytest.approx(math.sqrt(num2 / den2), rel=1e-7)
        assert s.value < 0.01  # random heads in a huge residual stream barely compose


# ---------------------------------------------------------------- constructed cases


def test_v_composition_exactly_one_when_aligned_rank_one():
    d = 8
    e = [basis(d, i) for i in range(d)]
    z = np.zeros((d, 1))
    # h1 reads e0 and writes e1; h2 reads e1 (value) and writes e2
    l1 = one_head_layer(1, e[5], e[6], e[0], 3.0 * e[1].T)
    l2 = one_head_layer(2, e[5], e[6], 0.5 * e[1], e[2].T)
    s = as_dict(composition_scores([l1, l2]))
    assert s["V", 1, 0, 2, 0] == pytest.approx(1.0, abs=1e-15)
    assert s["Q", 1, 0, 2, 0] == 0.0 and s["K", 1, 0, 2, 0] == 0.0  # h2's Q/K read e5, e6
    # dh = 2 with the aligned rank-1 part only: still exactly 1
    l1b = Layer(
        1, *(np.concatenate([w, z], axis=1)[None] for w in (e[5], e[6], e[0])), np.concatenate([e[1].T, z.T])[None]
    )
    l2b = Layer(
        2, *(np.concatenate([w, z], axis=1)[None] for w in (e[5], e[6], e[1])), np.concatenate([e[2].T, z.T])[None]
    )
    assert as_dict(composition_scores([l1b, l2b]))["V", 1, 0, 2, 0] == pytest.approx(1.0, abs=1e-15)


def test_v_composition_exactly_zero_for_orthogonal_subspaces():
    rng = np.random.default_rng(11)
    d, dh = 12, 3
    # h1 writes into span(e0..e5); h2 reads everything (Q, K, V) from span(e6..e11)
    WO1 = np.zeros((dh, d))
    WO1[:, :6] = rng.standard_normal((dh, 6))
    read = np.zeros((d, dh))
    l1 = one_head_layer(1, *rng.standard_normal((3, d, dh)), WO1)
    r2 = [read.copy() for _ in range(3)]
    for w in r2:
        w[6:] = rng.standard_normal((6, dh))
    l2 = one_head_layer(2, *r2, rng.standard_normal((dh, d)))
    s = as_dict(composition_scores([l1, l2]))
    assert s == {(k, 1, 0, 2, 0): 0.0 for k in KINDS}


def test_q_and_k_composition_differ_in_asymmetric_case():
    d = 6
    e = [basis(d, i) for i in range(d)]
    # h1 writes u = e1; h2's key reads u, its query reads w = e3 (orthogonal to u)
    l1 = one_head_layer(1, e[4], e[4], e[0], e[1].T)
    l2_key = one_head_layer(2, e[3], e[1], e[5], e[5].T)
    s = as_dict(composition_scores([l1, l2_key]))
    assert s["K", 1, 0, 2, 0] == pytest.approx(1.0) and s["Q", 1, 0, 2, 0] == 0.0
    # swapping h2's query and key swaps the two scores
    l2_query = one_head_layer(2, e[1], e[3], e[5], e[5].T)
    s = as_dict(composition_scores([l1, l2_query]))
    assert s["Q", 1, 0, 2, 0] == pytest.approx(1.0) and s["K", 1, 0, 2, 0] == 0.0
    # generic random heads: Q and K differ too
    rng = np.random.default_rng(5)
    arrays = random_arrays(rng, 9, [(1, 2), (1, 2)])
    s = as_dict(composition_scores(layers_from_arrays(arrays)))
    assert abs(s["Q", 1, 0, 2, 0] - s["K", 1, 0, 2, 0]) > 1e-3


def test_zero_head_gives_nan():
    rng = np.random.default_rng(2)
    arrays = random_arrays(rng, 5, [(2, 2), (1, 2)])
    arrays["WO1"][1] = 0.0  # head 1 of layer 1 writes nothing
    s = as_dict(composition_scores(layers_from_arrays(arrays)))
    assert all(math.isnan(s[k, 1, 1, 2, 0]) for k in KINDS)
    assert all(0 <= s[k, 1, 0, 2, 0] <= 1 for k in KINDS)
    assert "nan" in format_table(composition_scores(layers_from_arrays(arrays)))


def test_scores_are_scale_invariant_per_head():
    rng = np.random.default_rng(8)
    arrays = random_arrays(rng, 7, [(2, 3), (2, 3)])
    base = as_dict(composition_scores(layers_from_arrays(arrays)))
    scaled = dict(arrays)
    scaled["WO1"] = arrays["WO1"] * 1e5
    scaled["WQ2"] = arrays["WQ2"] * 1e-4
    for k, v in as_dict(composition_scores(layers_from_arrays(scaled))).items():
        assert v == pytest.approx(base[k], rel=1e-10)


# ---------------------------------------------------------------- baseline


def test_analytic_baseline():
    assert analytic_baseline(16) == 0.25
    with pytest.raises(ValueError):
        analytic_baseline(0)


def test_random_baseline_close_to_inverse_sqrt_d():
    b = random_baseline(256, 16, 4, seed=0, samples=32)
    assert isinstance(b, Baseline) and b.pairs == 32 * 16
    assert b.analytic == 1 / 16
    for k in KINDS:
        assert b.mean[k] == pytest.approx(1 / 16, rel=0.03)
        assert b.rms[k] == pytest.approx(1 / 16, rel=0.03)
        assert b.mean[k] <= b.rms[k]  # Jensen
        assert 0 < b.std[k] < b.mean[k]


def test_random_baseline_rms_is_exact_even_for_small_d():
    # E[score^2] = 1/d exactly for any dh; the mean is below it
    b = random_baseline(9, 2, 3, seed=1, samples=400)
    for k in KINDS:
        assert b.rms[k] == pytest.approx(1 / 3, rel=0.03)
        assert b.mean[k] < b.rms[k]


def test_random_baseline_is_seeded():
    a = random_baseline(12, 3, 2, seed=4, samples=5)
    assert a == random_baseline(12, 3, 2, seed=4, samples=5)
    assert a.mean != random_baseline(12, 3, 2, seed=5, samples=5).mean
    with pytest.raises(ValueError, match="samples"):
        random_baseline(12, 3, 2, samples=0)


# ---------------------------------------------------------------- table


def test_format_table():
    rng = np.random.default_rng(0)
    scores = composition_scores(layers_from_arrays(random_arrays(rng, 16, [(2, 4), (2, 4)])))
    b = random_baseline(16, 4, 2, seed=0, samples=8)
    text = format_table(scores, b)
    lines = text.splitlines()
    assert lines[0].split() == ["h1", "->", "h2", "Q", "K", "V"]
    assert lines[1].startswith("random (mean)")
    assert f"{b.mean['V']:.4f}" in lines[1]
    rows = [ln for ln in lines if ln.startswith("L0H")]
    # TransformerLens names: the file's layers WQ1, WQ2 are L0 and L1
    assert [r.split()[:3] for r in rows] == [
        ["L0H0", "->", "L1H0"],
        ["L0H0", "->", "L1H1"],
        ["L0H1", "->", "L1H0"],
        ["L0H1", "->", "L1H1"],
    ]
    by_key = as_dict(scores)
    assert rows[1].split()[3:] == [f"{by_key[k, 1, 0, 2, 1]:.4f}" for k in KINDS]
    assert "1/sqrt(d_model) = 0.2500" in text and "seed 0" in text
    assert text.endswith("\n")
    plain = format_table(scores, 0.25)
    assert plain.splitlines()[1].split() == ["baseline", "0.2500", "0.2500", "0.2500"]
    assert "baseline" not in format_table(scores)
    assert "-" in format_table([Score("V", 1, 0, 2, 0, 0.5)]).splitlines()[-1]
    assert "at least two layers" in format_table([])


# ---------------------------------------------------------------- loader errors


def good_arrays():
    return random_arrays(np.random.default_rng(0), 8, [(2, 4), (2, 4)])


@pytest.mark.parametrize(
    "name, bad, pattern",
    [
        ("WK2", np.zeros((2, 8, 3)), r"WK2: expected shape \(2, 8, 4\), got \(2, 8, 3\)"),
        ("WO1", np.zeros((2, 8, 4)), r"WO1: expected shape \(2, 4, 8\), got \(2, 8, 4\)"),
        ("WV1", np.zeros((3, 8, 4)), r"WV1: expected shape \(2, 8, 4\), got \(3, 8, 4\)"),
        ("WQ2", np.zeros((2, 9, 4)), r"WQ2: expected shape \(2, 8, 4\), got \(2, 9, 4\).*d_model=8"),
        ("WQ1", np.zeros((8, 4)), r"WQ1: expected shape \(heads, d_model, d_head\), got \(8, 4\)"),
        ("WQ1", np.zeros((0, 8, 4)), r"WQ1: expected shape .*got \(0, 8, 4\)"),
        ("WE", np.zeros((20, 7)), r"WE: expected shape \(vocab, 8\), got \(20, 7\)"),
        ("WU", np.zeros((20, 8)), r"WU: expected shape \(8, vocab\), got \(20, 8\)"),
        ("WP", np.zeros(8), r"WP: expected shape \(seq, 8\), got \(8,\)"),
        ("WV2", np.full((2, 8, 4), np.nan), r"WV2: contains non-finite"),
        ("WK1", np.zeros((2, 8, 4), dtype=complex), r"WK1: expected a real numeric array"),
        ("WQ01", np.zeros((2, 8, 4)), r"WQ01: layer numbers must not have leading zeros"),
    ],
)
def test_shape_errors_name_the_array(name, bad, pattern):
    arrays = good_arrays()
    arrays[name] = bad
    with pytest.raises(ValueError, match=pattern):
        layers_from_arrays(arrays)


def test_missing_and_absent_arrays():
    arrays = good_arrays()
    del arrays["WV2"], arrays["WO2"]
    with pytest.raises(ValueError, match="layer 2: missing WV2, WO2"):
        layers_from_arrays(arrays)
    with pytest.raises(ValueError, match="no layer arrays"):
        layers_from_arrays({"WE": np.zeros((3, 3)), "wq1": np.zeros((1, 3, 3))})


def test_loader_ignores_other_arrays_and_copies():
    arrays = good_arrays()
    arrays["notes"] = np.array(["hello"])
    arrays["WQ"] = np.zeros(3)  # no layer suffix: not a layer array
    arrays["WQ1"] = arrays["WQ1"].astype(np.float32)
    layers = layers_from_arrays(arrays)
    assert [L.index for L in layers] == [1, 2]
    L = layers[0]
    assert (L.n_heads, L.d_model, L.d_head) == (2, 8, 4) and L.WQ.dtype == np.float64
    assert not L.WQ.flags.writeable
    arrays["WK1"][:] = 0  # the layer holds its own copy
    assert np.any(L.WK != 0)
    h = L.head(1)
    assert h.WO.shape == (4, 8) and h.w_qk().shape == h.w_ov().shape == (8, 8)
    with pytest.raises(IndexError):
        L.head(2)


def test_non_contiguous_layer_numbers_and_layer_checks():
    arrays = good_arrays()
    for k in "QKVO":
        arrays[f"W{k}5"] = arrays.pop(f"W{k}2")
    layers = layers_from_arrays(arrays)
    assert [L.index for L in layers] == [1, 5]
    assert {s.layer2 for s in composition_scores(layers)} == {5}
    with pytest.raises(ValueError, match="two layers have index 1"):
        composition_scores([layers[0], layers[0]])
    small = Layer(2, *np.zeros((3, 1, 3, 2)), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="d_model"):
        composition_scores([layers[0], small])


# ---------------------------------------------------------------- toy-model script


def toy_model_script():
    return load_script("scripts/make_toy_model.py")


def test_toy_model_script(tmp_path, capsys):
    script = toy_model_script()
    out = tmp_path / "toy_model.npz"
    argv = [
        "--layers",
        "2",
        "--heads",
        "4",
        "--d-model",
        "16",
        "--d-head",
        "4",
        "--vocab",
        "20",
        "--seq",
        "8",
        "--seed",
        "0",
        "-o",
        str(out),
    ]
    assert script.main(argv) == 0
    assert str(out) in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert set(arrays) == {"WE", "WP", "WU"} | {f"W{k}{l}" for k in "QKVO" for l in (1, 2)}
    assert arrays["WE"].shape == (20, 16) and arrays["WP"].shape == (8, 16) and arrays["WU"].shape == (16, 20)
    assert arrays["WQ1"].shape == arrays["WV2"].shape == (4, 16, 4) and arrays["WO2"].shape == (4, 4, 16)
    assert all(a.dtype == np.float64 for a in arrays.values())
    layers = layers_from_arrays(arrays)
    assert [L.index for L in layers] == [1, 2]
    scores = composition_scores(layers)
    assert len(scores) == 3 * 16 and all(0 <= s.value <= 1 for s in scores)
    want = direct_scores(arrays, 2)
    assert all(s.value == pytest.approx(want[s.kind, s.layer1, s.head1, s.layer2, s.head2]) for s in scores)
    assert "L0H3 -> L1H3" in format_table(scores, random_baseline(16, 4, 4, samples=4))
    # the defaults are the brief's, and a seed gives the same file
    again = tmp_path / "sub" / "again.bin"
    assert script.main(["-o", str(again)]) == 0
    assert again.exists() and not (tmp_path / "sub" / "again.bin.npz").exists()
    with np.load(again, allow_pickle=False) as z:
        assert all(np.array_equal(z[k], arrays[k]) for k in arrays)


def test_toy_model_script_other_shapes_and_bad_args(tmp_path, capsys):
    script = toy_model_script()
    out = tmp_path / "m.npz"
    assert (
        script.main(
            ["--layers", "3", "--heads", "2", "--d-model", "10", "--d-head", "3", "--seed", "9", "-o", str(out)]
        )
        == 0
    )
    with np.load(out, allow_pickle=False) as z:
        layers = layers_from_arrays(z)
    assert [(L.index, L.n_heads, L.d_model, L.d_head) for L in layers] == [(1, 2, 10, 3), (2, 2, 10, 3), (3, 2, 10, 3)]
    for bad in (["--heads", "0"], ["--d-model", "x"], ["--seed", "-1"]):
        with pytest.raises(SystemExit) as exc:
            script.main([*bad, "-o", str(out)])
        assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_scores_cli_prints_the_table(tmp_path, cli):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "toy.npz"
    subprocess.run(
        [sys.executable, str(root / "scripts" / "make_toy_model.py"), "-o", str(out)], check=True, capture_output=True
    )
    res = cli("scores", out)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["h1", "->", "h2", "Q", "K", "V"]
    assert sum(1 for l in lines if l.startswith("L0H")) == 16
    assert "1/sqrt(d_model) = 0.2500" in res.stdout
    bad = tmp_path / "bad.npz"
    np.savez(bad, A=np.ones((2, 2)))
    res = cli("scores", bad)
    assert res.returncode == 2 and "no layer arrays found" in res.stderr
