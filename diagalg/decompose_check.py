"""Checking a `decompose` statement on random draws.

Every draw computes the factors from the sampled (or bound) target. An exact
decomposition must reassemble the target to rounding; an approximation reports its
relative error and is checked against the guarantee of its kind:

- truncated SVD: error² equals the sum of the discarded squared singular values
  (Eckart–Young: no rank-q matrix does better, and the truncation attains it);
- truncated HOSVD (tucker ``~``): max over modes of the discarded mass ≤ error² ≤ its sum;
- truncated TT-SVD: error² ≤ the sum of the discarded mass of its SVD steps;
- CP: error² ≥ the best rank-r error of every unfolding (a rank-r CP cannot beat it).

Every factor is also checked against the properties it is declared with (isometry,
unitary, posdef), so nothing the proofs use is taken on trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .numeric.check import collect, draw_instance, fixed_inputs
from .numeric.errors import NumericError
from .numeric.evaluate import evaluate
from .numeric.sample import DEFAULT_MEMORY_CAP
from .numeric.sizes import sample_sizes
from .program import DecomposeStmt, Program

EXACT_RTOL = 1e-9
GUARANTEE_RTOL = 1e-9

_GUARANTEE = {
    "svd": "Eckart–Young: error² = Σ discarded σ²",
    "tucker": "HOSVD: max discarded ≤ error² ≤ Σ discarded",
    "tt": "TT-SVD: error² ≤ Σ discarded",
    "cp": "error² ≥ best rank-r error of every unfolding",
}


@dataclass
class DecomposeCheck:
    status: str  # "ok", "fail", "inconclusive", "internal"
    detail: str
    lines: list[str] = field(default_factory=list)
    max_error: float | None = None


def _structure_words(program: Program, names: tuple[str, ...]) -> str:
    groups: dict[str, list[str]] = {}
    for n in names:
        s = program.tensors[n].structure
        if s:
            groups.setdefault(s, []).append(n)
    plural = {"isometry": "isometries", "unitary": "unitary", "posdef": "positive definite"}
    return "; ".join(
        f"{', '.join(v)} {plural.get(k, k) if len(v) > 1 else ('an ' + k if k == 'isometry' else k)}"
        for k, v in groups.items()
    )


def check_decomposition(
    s: DecomposeStmt,
    program: Program,
    seed: int = 0,
    memory_cap: int = DEFAULT_MEMORY_CAP,
    dims: Mapping[str, int] | None = None,
    size_draws: int = 2,
    tensor_draws: int = 2,
) -> DecomposeCheck:
    """Run the statement's numeric checks (see the module docstring)."""
    from .weights import property_violation

    dec = s.decomposition
    env = program.env
    labels = s.lhs.labels
    decls, funcs, syms = collect([s.lhs, s.rhs])
    rng = np.random.default_rng(seed)
    exact_sizes, bound = fixed_inputs(env, decls, program.binding, dims)
    worst_rel = 0.0
    worst_guarantee = 0.0
    lines: list[str] = []
    avoid: list[dict] = []
    draws = 0
    for _ in range(size_draws):
        try:
            draw = sample_sizes(syms, env, decls.values(), rng, avoid, exact_sizes)
        except NumericError as e:
            return DecomposeCheck("inconclusive", f"inconclusive: {e}")
        avoid.append(draw.sizes)
        for _ in range(tensor_draws):
            try:
                inst = draw_instance(decls, funcs, draw, rng, memory_cap, bound)
                left = evaluate(s.lhs, inst, labels).array
                right = evaluate(s.rhs, inst, labels).array
            except NumericError as e:
                return DecomposeCheck("inconclusive", f"inconclusive: {e}")
            draws += 1
            for name in dec.factor_names:
                why = property_violation(program.tensors[name], inst.arrays[name])
                if why:
                    return DecomposeCheck("internal", f"internal error: the computed factor {name} {why}")
            norm2 = float(np.sum(np.abs(left) ** 2))
            err2 = float(np.sum(np.abs(left - right) ** 2))
            rel = float(np.sqrt(err2 / norm2)) if norm2 > 0 else float(np.sqrt(err2))
            worst_rel = max(worst_rel, rel)
            report = inst.factor_reports.get(dec.rule)
            sizes = ", ".join(f"{k}={v}" for k, v in sorted(draw.by_name().items()))
            if dec.exact:
                if rel > EXACT_RTOL:
                    return DecomposeCheck(
                        "internal",
                        f"internal error: the factors do not reassemble "
                        f"{dec.target.name} (relative error {rel:.2g}; sizes {sizes})",
                    )
                continue
            assert report is not None  # compute_factors keeps the report of every stated decomposition
            disc = report.discarded
            scale = max(norm2, 1e-300)
            if dec.kind == "svd":
                gap = abs(err2 - disc[0]) / scale
                ok = gap <= GUARANTEE_RTOL
            elif dec.kind == "tucker":
                gap = max(0.0, report.lower_bound - err2, err2 - sum(disc)) / scale
                ok = gap <= GUARANTEE_RTOL
            elif dec.kind == "tt":
                gap = max(0.0, err2 - sum(disc)) / scale
                ok = gap <= GUARANTEE_RTOL
            else:  # cp
                gap = max(0.0, report.lower_bound - err2) / scale
                ok = gap <= GUARANTEE_RTOL
            worst_guarantee = max(worst_guarantee, gap)
            extra = f", {report.sweeps} ALS sweeps" if dec.kind == "cp" else ""
            lines.append(
                f"sizes {sizes}: relative error {rel:.3g}; discarded {', '.join(f'{d:.3g}' for d in disc)}"
                if disc
                else f"sizes {sizes}: relative error {rel:.3g}; lower bound "
                f"{np.sqrt(report.lower_bound / scale):.3g}{extra}"
            )
            if not ok:
                return DecomposeCheck(
                    "internal",
                    f"internal error: {_GUARANTEE[dec.kind]} does not hold "
                    f"(gap {gap:.2g} of ‖{dec.target.name}‖²; sizes {sizes})",
                    lines,
                )
    props = _structure_words(program, dec.factor_names)
    props = f"; {props} (checked)" if props else ""
    if dec.exact:
        return DecomposeCheck("ok", f"[exact: reassembles to {worst_rel:.1g}{props}]", lines, worst_rel)
    return DecomposeCheck(
        "ok",
        f"[approximation: relative error up to {worst_rel:.3g} over {draws} draws; "
        f"{_GUARANTEE[dec.kind]} to {worst_guarantee:.1g}{props}]",
        lines,
        worst_rel,
    )
