"""The shipped trained model (scripts/train_induction.py ->
examples/transformers/induction_trained.npz) has an induction circuit, and diagalg's
tools find it: every finding is computed here from the shipped weights (no retraining),
and the example ``induction_trained.diag`` is checked to state the heads the detectors
pick. Work is counted (terms evaluated, search states), never timed."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from conftest import load_script
from diagalg.checkpoints import load_checkpoint, load_state_dict
from diagalg.cli.probe import read_tokens
from diagalg.metrics import induction_probe
from diagalg.score_views import above_baseline, head_detectors, run_patterns
from diagalg.scores import composition_scores, layers_from_arrays, random_baseline

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples" / "transformers"
NPZ = EX / "induction_trained.npz"
DIAG = EX / "induction_trained.diag"
PERIOD = 16


def _script() -> ModuleType:
    return load_script("scripts/train_induction.py")


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    return load_checkpoint(NPZ, NPZ.name, "transformerlens")


@pytest.fixture(scope="module")
def detectors(arrays: dict[str, np.ndarray]) -> list[dict[str, float | int]]:
    return head_detectors(layers_from_arrays(arrays), arrays["WE"], arrays["WP"], PERIOD, seed=0)


def _best(rows: list[dict[str, float | int]], layer: int, col: str) -> tuple[int, list[float]]:
    vals = [float(r[col]) for r in rows if r["layer"] == layer]
    return int(np.argmax(vals)), vals


def test_the_checkpoint_is_small_transformerlens_and_bias_free() -> None:
    assert NPZ.stat().st_size < 1_000_000
    sd = load_state_dict(NPZ)
    assert sd["blocks.0.attn.W_Q"].shape == (4, 32, 8) and sd["blocks.1.attn.W_O"].shape == (4, 8, 32)
    assert all(not np.any(v) for k, v in sd.items() if ".b_" in k)  # trained without biases


def test_previous_token_head_identified(detectors: list[dict[str, float | int]]) -> None:
    head, prev = _best(detectors, 0, "previous")
    assert head == 1
    assert prev[head] > 0.7  # most of its attention on the previous token
    assert sorted(prev)[-2] < 0.1  # no other layer-0 head does that


def test_induction_heads_identified(detectors: list[dict[str, float | int]]) -> None:
    head, ind = _best(detectors, 1, "induction")
    assert head == 2 and ind[head] > 0.8
    assert min(ind) > 0.7  # every layer-1 head is an induction head
    assert max(float(r["induction"]) for r in detectors if r["layer"] == 0) < 0.05


def test_k_composition_pair_by_scores(arrays: dict[str, np.ndarray]) -> None:
    layers = layers_from_arrays(arrays)
    scores = composition_scores(layers)
    base = random_baseline(32, 8, 4, seed=0, samples=64)
    for h2 in range(4):
        k_into = {s.head1: s for s in scores if s.kind == "K" and s.head2 == h2}
        # the previous-token head is the layer-0 head each induction head K-composes with most,
        # above the random baseline (mean + 2 std), as `diagalg scores --ranked` flags it
        assert max(k_into, key=lambda h: k_into[h].value) == 1
        assert above_baseline(k_into[1], base)
        assert k_into[1].value > 1.5 / math.sqrt(32)  # and far above the random RMS 1/sqrt(d_model)
    top_k = max((s for s in scores if s.kind == "K"), key=lambda s: s.value)
    assert (top_k.head1, top_k.head2) == (1, 3)  # the largest K score: L0H1 -> L1H3


def test_readme_shows_what_scores_prints(cli) -> None:
    """The README's text blocks of `diagalg scores` on the shipped model are its output."""
    readme = (ROOT / "README.md").read_text()
    for args in (["scores", "--detect", "16"], ["scores", "--ranked", "--top", "8"]):
        r = cli(*args, str(NPZ))
        assert r.returncode == 0, r.stderr
        shown = f"$ diagalg {' '.join(args)} examples/transformers/induction_trained.npz\n" + r.stdout
        assert shown in readme, shown


def test_loss_on_the_repeated_half_independently(arrays: dict[str, np.ndarray]) -> None:
    """The training script's own forward pass (independent of diagalg's evaluator) on
    the shipped input gives the loss the example prints, far below log(vocab)."""
    ti = _script()
    tokens = read_tokens(str(EX / "induction_trained_tokens.txt"))
    assert list(tokens[:PERIOD]) == list(tokens[PERIOD:]) and len(set(tokens[:PERIOD].tolist())) == PERIOD
    p = {k: arrays[k] for k in ("WE", "WP", "WU")}
    for layer in (0, 1):
        p |= {f"W{m}{layer}": arrays[f"W{m}{layer}"] for m in "QKVO"}
    logits, caches = ti.forward(p, ti.Config(), tokens[None])
    logp = (
        logits[0]
        - np.log(np.exp(logits[0] - logits[0].max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits[0].max(-1, keepdims=True)
    )
    q = np.arange(PERIOD, 2 * PERIOD - 1)
    loss = float(-logp[q, tokens[q + 1]].mean())
    assert loss < 1.0 < math.log(32)
    # and diagalg's own patterns agree with the script's
    ours = run_patterns(layers_from_arrays(arrays), arrays["WE"], arrays["WP"], tokens)
    assert np.allclose(ours[1], caches[1]["a"][0], atol=1e-10)


def test_example_ranks_k_composition_first(cli) -> None:
    r = cli("check", DIAG)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert " 0 failed" in out.splitlines()[-1]
    # the heads the example names are the ones the detectors pick
    assert "A0[h=1, q, k] shift(1)[q, k]" in DIAG.read_text() and "A1[h=2, q, k]" in DIAG.read_text()
    loss = float(re.search(r"expand loss top 1 .*\n    = \+([0-9.]+)", out).group(1))
    assert 0 < loss < 1.0
    block = out.split("expand S1H2[q, k] over h top 4 by induction[q, k]")[1]
    assert "top 4 of 100 terms" in block and "proven; 100 terms evaluated" in block
    states = int(re.search(r"(\d+) states\]", block).group(1))
    assert states <= 200  # counted work: the bounds prune
    terms = [ln for ln in block.splitlines() if ln.startswith("    <induction[q, k],·>")]
    first = terms[0]
    # K-composition: the query reads the token embedding, the key the token embedding
    # moved by the previous-token head L0H1
    assert "[skip0 · attn0 · h=1 · emb · emb]" in first
    total = float(re.search(r"<induction\[q, k\], E> = \+([0-9.]+)", block).group(1))
    top = float(re.search(r"\+([0-9.]+)", first).group(1))
    assert top > 0.5 * total  # it explains most of the probe
    assert all(abs(float(re.search(r"([+-][0-9.]+)", t).group(1))) < 0.5 * top for t in terms[1:])
    # the README's account of this output gives its figures
    readme = (ROOT / "README.md").read_text()
    second = float(re.search(r"([+-][0-9.]+)", terms[1]).group(1))
    for figure in (
        f"{loss:.3f} nats",
        f"+{top:.1f} of",
        f"= +{total:.1f}",
        f"+{second:.1f} (proven, 100 terms evaluated, {states} search\nstates)",
    ):
        assert figure in readme, figure


def test_example_matches_a_numpy_recomputation_of_the_probe(arrays: dict[str, np.ndarray]) -> None:
    """<induction, S1[h=2]> computed with numpy equals the example's accounting line's
    total, and the K-composition term alone matches its listed contribution."""
    tokens = read_tokens(str(EX / "induction_trained_tokens.txt"))
    tok = np.eye(32)[tokens]
    x0 = tok @ arrays["WE"] + arrays["WP"]
    a0 = run_patterns(layers_from_arrays(arrays), arrays["WE"], arrays["WP"], tokens)[0]
    heads = np.einsum("hsk,ka,haf,hfe->hse", a0, x0, arrays["WV0"], arrays["WO0"])
    x1 = x0 + heads.sum(0)
    qk = arrays["WQ1"][2] @ arrays["WK1"][2].T / math.sqrt(8)
    P = induction_probe(32, PERIOD)
    total = float(np.sum(P * (x1 @ qk @ x1.T)))
    emb = tok @ arrays["WE"]
    prev_emb = np.einsum("sk,ka,af,fe->se", a0[1], emb, arrays["WV0"][1], arrays["WO0"][1])
    kcomp = float(np.sum(P * (emb @ qk @ prev_emb.T)))
    assert kcomp > 0.5 * total > 0


def test_training_is_deterministic_and_its_gradients_are_right() -> None:
    """A tiny configuration, a few steps: the same seed gives the same weights, and the
    hand-written backward pass matches finite differences."""
    ti = _script()
    cfg = ti.Config(vocab=7, n_ctx=12, d_model=6, heads=2, d_head=3, batch=4, seed=3)
    a, ha = ti.train(cfg, 5, 0.0, 0, every=5, log=False)
    b, hb = ti.train(cfg, 5, 0.0, 0, every=5, log=False)
    assert ha == hb and all(np.array_equal(a[k], b[k]) for k in a)
    rng = np.random.default_rng(0)
    toks, rep = ti.sample_batch(cfg, rng, 3)
    logits, caches = ti.forward(a, cfg, toks)
    _, _, dl = ti.losses(logits, toks, rep)
    g = ti.backward(a, cfg, toks, caches, dl)
    for k in sorted(a):
        idx = tuple(int(rng.integers(0, s)) for s in a[k].shape)
        old = a[k][idx]
        a[k][idx] = old + 1e-6
        up = ti.losses(ti.forward(a, cfg, toks)[0], toks, rep)[0]
        a[k][idx] = old - 1e-6
        down = ti.losses(ti.forward(a, cfg, toks)[0], toks, rep)[0]
        a[k][idx] = old
        assert abs((up - down) / 2e-6 - g[k][idx]) < 1e-6 * max(1.0, abs(g[k][idx])), k


def test_the_composition_scores_draw_as_heatmaps_cell_for_cell(tmp_path):
    """`diagalg scores --values` draws each kind's score matrix; its cells are the scores
    `--json` prints (the K-composition pair of the trained model among them)."""
    import json
    import subprocess
    import xml.etree.ElementTree as ET

    svg = tmp_path / "scores.svg"
    weights = str(Path(__file__).resolve().parent.parent / "examples" / "transformers" / "induction_trained.npz")
    run = subprocess.run(
        [sys.executable, "-m", "diagalg.cli", "scores", weights, "--values", str(svg), "--json"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    panels = {g.get("data-name"): g for g in root.iter(f"{ns}g") if g.get("class") == "values-panel"}
    assert set(panels) == {"Q-composition L0 → L1", "K-composition L0 → L1", "V-composition L0 → L1"}
    for r in rows:
        cells = {
            (int(c.get("data-row")), int(c.get("data-col"))): float(c.get("data-value"))
            for c in panels[f"{r['kind']}-composition L0 → L1"].iter(f"{ns}rect")
            if c.get("class") == "cell"
        }
        h1, h2 = int(r["from"].split("H")[1]), int(r["to"].split("H")[1])
        assert abs(cells[h1, h2] - r["score"]) < 1e-12
