"""Finding a circuit with diagalg alone, on a model with a planted induction circuit
(tests/circuit_model.py): attribution by a metric (``top K by M``), heads picked in
the language (``onehot``), paths labelled from structure, and ``diagalg scores`` the
way researchers read it. Numbers are cross-checked against independent numpy."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import circuit_model as cm
from diagalg.metrics import induction_probe, previous_token_probe, repeated_tokens

S2 = "let S2[q, k] = onehot(1)[g] y1[q, a] WQ2[g, a, f] WK2[g, b, f] y1[k, b] / sqrt(dh)\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("circuit")
    arrays = cm.write_model(d)
    np.savez(d / "probe.npz", P=induction_probe(cm.SEQ, cm.PERIOD))
    return d, arrays


def check(cli, directory, body: str):
    (directory / "m.diag").write_text(cm.DIAG + 'tensor P[q: seq, k: seq]\nweights "probe.npz"\n' + S2 + body)
    return cli("check", "m.diag", cwd=directory)


def numpy_kcomp(arrays) -> tuple[np.ndarray, float]:
    """Layer 2 head 1's scores and the induction term: the query reads the token
    embedding, the key reads layer 1 head 0's output of the token embedding."""
    x, a1, y1 = cm.numpy_layer1(arrays)
    xt = arrays["tok"] @ arrays["WE"]
    key = a1[0] @ xt @ arrays["WV1"][0] @ arrays["WO1"][0]
    qk = arrays["WQ2"][1] @ arrays["WK2"][1].T
    term = xt @ qk @ key.T / np.sqrt(cm.DH)
    whole = y1 @ qk @ y1.T / np.sqrt(cm.DH)
    return term, whole


def contributions(stdout: str) -> list[tuple[float, str]]:
    return [
        (float(m.group(1)), m.group(2))
        for m in re.finditer(r"<P\[q, k\],·> ([-+][0-9.e+-]+)  [^\[\n]*\[([^\]]*)\]", stdout)
    ]


def test_the_induction_probe_puts_the_k_composition_term_first(cli, model):
    d, arrays = model
    r = check(cli, d, "expand S2[q, k] over h top 100\nexpand S2[q, k] over h top 8 by P[q, k]\n")
    assert r.returncode == 0, r.stdout + r.stderr
    by_norm = re.findall(r"‖·‖ [0-9.e+]+  \[([^\]]*)\]", r.stdout)
    kcomp = "skip1 · attn1 · h=0 · #1 · #1"  # query: token embedding; key: L1H0 of the token embedding
    assert by_norm.index(kcomp) >= 3  # ranking by norm buries it under the large random heads
    ranked = contributions(r.stdout)
    assert len(ranked) == 8 and ranked[0][1] == kcomp
    term, whole = numpy_kcomp(arrays)
    probe = induction_probe(cm.SEQ, cm.PERIOD)
    assert ranked[0][0] == pytest.approx(float(np.sum(probe * term)), rel=1e-5)
    # the contributions of all 100 terms sum to <P, S2>, printed and checked
    total = float(np.sum(probe * whole))
    line = re.search(
        r"<P\[q, k\], E> = ([-+][0-9.e+-]+): every term evaluated, contributions sum to "
        r"([-+][0-9.e+-]+) \(checked",
        r.stdout,
    )
    assert line, r.stdout
    assert float(line.group(1)) == pytest.approx(total, rel=1e-5)
    # the circuit dominates: more than the whole once the other terms' cancellations are counted
    assert abs(ranked[0][0]) > 5 * max(abs(v) for v, _ in ranked[1:])


def test_signs_are_kept_and_a_scalar_term_shows_its_value(cli, model):
    d, arrays = model
    r = check(cli, d, "expand P[q, k] S2[q, k] over h top 5\n")
    assert r.returncode == 0, r.stdout
    values = [float(v) for v in re.findall(r"^    = ([-+][0-9.e+-]+)  ", r.stdout, re.MULTILINE)]
    assert len(values) == 5 and "|value|" in r.stdout
    assert values[0] > 0 and any(v < 0 for v in values)  # the norm would have hidden the signs


def test_paths_by_a_metric_check_their_sum_when_exact(cli, model):
    d, _ = model
    r = check(cli, d, "paths S2[q, k] over h top 3 by P[q, k]\n")
    assert r.returncode == 0, r.stdout
    assert "(checked" in r.stdout and "every term evaluated" in r.stdout
    assert contributions(r.stdout)[0][1] == "skip1 · attn1 · h=0"


def test_paths_through_a_softmax_are_not_claimed_to_sum(cli, model):
    d, _ = model
    body = (
        "let A2[q, k] = softmax[k](causal[q, k](S2[q, k]))\n"
        "let y2[q, e] = skip2: y1[q, e] + attn2: A2[q, k] y1[k, a] WV2[1, a, f] WO2[1, f, e]\n"
    )
    body = body.replace("WV2[1, a, f] WO2[1, f, e]", "onehot(1)[g2] WV2[g2, a, f] WO2[g2, f, e]")
    body += "tensor L[q: seq, v: vocab]\nlet correct[q, v] = shift(1)[p, q] tok[p, v]\n"
    body += "paths y2[q, e] WU[e, v] top 3 by correct[q, v]\n"
    r = check(cli, d, body)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not claimed to sum" in r.stdout


def test_metric_errors_point_at_the_metric(cli, model):
    d, _ = model
    r = check(cli, d, "expand S2[q, k] top 2 by P[q, j]\n")
    assert r.returncode == 2
    assert (
        "error: the metric after `by` must have the expression's free labels (k, q): it lacks k; j is not free"
        in r.stderr
    )
    assert "Traceback" not in r.stderr


def test_onehot_is_a_soft_keyword_with_checked_values(cli, tmp_path):
    (tmp_path / "a.diag").write_text(
        "dim heads = 3, n\ntensor W[h: heads, a: n]\ntensor onehot[a: n]\n"
        "assert onehot(2)[h] W[h, a] != onehot(1)[h] W[h, a]\n"
        "assert onehot[a] W[h, a] == W[h, a] onehot[a]\n"
        "assert numeric W[h, a] delta[h] == onehot(0)[h] W[h, a] + "
        "onehot(1)[h] W[h, a] + onehot(2)[h] W[h, a]\n"
    )
    r = cli("check", "a.diag", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "b.diag").write_text("dim heads = 3, n\ntensor W[h: heads, a: n]\nshow onehot(3)[h] W[h, a]\n")
    r = cli("check", "b.diag", cwd=tmp_path)
    assert r.returncode == 2
    assert "b.diag:3:6: error: onehot(3) is outside 'h', of dimension 3" in r.stderr


PATHS_MODEL = """\
dim seq, d, dh, vocab
tensor tok[s: seq, t: vocab]
tensor WE[t: vocab, e: d]
tensor WP[s: seq, e: d]
tensor WQ1[a: d, f: dh]
tensor WK1[a: d, f: dh]
tensor WV1[a: d, f: dh]
tensor WO1[f: dh, e: d]
tensor WQ2[a: d, f: dh]
tensor WK2[a: d, f: dh]
tensor WV2[a: d, f: dh]
tensor WO2[f: dh, e: d]
tensor WU[e: d, v: vocab]
EMBEDDING
let A1[q, k] = softmax[k](causal[q, k](x[q, a] WQ1[a, f] WK1[b, f] x[k, b] / sqrt(dh)))
let y1[q, e] = skip1: x[q, e] + attn1: A1[q, k] x[k, a] WV1[a, f] WO1[f, e]
let A2[q, k] = softmax[k](causal[q, k](y1[q, a] WQ2[a, f] WK2[b, f] y1[k, b] / sqrt(dh)))
let y2[q, e] = skip2: y1[q, e] + attn2: A2[q, k] y1[k, a] WV2[a, f] WO2[f, e]
paths y2[q, e] WU[e, v]
"""


@pytest.mark.parametrize(
    "embedding",
    [
        "let x[s, e] = tok[s, t] WE[t, e] + WP[s, e]",
        "let x[s, e] = emb_tok: tok[s, t] WE[t, e] + emb_pos: WP[s, e]",
        "let x0[s, e] = tok[s, t] WE[t, e]\nlet x[s, e] = x0[s, e] + WP[s, e]",
    ],
)
def test_paths_read_roles_from_structure_whatever_the_embedding(cli, tmp_path, embedding):
    (tmp_path / "p.diag").write_text(PATHS_MODEL.replace("EMBEDDING", embedding))
    r = cli("check", "p.diag", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[10 paths, 8 approximate" in r.stdout
    names = re.findall(r"^    (\S+) \(order (\d)", r.stdout, re.MULTILINE)
    assert names == [
        ("direct", "0"),
        ("attn1", "1"),
        ("attn2", "1"),
        ("K-composition", "2"),
        ("Q-composition", "2"),
        ("QK-composition", "3"),
        ("V-composition", "2"),
        ("KV-composition", "3"),
        ("QV-composition", "3"),
        ("QKV-composition", "4"),
    ]


def test_gpt2_example_paths_label_the_mlp(cli):
    from pathlib import Path

    ex = Path(__file__).resolve().parents[1] / "examples" / "transformers"
    text = (ex / "gpt2_shapes.diag").read_text()
    cut = text.index("# --- Virtual weights")
    (Path(ex.parent.parent) / "").exists()
    import tempfile

    with tempfile.TemporaryDirectory() as t:
        (Path(t) / "g.diag").write_text(text[:cut] + "paths logits[s, v]\n")
        r = cli("check", "g.diag", "--dims", "seq=5,vocab=7,d=6,dh=2,mlp=4", cwd=t)
    assert r.returncode == 0, r.stdout + r.stderr
    names = re.findall(r"^    (.+?) \(order (\d)", r.stdout, re.MULTILINE)
    assert ("MLP-composition", "2") in names  # the attention block read by the MLP
    assert re.search(
        r"^    MLP-composition \(order 2, approximate, MLP evaluated on this path's input alone\)",
        r.stdout,
        re.MULTILINE,
    )
    assert ("mlp", "1") in names and ("attn", "1") in names and ("direct", "0") in names
    assert not any(n == "V-composition" for n, _ in names)


# ---------------------------------------------------------------- scores


def test_scores_json_names_heads_like_transformerlens_and_matches_numpy(cli, model):
    d, arrays = model
    r = cli("scores", "model.npz", "--json", cwd=d)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 3 * cm.HEADS * cm.HEADS
    assert set(rows[0]) == {"kind", "from", "to", "score", "baseline", "above"}
    assert rows[0]["from"] == "L0H0" and rows[0]["to"] == "L1H0"

    def fro(m):
        return np.linalg.norm(m)

    for row in rows:
        h1, h2 = int(row["from"][3:]), int(row["to"][3:])
        ov1 = (arrays["WV1"][h1] @ arrays["WO1"][h1]).T  # the paper's column-vector W_OV
        qk2 = arrays["WQ2"][h2] @ arrays["WK2"][h2].T
        ov2 = (arrays["WV2"][h2] @ arrays["WO2"][h2]).T
        num, den = {"Q": (qk2.T @ ov1, fro(qk2)), "K": (qk2 @ ov1, fro(qk2)), "V": (ov2 @ ov1, fro(ov2))}[row["kind"]]
        assert row["score"] == pytest.approx(fro(num) / (den * fro(ov1)), rel=1e-12, abs=1e-15)


def test_scores_ranked_flags_pairs_above_baseline_and_old_numbering_on_request(cli, model):
    d, _ = model
    r = cli("scores", "model.npz", "--ranked", "--full", cwd=d)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln[:2] in ("Q ", "K ", "V ")]
    values = [float(ln.split()[4]) for ln in lines]
    assert values == sorted(values, reverse=True) and len(lines) == 48
    assert any(ln.endswith("*") for ln in lines) and "above baseline" in r.stdout
    old = cli("scores", "model.npz", "--numbering", "file", cwd=d)
    assert "L1.H0 -> L2.H1" in old.stdout
    new = cli("scores", "model.npz", cwd=d)
    assert "L0H0 -> L1H1" in new.stdout


def test_head_detectors_find_the_planted_heads(cli, model):
    d, arrays = model
    from diagalg.score_views import head_detectors, run_patterns
    from diagalg.scores import layers_from_arrays

    layers = layers_from_arrays(arrays)
    _, a1, _ = cm.numpy_layer1(arrays)
    tokens = np.argmax(arrays["tok"], axis=1)
    assert np.allclose(run_patterns(layers, arrays["WE"], arrays["WP"], tokens)[0], a1, atol=1e-12)
    rows = head_detectors(layers, arrays["WE"], arrays["WP"], cm.PERIOD)
    best = {k: max(rows, key=lambda r: r[k]) for k in ("previous", "induction")}
    assert (best["previous"]["layer"], best["previous"]["head"]) == (1, cm.PREV_HEAD)
    assert (best["induction"]["layer"], best["induction"]["head"]) == (2, cm.INDUCTION_HEAD)
    r = cli("scores", "model.npz", "--detect", "8", cwd=d)
    assert r.returncode == 0 and "L0H0    0.99" in r.stdout


def test_probes_are_centred_on_the_visible_keys():
    p = induction_probe(6, 3)
    assert np.allclose(np.tril(p).sum(1), 0.0) and np.all(p[:3] == 0) and np.all(np.triu(p, 1) == 0)
    assert p[4, 2] == pytest.approx(1 - 1 / 5)
    q = previous_token_probe(4)
    assert q[2, 1] == pytest.approx(1 - 1 / 3)
    tok = repeated_tokens(10, 4, 2, seed=1)
    assert tok.shape == (8, 10) and np.array_equal(tok[:4], tok[4:])
