#!/usr/bin/env python3
"""Write a tiny random attention-only transformer to an .npz file (numpy only).

Arrays (``d`` = d_model, ``dh`` = d_head, layers numbered from 1)::

    WE[t, e]        (vocab, d)       token embedding
    WP[s, e]        (seq, d)         position embedding
    WQ{l}[h, a, f]  (heads, d, dh)   query:  q = x @ WQ{l}[h]
    WK{l}[h, a, f]  (heads, d, dh)   key:    k = x @ WK{l}[h]
    WV{l}[h, a, f]  (heads, d, dh)   value:  v = x @ WV{l}[h]
    WO{l}[h, f, e]  (heads, dh, d)   output: head writes (A @ v) @ WO{l}[h]
    WU[e, v]        (d, vocab)       unembedding

Entries are i.i.d. normal, float64: WE and WP with std 1, WQ/WK/WV/WU with
std 1/sqrt(d) and WO with std 1/sqrt(dh) (fan-in scaling), all drawn from
``numpy.random.default_rng(seed)``, so a seed gives the same file.  Saved
with ``np.savez`` (no pickled objects; loads with ``allow_pickle=False``)
to exactly the given path (no ``.npz`` is appended).

Example::

    python scripts/make_toy_model.py --layers 2 --heads 4 --d-model 16 --d-head 4 \\
        --vocab 20 --seq 8 --seed 0 -o toy_model.npz
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def make_toy_model(
    layers: int = 2, heads: int = 4, d_model: int = 16, d_head: int = 4, vocab: int = 20, seq: int = 8, seed: int = 0
) -> dict[str, np.ndarray]:
    """The arrays of a random attention-only transformer (see module docstring)."""
    rng = np.random.default_rng(seed)
    d, dh = d_model, d_head
    arrays: dict[str, np.ndarray] = {"WE": rng.standard_normal((vocab, d)), "WP": rng.standard_normal((seq, d))}
    for n in range(1, layers + 1):
        arrays[f"WQ{n}"] = rng.standard_normal((heads, d, dh)) / np.sqrt(d)
        arrays[f"WK{n}"] = rng.standard_normal((heads, d, dh)) / np.sqrt(d)
        arrays[f"WV{n}"] = rng.standard_normal((heads, d, dh)) / np.sqrt(d)
        arrays[f"WO{n}"] = rng.standard_normal((heads, dh, d)) / np.sqrt(dh)
    arrays["WU"] = rng.standard_normal((d, vocab)) / np.sqrt(d)
    return arrays


def _integer_at_least(low: int, what: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {v}")
        return v

    return parse


_positive = _integer_at_least(1, "positive")
_seed = _integer_at_least(0, "non-negative")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Write a tiny random attention-only transformer to .npz.")
    p.add_argument("--layers", type=_positive, default=2, help="number of attention layers (default 2)")
    p.add_argument("--heads", type=_positive, default=4, help="heads per layer (default 4)")
    p.add_argument("--d-model", type=_positive, default=16, help="residual width d (default 16)")
    p.add_argument("--d-head", type=_positive, default=4, help="head size dh (default 4)")
    p.add_argument("--vocab", type=_positive, default=20, help="vocabulary size (default 20)")
    p.add_argument("--seq", type=_positive, default=8, help="context length for WP (default 8)")
    p.add_argument("--seed", type=_seed, default=0, help="RNG seed (default 0)")
    p.add_argument("-o", "--output", default="toy_model.npz", help="output path (default toy_model.npz)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), write the file, print a summary; returns 0."""
    args = build_parser().parse_args(argv)
    arrays = make_toy_model(args.layers, args.heads, args.d_model, args.d_head, args.vocab, args.seq, args.seed)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    print(
        f"wrote {out}: {args.layers} layers x {args.heads} heads, d_model={args.d_model}, "
        f"d_head={args.d_head}, vocab={args.vocab}, seq={args.seq}, seed={args.seed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
