"""The `simplify`, `scores`, `export` and `repl` subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import DiagalgError
from .args import parse_dims


def cmd_simplify(ns: argparse.Namespace) -> int:
    from ..engine import simplify, unfold
    from ..lower import load_program, parse_expression
    from ..printing import expr_text
    from ..rules import DEFAULT_RULES, implemented_rules

    if ns.expr is not None:
        if ns.decl is None and ns.file is not None:
            ns.decl = ns.file
        program = load_program(ns.decl) if ns.decl else __import__("diagalg").parse("")
        targets = [(ns.expr, parse_expression(program, ns.expr))]
    else:
        if ns.file is None:
            raise DiagalgError("simplify needs a FILE, or -e EXPR (with --decl FILE for its declarations)")
        program = load_program(ns.file)
        names = ns.names or list(program.lets)
        missing = [n for n in names if n not in program.lets]
        if missing:
            raise DiagalgError(
                f"{ns.file}: no let named {', '.join(missing)} (lets: {', '.join(program.lets) or 'none'})"
            )
        targets = [(n, program.lets[n].expr) for n in names]
        if not ns.names:
            from ..program import ShowStmt

            targets += [(s.source.text, s.expr) for s in program.statements if isinstance(s, ShowStmt)]
    rules = tuple(r.strip() for r in ns.rules.split(",")) if ns.rules else DEFAULT_RULES
    unknown = [r for r in rules if r not in implemented_rules()]
    if unknown:
        raise DiagalgError(f"unknown rule {unknown[0]!r} (known: {', '.join(implemented_rules())})")
    subs = program.env.concrete_subs()
    for name, expr in targets:
        start = unfold(expr) if ns.unfold else expr
        d = simplify(start, rules=rules, subs=subs, checked=not ns.unchecked, env=program.env, seed=ns.seed)
        print(f"{name} = {expr_text(d.result)}")
        if ns.trace:
            from ..printing import derivation_lines

            print("\n".join(derivation_lines(d)))
        sys.stdout.flush()
    return 0


def cmd_scores(ns: argparse.Namespace) -> int:
    from ..checkpoints import from_transformerlens, is_transformerlens, load_state_dict
    from ..scores import composition_scores, format_table, layers_from_arrays, random_baseline
    from ..weights import WeightsError

    notes: list[str] = []
    try:
        arrays = load_state_dict(ns.weights)
        if is_transformerlens(arrays):
            tl = arrays
            arrays = from_transformerlens(tl, ns.weights, fold_ln=ns.fold_ln, center_unembed=False)
            notes += _tl_notes(tl, arrays, ns.fold_ln)
        elif ns.fold_ln:
            raise WeightsError(
                f"{ns.weights}: --fold-ln needs a TransformerLens state dict (embed.W_E, blocks.0.attn.W_Q, ...)"
            )
        layers = layers_from_arrays(arrays)
    except (WeightsError, ValueError) as e:
        raise DiagalgError(f"{ns.weights}: {e}" if not str(e).startswith(ns.weights) else str(e)) from None
    if len(layers) < 2:
        raise DiagalgError(f"{ns.weights}: composition needs at least two layers, found {len(layers)}")
    from ..score_views import format_detectors, format_ranked, head_detectors, head_namer, scores_json

    scores = composition_scores(layers)
    first = layers[0]
    baseline = random_baseline(first.d_model, first.d_head, first.n_heads, seed=ns.seed, samples=ns.samples)
    name = head_namer(layers, ns.numbering)
    digits = None if ns.full else ns.digits
    if ns.detect is not None:
        if any(k.startswith(("ln1w", "lnfw", "Win")) for k in arrays):
            raise DiagalgError(
                f"{ns.weights}: --detect runs attention-only models without layer norm; this "
                "checkpoint has "
                + ("MLPs" if any(k.startswith("Win") for k in arrays) else "layer norm")
                + " (bind it to a standard model "
                "and check its attention patterns there)"
            )
        if "WE" not in arrays or "WP" not in arrays:
            raise DiagalgError(
                f"{ns.weights}: --detect runs the model: it needs WE[vocab, d_model] and WP[seq, d_model]"
            )
        if not 1 <= ns.detect or 2 * ns.detect > arrays["WP"].shape[0]:
            raise DiagalgError(
                f"--detect {ns.detect}: two copies need 2 x {ns.detect} positions, but WP has {arrays['WP'].shape[0]}"
            )
        b_out = {L.index: arrays[f"bO{L.index}"] for L in layers if f"bO{L.index}" in arrays}
        rows = head_detectors(layers, arrays["WE"], arrays["WP"], ns.detect, seed=ns.seed, b_out=b_out)
        if ns.json:
            import json

            for r in rows:
                print(
                    json.dumps(
                        {
                            "head": name(int(r["layer"]), int(r["head"])),
                            **{k: r[k] for k in ("previous", "induction", "duplicate")},
                        }
                    )
                )
        else:
            print(f"head detectors: mean attention on {ns.detect} random tokens repeated twice (seed {ns.seed})")
            sys.stdout.write(format_detectors(rows, name, digits))
        return 0
    if ns.values is not None:
        _write_score_values(ns.values, scores, layers, ns.numbering)
    if ns.json:
        sys.stdout.write(scores_json(scores, baseline, name))
        return 0
    elif ns.ranked or ns.above:
        sys.stdout.write(format_ranked(scores, baseline, name, digits, only_above=ns.above, limit=ns.top))
    else:
        print(format_table(scores, baseline, name, digits))
    for note in notes:
        print(note)
    return 0


def _write_score_values(path: str, scores: Any, layers: Any, numbering: str) -> None:
    """``--values FILE.svg``: the composition scores as heatmaps, one per kind and pair of
    layers (rows the earlier layer's heads, columns the later one's), written before the
    table is printed."""
    from ..render.values import heatmap_panel, standalone
    from ..score_views import score_matrices

    if not path.lower().endswith(".svg"):
        raise DiagalgError(f"{path}: --values writes an SVG file (.svg)")
    position = {L.index: k for k, L in enumerate(sorted(layers, key=lambda L: L.index))}

    def layer_name(index: int) -> str:
        return f"L{index}" if numbering == "file" else f"L{position[index]}"

    panels = [
        heatmap_panel(title, rows, cols, m, "value") for title, rows, cols, m in score_matrices(scores, layer_name)
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write(standalone(panels, source="composition scores (the paper's formula, Frobenius norms), 0 to 1"))
    print(f"wrote {path}")


def _tl_notes(tl: dict[str, Any], arrays: dict[str, Any], folded: bool) -> list[str]:
    """What the scores of a TransformerLens checkpoint include, said (nothing left out silently)."""
    import numpy as np

    notes = []
    if any(np.any(v) for k, v in arrays.items() if k[:2] in ("bQ", "bK", "bV")):
        notes.append(
            "biases: b_Q, b_K, b_V are in the scores (affine maps, homogeneous coordinates); "
            "b_O is a constant each layer writes, no head's, and is in no score"
        )
    if "ln_final.w" in tl:
        notes.append(
            "layer norm: folded into the weights (--fold-ln), its normalisation not in the scores"
            if folded
            else "layer norm: not folded, the scores are of the raw weights (--fold-ln folds ln.w and ln.b in "
            "as TransformerLens does)"
        )
    if any(".mlp." in k for k in tl):
        notes.append("MLPs: not in the scores (they compose heads through the residual stream directly)")
    return notes


def cmd_export(ns: argparse.Namespace) -> int:
    """Print (or write with -o) a Python function computing a let or tensor of FILE."""
    from ..export import export_program
    from ..lower import load_program

    program = load_program(ns.file)
    sizes = dict(ns.sizes or {})
    unknown = sorted(set(sizes) - set(program.env.symbols))
    if unknown:
        raise DiagalgError(f"--sizes: {', '.join(unknown)} is not a dimension of {ns.file}")
    try:
        exported = export_program(program, ns.name, ns.to, sizes, check=not ns.unchecked, simplify=ns.simplify)
    except KeyError:
        lets = ", ".join(program.lets) or "none"
        raise DiagalgError(f"{ns.file}: no let or tensor named {ns.name} (lets: {lets})") from None
    if ns.output:
        try:
            from pathlib import Path

            Path(ns.output).write_text(exported.code, encoding="utf-8")
        except OSError as e:
            raise DiagalgError(f"{ns.output}: cannot write: {e.strerror}") from None
    else:
        sys.stdout.write(exported.code)
    if exported.check.startswith("CHECK FAILED"):
        print(f"diagalg: internal error: the exported code {exported.check[len('CHECK FAILED ') :]}", file=sys.stderr)
        return 3
    return 0


def cmd_repl(ns: argparse.Namespace) -> int:
    """The interactive session (see :mod:`diagalg.repl`)."""
    from ..repl import run_repl

    return run_repl(ns.file, seed=ns.seed)


def add_tool_commands(sub: argparse._SubParsersAction) -> None:
    """Register `simplify`, `scores`, `export` and `repl` on the CLI's subparsers."""
    s = sub.add_parser("simplify", help="simplify the lets (or named ones) of a file, or an expression")
    s.add_argument("file", nargs="?", help=".diag file")
    s.add_argument("names", nargs="*", help="lets to simplify (default: every let and show)")
    s.add_argument("-e", "--expr", help="simplify this expression instead")
    s.add_argument("--decl", help="file whose declarations -e uses")
    s.add_argument("--rules", help="comma-separated rules (default: the default rules)")
    s.add_argument("--unfold", action="store_true", help="unfold let definitions first")
    s.add_argument("--trace", action="store_true", help="print the derivation step by step")
    s.add_argument("--seed", type=int, default=0, help="seed of the rewrite checks")
    s.add_argument("--unchecked", action="store_true", help="do not verify each rewrite numerically")
    s.set_defaults(func=cmd_simplify)
    k = sub.add_parser("scores", help="Q/K/V composition scores between the attention heads of a weights file")
    k.add_argument(
        "weights",
        help=".npz with WQ1, WK1, WV1, WO1, WQ2, ... ([heads, d_model, d_head]; WO [h, dh, d]), "
        "or a TransformerLens state dict (.safetensors or .npz)",
    )
    k.add_argument(
        "--fold-ln",
        action="store_true",
        help="TransformerLens checkpoint: fold layer norm into the weights first (fold_layer_norm)",
    )
    k.add_argument("--seed", type=int, default=0, help="seed of the random-weight baseline")
    k.add_argument("--samples", type=int, default=16, help="random layers drawn for the baseline")
    k.add_argument(
        "--json", action="store_true", help="one JSON object per pair and kind: kind, from, to, score, baseline, above"
    )
    k.add_argument(
        "--ranked", action="store_true", help="every score largest first, those above the random baseline marked *"
    )
    k.add_argument(
        "--above", action="store_true", help="only the scores above the baseline (random mean + 2 std), ranked"
    )
    k.add_argument("--top", type=int, metavar="N", help="with --ranked/--above: the first N lines")
    k.add_argument("--digits", type=int, default=4, help="decimals printed (default 4)")
    k.add_argument(
        "--values",
        metavar="FILE.svg",
        help="also draw the scores as heatmaps, one per kind and pair of layers, to FILE.svg",
    )
    k.add_argument("--full", action="store_true", help="full precision (shortest exact float repr)")
    k.add_argument(
        "--numbering",
        choices=("tl", "file"),
        default="tl",
        help="tl (default): TransformerLens names, layers from 0 (L0H3); "
        "file: the file's layer numbers (L1.H3, as before)",
    )
    k.add_argument(
        "--detect",
        type=int,
        metavar="PERIOD",
        help="instead: head detectors (previous-token, induction, duplicate-token scores) "
        "on PERIOD random tokens repeated twice (needs WE and WP)",
    )
    k.set_defaults(func=cmd_scores)
    x = sub.add_parser("export", help="print a Python function computing a let (numpy, torch or einsum)")
    x.add_argument("file", help=".diag file")
    x.add_argument("name", help="the let (or tensor) to export")
    x.add_argument(
        "--to",
        choices=("numpy", "torch", "einsum"),
        default="numpy",
        help="numpy (default): opt_einsum on numpy arrays; torch: on torch tensors; "
        "einsum: the equations, operands and paths as data",
    )
    x.add_argument(
        "--sizes",
        type=parse_dims,
        metavar="NAME=SIZE,...",
        help="sizes the contraction paths are optimised for (default: concrete "
        "dimensions as declared, symbolic ones 64)",
    )
    x.add_argument(
        "--unchecked",
        action="store_true",
        help="do not run the code once on random tensors against diagalg's evaluation",
    )
    x.add_argument(
        "--simplify",
        action="store_true",
        help="export the simplified form (default rules, lets unfolded), with the FLOPs of both "
        "forms and the declared properties it relies on, checked at run time",
    )
    x.add_argument("-o", "--output", metavar="FILE", help="write the code to FILE instead of printing it")
    x.set_defaults(func=cmd_export)
    r = sub.add_parser("repl", help="interactive session: type statements, see results")
    r.add_argument("file", nargs="?", help=".diag file to load first")
    r.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    r.set_defaults(func=cmd_repl)
