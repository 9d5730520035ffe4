"""Checkpoints as researchers save them: a TransformerLens-named state dict written as
safetensors and as .npz, bound to the shipped standard models, folded, and scored."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diagalg.checkpoints import from_transformerlens, read_safetensors
from diagalg.weights import WeightsError

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "examples" / "transformers" / "standard"
H, D, DH, V, C, M = 4, 16, 4, 20, 8, 32


def state_dict(layers: int = 2, mlp: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """A random model in TransformerLens's naming, with non-trivial biases and layer norms."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal
    sd = {
        "embed.W_E": n((V, D)),
        "pos_embed.W_pos": n((C, D)),
        "unembed.W_U": n((D, V)),
        "unembed.b_U": n(V),
        "ln_final.w": 1 + 0.3 * n(D),
        "ln_final.b": 0.3 * n(D),
    }
    for l in range(layers):
        p = f"blocks.{l}"
        sd.update({f"{p}.attn.W_{x}": n((H, D, DH)) / 4 for x in "QKV"})
        sd.update({f"{p}.attn.b_{x}": 0.5 * n((H, DH)) for x in "QKV"})
        sd.update(
            {
                f"{p}.attn.W_O": n((H, DH, D)) / 2,
                f"{p}.attn.b_O": 0.5 * n(D),
                f"{p}.ln1.w": 1 + 0.3 * n(D),
                f"{p}.ln1.b": 0.3 * n(D),
                f"{p}.attn.mask": np.tril(np.ones((C, C), dtype=bool)),
                f"{p}.attn.IGNORE": np.array(-1e5),
            }
        )
        if mlp:
            sd.update(
                {
                    f"{p}.ln2.w": 1 + 0.3 * n(D),
                    f"{p}.ln2.b": 0.3 * n(D),
                    f"{p}.mlp.W_in": n((D, M)) / 4,
                    f"{p}.mlp.b_in": n(M),
                    f"{p}.mlp.W_out": n((M, D)) / 4,
                    f"{p}.mlp.b_out": n(D),
                }
            )
    return sd


def save_safetensors(path: Path, sd: dict[str, np.ndarray], dtype: str = "F32") -> None:
    """Write ``sd`` as safetensors does (what `safetensors.numpy.save_file` writes)."""
    np_dtype = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[dtype]
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for k, a in sd.items():
        kind = "BOOL" if a.dtype == bool else "F32" if k.endswith("IGNORE") else dtype  # -1e5 overflows F16
        raw = np.ascontiguousarray(a.astype({"BOOL": "?", "F32": "<f4"}.get(kind, np_dtype))).tobytes()
        header[k] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def layernorm(x: np.ndarray, w: np.ndarray | float = 1.0, b: np.ndarray | float = 0.0) -> np.ndarray:
    x = x - x.mean(-1, keepdims=True)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w + b


def logits(sd: dict[str, np.ndarray], tokens: np.ndarray, layers: int, mlp: bool) -> np.ndarray:
    """A direct numpy forward pass of a TransformerLens model (GELU tanh form for the MLPs)."""
    g = sd.get
    x = sd["embed.W_E"][tokens] + sd["pos_embed.W_pos"][: len(tokens)]
    mask = np.triu(np.ones((len(tokens),) * 2, dtype=bool), 1)
    for l in range(layers):
        p = f"blocks.{l}"
        n = layernorm(x, g(f"{p}.ln1.w", 1.0), g(f"{p}.ln1.b", 0.0))
        q, k, v = (np.einsum("sa,haf->hsf", n, sd[f"{p}.attn.W_{c}"]) + sd[f"{p}.attn.b_{c}"][:, None] for c in "QKV")
        s = np.where(mask, -np.inf, np.einsum("hqf,hkf->hqk", q, k) / np.sqrt(DH))
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        x = x + np.einsum("hqk,hkf,hfe->qe", a, v, sd[f"{p}.attn.W_O"]) + sd[f"{p}.attn.b_O"]
        if mlp:
            m = layernorm(x, g(f"{p}.ln2.w", 1.0), g(f"{p}.ln2.b", 0.0)) @ sd[f"{p}.mlp.W_in"] + sd[f"{p}.mlp.b_in"]
            gelu = 0.5 * m * (1 + np.tanh(np.sqrt(2 / np.pi) * (m + 0.044715 * m**3)))
            x = x + gelu @ sd[f"{p}.mlp.W_out"] + sd[f"{p}.mlp.b_out"]
    return layernorm(x, g("ln_final.w", 1.0), g("ln_final.b", 0.0)) @ sd["unembed.W_U"] + sd["unembed.b_U"]


def tl_names(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Back from the standard model's names to TransformerLens's (for the numpy forward pass)."""
    from diagalg.checkpoints import diag_name

    keys = state_dict(2, True).keys()
    return {k: arrays[diag_name(k)] for k in keys if diag_name(k) in arrays}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "diagalg.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("dtype", ["F32", "F64", "F16"])
def test_safetensors_round_trip(tmp_path: Path, dtype: str) -> None:
    sd = state_dict(1)
    save_safetensors(tmp_path / "m.safetensors", sd, dtype)
    back = read_safetensors(tmp_path / "m.safetensors")
    assert set(back) == set(sd)
    tol = {"F16": 2e-3, "F32": 1e-6, "F64": 0.0}[dtype]
    for k, a in sd.items():
        assert back[k].shape == a.shape
        np.testing.assert_allclose(back[k].astype(np.float64), a.astype(np.float64), rtol=tol, atol=tol)


def test_bf16_is_read_as_its_float32_top_half(tmp_path: Path) -> None:
    a = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    raw = (a.view(np.uint32) >> 16).astype("<u2").tobytes()
    h = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, len(raw)]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + raw)
    np.testing.assert_array_equal(read_safetensors(tmp_path / "b.safetensors")["w"], a)


@pytest.mark.parametrize("mlp", [False, True])
def test_fold_ln_keeps_the_logits(mlp: bool) -> None:
    sd = state_dict(2, mlp, seed=1)
    tokens = np.random.default_rng(2).integers(0, V, C)
    want = logits(sd, tokens, 2, mlp)
    folded = tl_names(from_transformerlens(sd, "m", fold_ln=True))
    assert all(np.all(folded[k] == 1) for k in folded if k.endswith("ln1.w") or k == "ln_final.w")
    np.testing.assert_allclose(logits(folded, tokens, 2, mlp), want, rtol=1e-9, atol=1e-9)
    centred = tl_names(from_transformerlens(sd, "m", fold_ln=True, center_unembed=True))
    got = logits(centred, tokens, 2, mlp)
    np.testing.assert_allclose(got - got.mean(-1, keepdims=True), want - want.mean(-1, keepdims=True), atol=1e-9)
    assert np.abs(got.mean(-1)).max() < 1e-9


def test_misshaped_missing_and_extra_arrays_are_named() -> None:
    sd = state_dict(2)
    bad = dict(sd, **{"blocks.1.attn.W_Q": np.zeros((H, DH, D))})
    with pytest.raises(
        WeightsError,
        match=r"blocks\.1\.attn\.W_Q: expected \[4, 16, 4\] \(head, d_model, d_head\), "
        r"got \[4, 4, 16\]",
    ):
        from_transformerlens(bad, "m.safetensors")
    with pytest.raises(WeightsError, match=r"missing blocks\.0\.attn\.b_K, expected \[4, 4\] \(head, d_head\)"):
        from_transformerlens({k: v for k, v in sd.items() if k != "blocks.0.attn.b_K"}, "m")
    with pytest.raises(WeightsError, match=r"unexpected array blocks\.0\.attn\.W_X"):
        from_transformerlens(dict(sd, **{"blocks.0.attn.W_X": np.zeros(3)}), "m")


def test_one_line_binds_a_safetensors_checkpoint(tmp_path: Path) -> None:
    save_safetensors(tmp_path / "model.safetensors", state_dict(2))
    (tmp_path / "mine.diag").write_text(
        f'import "{STANDARD / "attn_only_2l.diag"}"\nweights "model.safetensors" as transformerlens\n'
    )
    r = run("check", str(tmp_path / "mine.diag"))
    assert r.returncode == 0, r.stderr
    r = run("check", str(STANDARD / "attn_only_2l.diag"), "--weights", str(tmp_path / "model.safetensors"), "--fold-ln")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout


def test_npz_state_dict_with_mlps_and_a_wrong_statement(tmp_path: Path) -> None:
    np.savez(tmp_path / "model.npz", **state_dict(1, mlp=True))
    r = run("check", str(STANDARD / "mlp_1l.diag"), "--weights", str(tmp_path / "model.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    # the attention-only file lacks the MLP tensors: the extra arrays are named
    (tmp_path / "a.diag").write_text(
        f'import "{STANDARD / "attn_only_1l.diag"}"\nweights "model.npz" as transformerlens\n'
    )
    r = run("check", str(tmp_path / "a.diag"))
    assert r.returncode == 2 and "a.diag:2:9: error: model.npz: array " in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "b.diag").write_text(f'import "{STANDARD / "mlp_1l.diag"}"\nweights "model.npz" as huggingface\n')
    r = run("check", str(tmp_path / "b.diag"))
    assert "b.diag:2:24: error: unknown checkpoint layout 'huggingface'" in r.stderr


def test_scores_take_the_biases_in(tmp_path: Path) -> None:
    sd = state_dict(2)
    save_safetensors(tmp_path / "m.safetensors", sd, "F64")
    r = run("scores", str(tmp_path / "m.safetensors"), "--fold-ln")
    assert r.returncode == 0, r.stderr
    assert "b_Q, b_K, b_V are in the scores" in r.stdout and "L0H0 -> L1H0" in r.stdout
    from diagalg.scores import composition_scores, layers_from_arrays

    arrays = from_transformerlens(sd, "m")
    with_b = composition_scores(layers_from_arrays(arrays))
    without = composition_scores(layers_from_arrays({k: v for k, v in arrays.items() if not k.startswith("b")}))
    zero = composition_scores(
        layers_from_arrays({k: (0 * v if k[:2] in ("bQ", "bK", "bV") else v) for k, v in arrays.items()})
    )
    assert max(abs(a.value - b.value) for a, b in zip(with_b, without)) > 1e-3
    assert max(abs(a.value - b.value) for a, b in zip(zero, without)) < 1e-12
