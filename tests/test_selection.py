"""Selections ``W[h=1, a, f]`` (one value of a leg, issue 17 item 2) and `diagalg probe`
(the attribution metrics of a token input as an .npz), used as a researcher would: pick
head 1 of layer 2, read the logit of token 3 at position 5, rank by the induction probe.
Values are checked against numpy computed here, independently of diagalg."""

from __future__ import annotations

import re

import numpy as np
import pytest

import circuit_model as cm
from diagalg.metrics import induction_probe, next_token_direction, previous_token_probe, token_period

HEAD1 = "let S2[q, k] = y1[q, a] WQ2[h=1, a, f] WK2[h=1, b, f] y1[k, b] / sqrt(dh)\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("select")
    arrays = cm.write_model(d)
    _, _, y1 = cm.numpy_layer1(arrays)
    qk = arrays["WQ2"][1] @ arrays["WK2"][1].T
    np.savez(d / "numpy.npz", S_np=y1 @ qk @ y1.T / np.sqrt(cm.DH))
    return d, arrays, y1


def run(cli, d, body: str):
    (d / "m.diag").write_text(cm.DIAG + body)
    r = cli("check", "m.diag", cwd=d)
    return r


def test_head_1_of_layer_2_selected_by_leg_matches_numpy_and_the_onehot_form(cli, model):
    d, arrays, _ = model
    r = run(
        cli,
        d,
        HEAD1 + 'tensor S_np[q: seq, k: seq]\nweights "numpy.npz"\n'
        "assert numeric S2[q, k] == S_np[q, k]\n"
        "assert S2[q, k] == onehot(1)[g] y1[q, a] WQ2[g, a, f] WK2[g, b, f] y1[k, b] / sqrt(dh)\n"
        "assert S2[q, k] != y1[q, a] WQ2[h=2, a, f] WK2[h=2, b, f] y1[k, b] / sqrt(dh)\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": ok") == 3


def test_the_logit_of_token_3_at_position_5(cli, model):
    d, arrays, y1 = model
    want = float((y1 @ arrays["WU"])[5, 3])
    r = run(
        cli,
        d,
        f"let logits[q, v] = y1[q, e] WU[e, v]\n"
        f"assert numeric logits[q=5, v=3] == {want!r}\n"
        f"assert numeric y1[q=5, e] WU[e, v=3] == {want!r}\n"
        f"assert numeric logits[q=5, v=3] != {want + 1e-3!r}\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_selections_in_expand_print_as_selections_and_over_leaves_them_alone(cli, model):
    d, _, _ = model
    r = run(cli, d, HEAD1 + "expand S2[q, k] over h\n")
    assert r.returncode == 0, r.stdout + r.stderr
    # layer 1's heads are split by `over h` (4 per side), the selected layer-2 head is not
    assert "[100 terms, exact;" in r.stdout
    lines = [l for l in r.stdout.splitlines() if l.startswith("    [")]
    assert len(lines) == 100
    assert all("WQ2[h=1, a, f]" in l and "WK2[h=1, b, f]" in l for l in lines)
    # a head of layer 1 meets a folded let (A1, a softmax): printed with its onehot
    assert all(re.sub(r"A1\[(h\d*), [^\]]*\] onehot\(\d\)\[\1\]", "", l).count("onehot(") == 0 for l in lines)


def test_selection_errors_point_at_the_culprit(cli, tmp_path):
    cases = [
        ("let Y[a] = W[h=3, a]", "3:16: error: h=3 is outside leg 'h' of W, of dimension 3 (values 0 to 2)", 15),
        ("let Y[a] = W[g=1, a]", "3:14: error: W has no leg 'g' to select (its legs: h, a)", 13),
        ("let Y[a] = W[h=-1, a]", "3:16: error: h=-1: a selected value is an index from 0", 15),
        ("let Y = delta[h=1, a]", "3:15: error: this built-in cannot select a value of a leg (h=1)", 14),
        ("let Y[a] = W[h=1, h=2, a]", "3:19: error: leg 'h' selected twice", 18),
        ("let Y[a] = W[h=1, a, b]", "error: W (with h selected) has 1 leg (a) but 2 were bound", None),
    ]
    for line, message, caret in cases:
        (tmp_path / "e.diag").write_text(f"dim heads = 3, d\ntensor W[h: heads, a: d]\n{line}\n")
        r = cli("check", "e.diag", cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        if caret is not None:
            assert r.stderr.splitlines()[-1] == " " * (4 + caret) + "^", r.stderr


def test_only_selections_bind_the_other_legs_to_their_names(cli, tmp_path):
    (tmp_path / "s.diag").write_text(
        "dim heads = 3, d\ntensor W[h: heads, a: d]\nassert W[h=1] == W[h=1, a]\n"
        "assert W[a, h=2] == W[h=2, a]\nassert W[h=0, a=b] == W[h=0, b]\n"
    )
    r = cli("check", "s.diag", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- diagalg probe


def test_probe_writes_the_metrics_numpy_computes(cli, tmp_path):
    r = cli("probe", "probe.npz", "--vocab", "8", "--period", "5", "--seed", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "probe.npz") as f:
        arrays = {k: f[k] for k in f.files}
    assert sorted(arrays) == ["induction", "next_token", "previous", "tok"]
    tokens = arrays["tok"].argmax(1)
    assert arrays["tok"].shape == (10, 8) and np.array_equal(tokens[5:], tokens[:5])
    assert token_period(tokens) == 5
    np.testing.assert_array_equal(arrays["induction"], induction_probe(10, 5))
    np.testing.assert_array_equal(arrays["previous"], previous_token_probe(10))
    # the next-token direction, independently: row q is one-hot at token q + 1
    want = np.zeros((10, 8))
    for q in range(9):
        want[q, tokens[q + 1]] = 1.0
    np.testing.assert_array_equal(arrays["next_token"], want)
    np.testing.assert_array_equal(next_token_direction(tokens, 8), want)
    assert re.search(r"induction\[q, k\] +\(10, 10\) +induction probe: 1 at k = q - 4", r.stdout)


def test_probe_from_a_token_file_and_renamed_arrays(cli, tmp_path):
    (tmp_path / "t.txt").write_text("# a repeated sentence\n3 1 4 1, 5\n3 1 4 1 5\n")
    r = cli("probe", "p.npz", "--tokens", "t.txt", "--arrays", "induction=P,tok=x_in", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "p.npz") as f:
        assert sorted(f.files) == ["P", "x_in"]
        np.testing.assert_array_equal(f["P"], induction_probe(10, 5))
        assert f["x_in"].shape == (10, 6)
    (tmp_path / "u.txt").write_text("3 1 4 1 5 9 2 6\n")
    r = cli("probe", "u.npz", "--tokens", "u.txt", cwd=tmp_path)
    assert r.returncode == 0 and "no induction probe: the tokens do not repeat" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "probe needs --tokens FILE, or --period P and --vocab V"),
        (("--tokens", "missing.txt"), "missing.txt: no such file"),
        (("--period", "4", "--vocab", "9", "--seq", "3"), "--seq 3: a repeat of 4 tokens needs more than 4 positions"),
        (
            ("--period", "4", "--vocab", "9", "--arrays", "tok=a,previous=a"),
            "two arrays would be written under one name",
        ),
    ],
)
def test_probe_errors_are_messages(cli, tmp_path, args, message):
    r = cli("probe", "p.npz", *args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_probe_then_rank_by_the_induction_probe_with_diagalg_alone(cli, model):
    """The workflow of the README: `diagalg probe` writes the probe, `weights` binds it,
    `top K by` ranks layer 2 head 1's score terms, and the K-composition term is first."""
    d, arrays, _ = model
    r = (
        cli("probe", "probe.npz", "--tokens", "tokens.txt", "--arrays", "induction=P", cwd=d)
        if (d / "tokens.txt").write_text(" ".join(str(t) for t in arrays["tok"].argmax(1)))
        else None
    )
    assert r is not None and r.returncode == 0, r.stderr
    r = run(
        cli, d, 'tensor P[q: seq, k: seq]\nweights "probe.npz"\n' + HEAD1 + "expand S2[q, k] over h top 3 by P[q, k]\n"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    first = re.search(r"<P\[q, k\],·> [-+][0-9.e+-]+  \[([^\]]*)\]", r.stdout)
    assert first and first.group(1) == "skip1 · attn1 · h=0 · #1 · #1", r.stdout
