"""Train a small attention-only transformer that forms an induction circuit.

    .venv/bin/python scripts/train_induction.py            # writes examples/transformers/induction_trained.npz

numpy only, with hand-written backpropagation (no torch, no autograd): the run is
deterministic from ``--seed`` (BLAS is pinned to one thread before numpy loads, so
the reduction order does not depend on the machine's core count).

The model, in TransformerLens's naming and shapes (``diagalg.checkpoints``): token
and learned position embeddings, two layers of attention (4 heads, d_head 8, causal,
scores scaled by 1/sqrt(d_head)) added to the residual stream, and an unembedding.
No layer norm and no MLPs (so ``diagalg scores --detect`` can run it). The model has
no biases: the TransformerLens layout has ``b_Q, b_K, b_V, b_O, b_U``, so they are
written as zeros, and never trained.

The data: sequences of ``n_ctx`` uniformly random tokens in which a segment of random
length ``p`` (4 to n_ctx/2) appears twice in a row at a random offset. The distance
back to the earlier copy varies, so no position predicts the next token: only looking
up what followed the current token's earlier occurrence does (induction). (Drawing
the other tokens without replacement instead teaches the model to suppress tokens it
has seen, the opposite of induction: with seed 0 no induction head formed in
6,000 steps.) Training minimises
the next-token cross-entropy at every position (Adam, learning rate 0.01, batch 32),
evaluates every 100 steps, and stops ``--after`` (1000) steps past the first
evaluation whose loss on the repeated half (the second copy's predictable tokens, on
a fixed batch of 128 sequences) is below ``--target`` (1 nat, far below log(vocab) =
3.47 nats), so that the heads sharpen. With seed 0: 4,300 steps, about a minute on
one core; repeated-half loss 0.90 on the evaluation batch.

The script prints the losses as it goes and writes the state dict as ``.npz``
(float32; diagalg has no safetensors writer, and ``weights "..." as
transformerlens`` reads ``.npz`` state dicts), and a token file: 16 random tokens
repeated twice (its own seed, ``--seed + 1``), the input the example
``examples/transformers/induction_trained.diag`` binds.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "transformers" / "induction_trained.npz"
TOKENS = ROOT / "examples" / "transformers" / "induction_trained_tokens.txt"

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Config:
    vocab: int = 32
    n_ctx: int = 32
    d_model: int = 32
    heads: int = 4
    d_head: int = 8
    layers: int = 2
    batch: int = 32
    lr: float = 1e-2
    seed: int = 0


def init_params(cfg: Config, rng: np.random.Generator) -> Params:
    """Gaussian initialisation, each weight scaled by 1/sqrt(its fan-in)."""
    d, H, dh = cfg.d_model, cfg.heads, cfg.d_head
    p: Params = {
        "WE": rng.normal(0, 1.0, (cfg.vocab, d)) / math.sqrt(d) * 2,
        "WP": rng.normal(0, 1.0, (cfg.n_ctx, d)) / math.sqrt(d) * 2,
    }
    for l in range(cfg.layers):
        for m in "QKV":
            p[f"W{m}{l}"] = rng.normal(0, 1.0, (H, d, dh)) / math.sqrt(d)
        p[f"WO{l}"] = rng.normal(0, 1.0, (H, dh, d)) / math.sqrt(H * dh)
    p["WU"] = rng.normal(0, 1.0, (d, cfg.vocab)) / math.sqrt(d)
    return p


def sample_batch(cfg: Config, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences and, per sequence, a mask of the positions whose next token is
    in the repeated half (the second copy, from its second token on): those an
    induction head can predict."""
    T = cfg.n_ctx
    toks = rng.integers(0, cfg.vocab, (n, T))
    rep = np.zeros((n, T), dtype=bool)
    for b in range(n):
        p = int(rng.integers(4, T // 2 + 1))
        r = int(rng.integers(0, T - 2 * p + 1))
        toks[b, r + p : r + 2 * p] = toks[b, r : r + p]
        # position q predicts token q + 1; q + 1 in the second copy, and q in it too
        rep[b, r + p : r + 2 * p - 1] = True
    return toks, rep


def _heads(W: np.ndarray) -> np.ndarray:
    """``W[h, d, f]`` as one matrix ``[d, h * f]`` (the heads side by side)."""
    return W.transpose(1, 0, 2).reshape(W.shape[1], -1)


def _split(y: np.ndarray, heads: int) -> np.ndarray:
    """``[b, n, h * f]`` -> ``[b, h, n, f]``."""
    b, n, _ = y.shape
    return y.reshape(b, n, heads, -1).transpose(0, 2, 1, 3)


def _merge(z: np.ndarray) -> np.ndarray:
    """``[b, h, n, f]`` -> ``[b, n, h * f]``."""
    b, h, n, f = z.shape
    return z.transpose(0, 2, 1, 3).reshape(b, n, h * f)


def forward(p: Params, cfg: Config, toks: np.ndarray) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """Logits ``[batch, pos, vocab]`` and each layer's cache for the backward pass."""
    T = toks.shape[1]
    x = p["WE"][toks] + p["WP"][:T]
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    caches = []
    scale = 1.0 / math.sqrt(cfg.d_head)
    for l in range(cfg.layers):
        H = cfg.heads
        q = _split(x @ _heads(p[f"WQ{l}"]), H)
        k = _split(x @ _heads(p[f"WK{l}"]), H)
        v = _split(x @ _heads(p[f"WV{l}"]), H)
        s = (q @ k.swapaxes(-1, -2)) * scale
        s = np.where(mask, -np.inf, s)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        z = a @ v
        caches.append({"x": x, "q": q, "k": k, "v": v, "a": a, "z": z})
        x = x + _merge(z) @ p[f"WO{l}"].reshape(-1, cfg.d_model)
    caches.append({"x": x})
    return x @ p["WU"], caches


def losses(logits: np.ndarray, toks: np.ndarray, rep: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Mean next-token loss over every position, over the repeated half, and the
    gradient of the first with respect to the logits."""
    lg = logits[:, :-1]
    target = toks[:, 1:]
    lg = lg - lg.max(-1, keepdims=True)
    logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, target[..., None], -1)[..., 0]
    m = rep[:, :-1]
    grad = np.exp(logp)
    np.put_along_axis(grad, target[..., None], np.take_along_axis(grad, target[..., None], -1) - 1.0, -1)
    grad /= nll.size
    full = np.zeros_like(logits)
    full[:, :-1] = grad
    return float(nll.mean()), float(nll[m].mean()), full


def backward(
    p: Params, cfg: Config, toks: np.ndarray, caches: list[dict[str, np.ndarray]], dlogits: np.ndarray
) -> Params:
    """The gradient of the loss with respect to every parameter (reverse mode, by hand)."""
    g: Params = {}
    xL = caches[-1]["x"]
    d = cfg.d_model
    g["WU"] = xL.reshape(-1, d).T @ dlogits.reshape(-1, cfg.vocab)
    dx = dlogits @ p["WU"].T
    scale = 1.0 / math.sqrt(cfg.d_head)
    for l in reversed(range(cfg.layers)):
        c = caches[l]
        WO = p[f"WO{l}"]
        g[f"WO{l}"] = (_merge(c["z"]).reshape(-1, WO.shape[0] * WO.shape[1]).T @ dx.reshape(-1, d)).reshape(WO.shape)
        dz = _split(dx @ WO.reshape(-1, d).T, cfg.heads)
        da = dz @ c["v"].swapaxes(-1, -2)
        dv = c["a"].swapaxes(-1, -2) @ dz
        ds = c["a"] * (da - (da * c["a"]).sum(-1, keepdims=True)) * scale
        dq = ds @ c["k"]
        dk = ds.swapaxes(-1, -2) @ c["q"]
        x = c["x"]
        dx_in = dx.copy()  # the residual path
        for m, d_ in (("Q", dq), ("K", dk), ("V", dv)):
            dc = _merge(d_)
            W = p[f"W{m}{l}"]
            gw = x.reshape(-1, d).T @ dc.reshape(-1, dc.shape[-1])
            g[f"W{m}{l}"] = gw.reshape(d, W.shape[0], -1).transpose(1, 0, 2)
            dx_in += dc @ _heads(W).T
        dx = dx_in
    T = toks.shape[1]
    g["WP"] = np.zeros_like(p["WP"])
    g["WP"][:T] = dx.sum(0)
    g["WE"] = np.zeros_like(p["WE"])
    np.add.at(g["WE"], toks.reshape(-1), dx.reshape(-1, dx.shape[-1]))
    return g


def detectors(p: Params, cfg: Config, toks: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Per head, mean attention to the previous token (layer 0) and to the token after
    the earlier copy (layer 1), on sequences repeated from position 0 with ``period``
    (as ``diagalg scores --detect`` measures them)."""
    _, caches = forward(p, cfg, toks)
    T = toks.shape[1]
    q1 = np.arange(1, T)
    q2 = np.arange(period, T)
    prev = caches[0]["a"][:, :, q1, q1 - 1].mean((0, 2))
    ind = caches[1]["a"][:, :, q2, q2 - period + 1].mean((0, 2))
    return prev, ind


def state_dict(p: Params, cfg: Config) -> dict[str, np.ndarray]:
    """The parameters in TransformerLens's names (float32), zero biases included."""
    f = np.float32
    sd = {
        "embed.W_E": p["WE"].astype(f),
        "pos_embed.W_pos": p["WP"].astype(f),
        "unembed.W_U": p["WU"].astype(f),
        "unembed.b_U": np.zeros(cfg.vocab, f),
    }
    for l in range(cfg.layers):
        for m in "QKVO":
            sd[f"blocks.{l}.attn.W_{m}"] = p[f"W{m}{l}"].astype(f)
        for m in "QKV":
            sd[f"blocks.{l}.attn.b_{m}"] = np.zeros((cfg.heads, cfg.d_head), f)
        sd[f"blocks.{l}.attn.b_O"] = np.zeros(cfg.d_model, f)
    return sd


def train(
    cfg: Config, max_steps: int, target: float, after: int, every: int = 100, log: bool = True
) -> tuple[Params, list[tuple[int, float, float]]]:
    """Adam on fresh batches; returns the parameters and (step, train loss, repeated-half
    eval loss) at each evaluation. Stops ``after`` steps past the first evaluation whose
    repeated-half loss is below ``target``, or at ``max_steps``."""
    rng = np.random.default_rng(cfg.seed)
    p = init_params(cfg, rng)
    eval_toks, eval_rep = sample_batch(cfg, np.random.default_rng(cfg.seed + 1000), 128)
    period = cfg.n_ctx // 2
    det_rng = np.random.default_rng(cfg.seed + 2000)
    det_toks = np.tile(np.array([det_rng.permutation(cfg.vocab)[:period] for _ in range(64)]), 2)
    m1 = {k: np.zeros_like(v) for k, v in p.items()}
    m2 = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, eps = 0.9, 0.99, 1e-8
    history: list[tuple[int, float, float]] = []
    stop_at: int | None = None
    start = time.perf_counter()
    for step in range(1, max_steps + 1):
        toks, rep = sample_batch(cfg, rng, cfg.batch)
        logits, caches = forward(p, cfg, toks)
        loss, _, dlogits = losses(logits, toks, rep)
        g = backward(p, cfg, toks, caches, dlogits)
        for k in p:
            m1[k] = b1 * m1[k] + (1 - b1) * g[k]
            m2[k] = b2 * m2[k] + (1 - b2) * g[k] ** 2
            p[k] -= cfg.lr * (m1[k] / (1 - b1**step)) / (np.sqrt(m2[k] / (1 - b2**step)) + eps)
        if step % every == 0 or step == max_steps:
            elog, _ = forward(p, cfg, eval_toks)
            eall, erep, _ = losses(elog, eval_toks, eval_rep)
            history.append((step, loss, erep))
            if log:
                prev, ind = detectors(p, cfg, det_toks, period)
                print(
                    f"step {step:5d}  train {loss:.4f}  eval: all {eall:.4f}  repeated half {erep:.4f}  "
                    f"prev-token max {prev.max():.3f} (L0H{prev.argmax()})  induction max {ind.max():.3f} "
                    f"(L1H{ind.argmax()})  {time.perf_counter() - start:.1f}s",
                    flush=True,
                )
            if stop_at is None and erep < target:
                stop_at = step + after
            if stop_at is not None and step >= stop_at:
                break
    return p, history


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=6000, help="at most this many steps")
    ap.add_argument(
        "--target", type=float, default=1.0, help="stop once the repeated-half eval loss is below this (nats)"
    )
    ap.add_argument("--after", type=int, default=1000, help="steps to train past the target")
    ap.add_argument("-o", "--output", default=str(OUT))
    ap.add_argument("--tokens", default=str(TOKENS), help="where to write the example's input")
    ns = ap.parse_args(argv)
    cfg = Config(seed=ns.seed)
    print(f"numpy {np.__version__}, hand-written backprop; {cfg}; log(vocab) = {math.log(cfg.vocab):.4f}")
    start = time.perf_counter()
    p, history = train(cfg, ns.steps, ns.target, ns.after)
    secs = time.perf_counter() - start
    step, loss, erep = history[-1]
    print(
        f"trained {step} steps in {secs:.1f}s: train loss {loss:.4f}, repeated-half eval loss {erep:.4f} "
        f"(log(vocab) = {math.log(cfg.vocab):.4f})"
    )
    if erep >= ns.target:
        print(f"induction did not form: repeated-half loss {erep:.4f} >= {ns.target}", file=sys.stderr)
        return 1
    np.savez(ns.output, **state_dict(p, cfg))
    rng = np.random.default_rng(cfg.seed + 1)
    first = rng.permutation(cfg.vocab)[: cfg.n_ctx // 2]
    tokens = np.tile(first, 2)
    Path(ns.tokens).write_text(
        f"# {len(first)} random tokens repeated twice (scripts/train_induction.py, seed {cfg.seed + 1})\n"
        + " ".join(str(int(t)) for t in tokens)
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {ns.output} ({Path(ns.output).stat().st_size} bytes) and {ns.tokens}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
