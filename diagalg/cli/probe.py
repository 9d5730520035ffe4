"""The `probe` subcommand: the common attribution metrics for one token input, as
arrays in an ``.npz`` that a ``weights`` statement binds.

With ``diagalg probe`` a user ranks an expansion by a metric (``expand S2[q, k]
over h top 8 by induction[q, k]``) without writing numpy: the input is a token
file or random tokens repeated (the input that reveals induction heads), and the
file holds, under names the user may change (``--arrays``):

* ``tok[s, t]``: the input as one-hot rows (s: position, t: token);
* ``induction[q, k]``: the induction probe on attention scores
  (:func:`diagalg.metrics.induction_probe`), when the input repeats;
* ``previous[q, k]``: the previous-token probe (:func:`diagalg.metrics.previous_token_probe`);
* ``next_token[q, v]``: the correct next-token logit direction
  (:func:`diagalg.metrics.next_token_direction`).

Every array must match a declared tensor when the file is bound, so ``--arrays``
also chooses which arrays are written. Errors are messages, never tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import DiagalgError

if TYPE_CHECKING:  # numpy is imported when the command runs: `diagalg --help` stays light
    import numpy as np

#: The arrays ``probe`` can write, in the order it writes them, with what each is.
ARRAYS = {
    "tok": ("[s, t]", "the input, one-hot rows"),
    "induction": ("[q, k]", "induction probe: 1 at k = q - {back} on the repeat, minus the row mean"),
    "previous": ("[q, k]", "previous-token probe: 1 at k = q - 1, minus the row mean"),
    "next_token": ("[q, v]", "correct next-token logit direction: 1 at v = t[q + 1]"),
}


def read_tokens(path: str) -> np.ndarray:
    """Token ids from a text file (integers separated by spaces, commas or newlines;
    ``#`` starts a comment) or a ``.npy`` array of integers."""
    import re
    from pathlib import Path

    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise DiagalgError(f"{path}: no such file")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DiagalgError(f"{path}: not a readable .npy file ({e})") from None
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise DiagalgError(f"{path}: expected a 1-d array of integer token ids, got {arr.dtype} {arr.shape}")
        return arr.astype(np.int64)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DiagalgError(f"{path}: cannot read: {e}") from None
    ids: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        for word in re.split(r"[\s,]+", line.split("#")[0].strip()):
            if not word:
                continue
            if not word.isdigit():
                raise DiagalgError(f"{path}:{n}: '{word}' is not a token id (a whole number from 0)")
            ids.append(int(word))
    return np.array(ids, dtype=np.int64)


def parse_arrays(text: str) -> dict[str, str]:
    """``tok,induction=P2`` -> {'tok': 'tok', 'induction': 'P2'}: which arrays to write,
    and the name each is written under (the tensor it binds)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        kind, eq, name = (x.strip() for x in part.partition("="))
        if kind not in ARRAYS:
            raise argparse.ArgumentTypeError(f"unknown array {kind!r} (known: {', '.join(ARRAYS)})")
        name = name if eq else kind
        if not name.isidentifier():
            raise argparse.ArgumentTypeError(f"{name!r} is not a tensor name")
        out[kind] = name
    return out


def cmd_probe(ns: argparse.Namespace) -> int:
    import numpy as np

    from ..metrics import induction_probe, next_token_direction, previous_token_probe, repeated_tokens, token_period

    if ns.tokens is not None:
        if ns.repeats != 2 or ns.seed != 0:
            raise DiagalgError("--tokens gives the input: --seed and --repeats are for random tokens")
        tokens = read_tokens(ns.tokens)
        if len(tokens) < 2:
            raise DiagalgError(f"{ns.tokens}: needs at least 2 tokens, found {len(tokens)}")
        vocab = ns.vocab if ns.vocab is not None else int(tokens.max()) + 1
        if int(tokens.max()) >= vocab:
            raise DiagalgError(
                f"{ns.tokens}: token {int(tokens.max())} is outside --vocab {vocab} (ids 0 to {vocab - 1})"
            )
        period = ns.period if ns.period is not None else token_period(tokens)
        source = f"{len(tokens)} tokens from {ns.tokens}"
    else:
        if ns.period is None or ns.vocab is None:
            raise DiagalgError("probe needs --tokens FILE, or --period P and --vocab V for random tokens repeated")
        vocab, period = ns.vocab, ns.period
        if period < 1 or vocab < 1 or ns.repeats < 2:
            raise DiagalgError("--period and --vocab must be at least 1, --repeats at least 2")
        if ns.seq is not None and ns.repeats != 2:
            raise DiagalgError("give --seq or --repeats, not both")
        if ns.seq is not None and ns.seq <= period:
            raise DiagalgError(f"--seq {ns.seq}: a repeat of {period} tokens needs more than {period} positions")
        copies = ns.repeats if ns.seq is None else -(-ns.seq // period)
        tokens = repeated_tokens(vocab, period, copies, seed=ns.seed).argmax(1)[: ns.seq]
        how = f"repeated {copies} times" if ns.seq is None else f"repeated to {ns.seq} positions"
        source = f"{period} random tokens {how} (seed {ns.seed})"
    seq = len(tokens)
    if ns.seq is not None and ns.seq != seq:
        raise DiagalgError(f"--seq {ns.seq}: {ns.tokens} has {seq} tokens")
    if period is not None and not 1 <= period < seq:
        raise DiagalgError(f"--period {period}: must be between 1 and {seq - 1} for {seq} positions")

    wanted = dict(ns.arrays) if ns.arrays else {k: k for k in ARRAYS}
    notes: list[str] = []
    if "induction" in wanted and period is None:
        if ns.arrays:
            raise DiagalgError(
                f"{ns.tokens}: the tokens do not repeat, so there is no induction probe; "
                "give --period P (the distance back to the earlier copy)"
            )
        del wanted["induction"]
        notes.append("no induction probe: the tokens do not repeat (give --period P to set one)")
    names = list(wanted.values())
    if len(set(names)) != len(names):
        raise DiagalgError(f"--arrays: two arrays would be written under one name ({', '.join(names)})")
    made = {
        "tok": np.eye(vocab)[tokens],
        "previous": previous_token_probe(seq),
        "next_token": next_token_direction(tokens, vocab),
    }
    if period is not None and "induction" in wanted:
        made["induction"] = induction_probe(seq, period)
    out = {wanted[k]: made[k] for k in ARRAYS if k in wanted}
    try:
        np.savez(ns.output, **out)
    except OSError as e:
        raise DiagalgError(f"{ns.output}: cannot write: {e.strerror}") from None
    shown = ns.output if ns.output.endswith(".npz") else ns.output + ".npz"  # as np.savez names it
    print(f"{shown}: {source}: {' '.join(str(int(t)) for t in tokens)}")
    width = max(len(wanted[k]) + len(ARRAYS[k][0]) for k in wanted)
    for k in ARRAYS:
        if k in wanted:
            legs, what = ARRAYS[k]
            print(
                f"    {(wanted[k] + legs).ljust(width)}  {str(made[k].shape):8}  {what.format(back=(period or 1) - 1)}"
            )
    for n in notes:
        print(f"    {n}")
    sys.stdout.flush()
    return 0


def add_probe_parser(sub: argparse._SubParsersAction) -> None:
    """Register `probe` on the CLI's subparsers."""
    p = sub.add_parser(
        "probe",
        help="write attribution metrics for a token input (induction and previous-token "
        "probes, next-token direction) to an .npz for `weights`",
    )
    p.add_argument("output", help="the .npz file to write")
    p.add_argument(
        "--tokens", metavar="FILE", help="the input: token ids in a text file (spaces, commas, newlines) or a .npy"
    )
    p.add_argument("--vocab", type=int, metavar="V", help="vocabulary size (default with --tokens: largest id + 1)")
    p.add_argument(
        "--period",
        type=int,
        metavar="P",
        help="random input: P random tokens, repeated; with --tokens: the distance back to the "
        "earlier copy (default: the tokens' smallest period)",
    )
    p.add_argument("--repeats", type=int, default=2, help="random input: how many copies (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random input: the seed (default 0)")
    p.add_argument(
        "--seq",
        type=int,
        metavar="N",
        help="positions (the model's context): random input repeated to N positions; with "
        "--tokens, checked against the file",
    )
    p.add_argument(
        "--arrays",
        type=parse_arrays,
        metavar="KIND[=NAME],...",
        help=f"which arrays to write and their names (kinds: {', '.join(ARRAYS)}; default all)",
    )
    p.set_defaults(func=cmd_probe)
