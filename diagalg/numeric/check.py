"""Numeric comparison of two expressions on random instances (section 5 of the spec).

Both sides are evaluated on the same instances: at least two size draws (made
different where possible) times at least two tensor draws, all from
``numpy.random.default_rng(seed)``. On one draw, with S the larger of 1e-3 and
the largest term magnitude of either side, the sides are equal when
``max|L − R| <= 1e-9·S`` and different (refuting ``==``, or establishing
``!=``) as stated in :func:`compare`. A derivative taken by finite differences
loosens the tolerances (1e-5·S equal; 1e-4·S different for ``!=``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping, Sequence, cast

import numpy as np
import sympy

from ..collector import in_batches
from ..dims import DimEnv
from ..model import Expr, FuncDecl, TensorDecl
from .decls import collect
from .errors import NumericError, SamplingError
from .evaluate import Evaluation, evaluate
from .exact import compare_exact, exact_obstacle
from .freivalds import project, too_large
from .instance import Instance
from .needs import SizeNeeds, size_needs
from .result import NumericResult
from .sample import DEFAULT_MEMORY_CAP, SizeDraw, sample_func, sample_sizes, sample_tensor
from .sizes import MAX_KEPT_CONCRETE

if TYPE_CHECKING:
    from ..decompose import Decomposition
    from ..weights import Binding

EQUAL_RTOL = 1e-9
EQUAL_RTOL_APPROX = 1e-5
DIFFERENT_RTOL = 1e-6
DIFFERENT_RTOL_APPROX = 1e-4
SCALE_FLOOR = 1e-3

#: The draw above every structural constant keeps each input tensor within this share of the
#: memory cap (an 8-leg antisymmetric tensor at n = 10 is 800 MB); else it just reaches them.
LARGE_DRAW_SHARE = 8

#: A difference found with stand-ins is checked again at the declared sizes when the
#: statement counts a dimension as a number, or when its tensors there hold at most this
#: many entries together (else only index ranges changed, and the difference stands).
CONFIRM_ENTRIES = 1_000_000

#: The ways a check can be decided: "auto" (exact where the statement allows it), or one forced.
PATHS = ("auto", "exact", "float")


@dataclass(frozen=True)
class Verdict:
    """One draw judged: ``error`` max|L − R| (finite entries), ``scale`` S, and
    ``problem`` (non-empty: why the draw is inconclusive)."""

    error: float
    scale: float
    approximate: bool
    problem: str = ""


def draw_instance(
    decls: Mapping[str, TensorDecl],
    funcs: Mapping[str, FuncDecl],
    draw: SizeDraw,
    rng: np.random.Generator,
    memory_cap: int = DEFAULT_MEMORY_CAP,
    bound: Mapping[str, np.ndarray] | None = None,
) -> Instance:
    """A tensor draw at the sizes ``draw``: every tensor and function sampled, in name order
    (a tensor in ``bound`` takes its bound array instead)."""
    bound = bound or {}
    arrays = {
        name: bound[name] if name in bound else sample_tensor(decls[name], draw.sizes, rng, memory_cap)
        for name in sorted(decls)
        if decls[name].origin is None
    }
    params = {name: sample_func(funcs[name], draw.sizes, rng) for name in sorted(funcs)}
    inst = Instance(dict(draw.sizes), arrays, params, memory_cap)
    if len(arrays) < len(decls):
        compute_factors([d for d in decls.values() if d.origin is not None], inst)
    return inst


def compute_factors(factors: Sequence[TensorDecl], inst: Instance) -> None:
    """Fill ``inst.arrays`` with the factors of stated decompositions, each computed once
    from its target's array (targets that are factors themselves first); the reports
    are kept in ``inst.factor_reports`` under the decomposition's rule name."""
    from .factorise import factorise

    pending = {d.name: d for d in factors}
    while pending:
        progressed = False
        for name, decl in sorted(pending.items()):
            dec = cast("Decomposition", decl.origin)  # the factors of stated decompositions have one
            if name in inst.arrays or dec.target.name not in inst.arrays:
                continue
            arrays, report = factorise(dec, inst.arrays[dec.target.name], inst.sizes)
            inst.arrays.update(arrays)
            inst.factor_reports[dec.rule] = report
            progressed = True
        pending = {n: d for n, d in pending.items() if n not in inst.arrays}
        if pending and not progressed:
            raise SamplingError("cannot compute the factors of " + ", ".join(sorted(pending)))


def judge(lhs: Evaluation, rhs: Evaluation) -> Verdict:
    """Compare two evaluations with the same labels (see the module docstring)."""
    approx = lhs.approximate or rhs.approximate
    scale = max(SCALE_FLOOR, lhs.scale, rhs.scale)
    a, b = lhs.array, rhs.array
    if a.shape != b.shape:
        raise ValueError(f"the two sides have shapes {a.shape} and {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        return Verdict(0.0, scale, approx, "NaN in the evaluation")
    finite = np.isfinite(a) & np.isfinite(b)
    if not finite.all():
        if (a[~finite] != b[~finite]).any():
            return Verdict(0.0, scale, approx, "infinities that differ")
    err = float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0
    return Verdict(err, scale, approx)


@in_batches
def compare(
    lhs: Expr,
    rhs: Expr,
    env: DimEnv,
    *,
    seed: int = 0,
    size_draws: int = 2,
    tensor_draws: int = 2,
    memory_cap: int = DEFAULT_MEMORY_CAP,
    expect_equal: bool = True,
    binding: Binding | None = None,
    dims: Mapping[str, int] | None = None,
    path: str = "auto",
    also: Sequence[Expr] = (),
) -> NumericResult:
    """Evaluate both sides (same free labels, aligned by name) on
    ``size_draws × tensor_draws`` random instances.

    With ``expect_equal`` (``==``): "different" as soon as a draw has
    ``max|L − R| > 1e-9·S``; "equal" when every draw is equal; otherwise
    "inconclusive". Without (``!=``): "different" when a draw has
    ``max|L − R| > 1e-6·S``; "equal" when every draw is within 1e-9·S;
    otherwise "inconclusive". A draw with NaN or differing infinities, a
    sampling failure or a memory-cap refusal is inconclusive and named in
    ``reason``. Raises ValueError when the sides' free labels differ.

    Sizes come from the statement (:mod:`.needs`): every draw lies above each
    ``shift`` offset and ``onehot`` value, the last draw is larger than every
    structural constant (an antisymmetric group's leg count, a split factor), and a
    concrete dimension the statement counts as a number (a closed loop, a
    coefficient; also in ``also``, e.g. the simplified sides of a proof) is used at
    its real size instead of a stand-in; a difference found with stand-ins stands
    only as :func:`_confirmed` says. Sides whose output would crowd the memory cap are
    compared after contracting their free legs with random vectors
    (:mod:`.freivalds`). With ``path`` "auto" a statement that is
    polynomial in the entries (:func:`.exact.exact_obstacle`) is decided exactly
    over prime fields and the float draws are not run; "exact" insists (an
    obstacle makes the result inconclusive), "float" never uses it.

    ``binding`` (a :class:`diagalg.weights.Binding`): its tensors take their bound
    arrays and its dimensions their real sizes in every draw (the other tensors
    are still random). ``dims`` sets the size used for named dimensions (the
    ``--dims`` stand-ins for large concrete ones).
    """
    if set(lhs.labels) != set(rhs.labels):
        raise ValueError(f"the sides have different free labels: {sorted(lhs.labels)} and {sorted(rhs.labels)}")
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r} (one of {', '.join(PATHS)})")
    decls, funcs, syms = collect([lhs, rhs])
    rng = np.random.default_rng(seed)
    exact, bound_arrays = fixed_inputs(env, decls, binding, dims)
    large_dims = {sym: v for sym, v in env.concrete.items() if v > MAX_KEPT_CONCRETE}
    needs = size_needs([lhs, rhs, *also], decls, large_dims)
    numbers = {s: env.concrete[s] for s in needs.numbers if s in env.concrete and s not in exact}
    exact.update(numbers)  # a dimension counted as a number is checked at its real size
    if bound_arrays and all(s in exact for s in syms):
        size_draws = 1  # every size is fixed: another size draw would be the same
    rerun = dict(
        seed=seed,
        size_draws=size_draws,
        tensor_draws=tensor_draws,
        memory_cap=memory_cap,
        expect_equal=expect_equal,
        binding=binding,
        dims=dims,
        path=path,
        also=also,
    )

    draws: list[SizeDraw] = []
    reasons: list[str] = []
    for k in range(max(1, size_draws)):
        large = k == size_draws - 1 and k > 0
        try:
            draw = sample_sizes(
                syms,
                env,
                decls.values(),
                rng,
                [d.sizes for d in draws],
                exact,
                needs.large_draw() if large else needs.every_draw(),
                draw=k,
            )
            if large and not _inputs_fit(decls, draw, memory_cap // LARGE_DRAW_SHARE):
                # clearly above every constant is too large: the draw that just reaches them
                draw = sample_sizes(
                    syms, env, decls.values(), rng, [d.sizes for d in draws], exact, needs.large_draw(margin=0), draw=k
                )
            draws.append(draw)
        except NumericError as err:
            reasons.append(str(err))
            break

    if draws and any(too_large(lhs, d.sizes, memory_cap) for d in draws):
        lhs, rhs = project(lhs), project(rhs)  # Freivalds: compare contractions with random vectors
        decls, funcs, _ = collect([lhs, rhs])
    result = None
    if path != "float" and draws and not bound_arrays:  # bound float weights keep the float path
        # compare_exact checks the obstacles itself (one walk of the statement, on the hot path
        # of checked-mode rewrites); the reason is only worked out when --path exact needs it
        result = compare_exact(
            lhs, rhs, draws, seed=seed, tensor_draws=tensor_draws, memory_cap=memory_cap, expect_equal=expect_equal
        )
    if result is None and path == "exact":
        obstacle = (
            exact_obstacle([lhs, rhs], binding if bound_arrays else None)
            or "; ".join(reasons)
            or "a coefficient or denominator has no value in the prime fields at these sizes"
        )
        return NumericResult(
            "inconclusive", 0.0, 0.0, seed, 0, reason=f"not decidable exactly: {obstacle}", path="exact"
        )
    if result is None:
        result = _compare_float(
            lhs, rhs, draws, reasons, decls, funcs, rng, seed, tensor_draws, memory_cap, expect_equal, bound_arrays
        )
    result = _with_notes(replace(result, standins=_standins_of(draws)), needs, numbers, env)
    return _confirmed(result, lhs, rhs, env, rerun, counted={str(sym) for sym in needs.numbers})


def _confirmed(
    result: NumericResult, lhs: Expr, rhs: Expr, env: DimEnv, kwargs: dict, counted: set[str]
) -> NumericResult:
    """A difference seen with stand-in sizes, checked again at the declared sizes.

    A stand-in changes every value that counts its dimension; :mod:`.needs` finds
    the counting it can see in the statement, and this catches the rest (a trace of
    ``U U†`` that a proof turns into a loop): a counterexample stands only if it
    stands at the sizes the user declared. Where those do not fit the memory cap,
    the stand-in's difference stands when the statement counts no dimension as a
    number (no stand-in dimension in ``counted``, the dimensions :mod:`.needs` found
    counted: they are only index ranges, as in ``A B != B A`` at n = 10^13); otherwise
    the result is inconclusive."""
    if result.status != "different" or not result.standins:
        return result
    counts_numbers = bool(counted & set(result.standins))
    kwargs = dict(kwargs)
    declared = dict(kwargs.pop("dims") or {})
    declared.update({name: sizes[0] for name, sizes in result.standins.items()})
    if not counts_numbers and not _inputs_small(lhs, rhs, env, declared):
        return result  # only index ranges change with the stand-in, and the declared sizes are costly
    again = compare(lhs, rhs, env, dims=declared, **kwargs)
    if again.status == "inconclusive" and not counts_numbers:
        return result
    if again.status == "inconclusive":
        used = ", ".join(f"{n}={'/'.join(map(str, v[1:]))}" for n, v in sorted(result.standins.items()))
        return replace(
            again,
            reason=f"the sides differ at the stand-in sizes ({used}) but not decidably at the "
            f"declared sizes: {again.reason}",
        )
    return again


def _inputs_small(lhs: Expr, rhs: Expr, env: DimEnv, dims: Mapping[str, int]) -> bool:
    """True when the sides' tensors at the sizes ``dims`` (by name) hold at most
    :data:`CONFIRM_ENTRIES` entries together: a confirmation that cheap is always run."""
    decls, _, _ = collect([lhs, rhs])
    sizes = {env.symbols[name]: int(v) for name, v in dims.items() if name in env.symbols}
    sizes.update({s: v for s, v in env.concrete.items() if s not in sizes})
    return sum(_entries(decl, sizes) for decl in decls.values()) <= CONFIRM_ENTRIES


def _entries(decl: TensorDecl, sizes: Mapping[sympy.Symbol, int]) -> int:
    """How many entries ``decl``'s array has at ``sizes`` (a leg of unknown size counts 1)."""
    subs = {s: sympy.Integer(v) for s, v in sizes.items()}
    entries = 1
    for dim in decl.dims:
        value = sympy.sympify(dim).xreplace(subs)
        entries *= int(value) if value.is_Integer else 1
    return entries


def _inputs_fit(decls: Mapping[str, TensorDecl], draw: SizeDraw, memory_cap: int) -> bool:
    """True when every sampled tensor of ``decls`` fits the memory cap at ``draw``."""
    return all(_entries(decl, draw.sizes) * (16 if decl.is_complex else 8) <= memory_cap for decl in decls.values())


def _standins_of(draws: Sequence[SizeDraw]) -> dict[str, tuple[int, ...]]:
    """Concrete dimension name -> (declared size, the stand-in of each draw that used one)."""
    out: dict[str, tuple[int, ...]] = {}
    for draw in draws:
        for name, (declared, used) in draw.standins.items():
            seen = out.get(name, (declared,))
            out[name] = seen + ((used,) if used not in seen[1:] else ())
    return out


def _with_notes(
    result: NumericResult, needs: SizeNeeds, numbers: Mapping[sympy.Symbol, int], env: DimEnv
) -> NumericResult:
    """The result with the reasons for its sizes added where a refusal needs them: which
    constant forced a size past the memory cap, which dimension was used at its real
    size because the statement counts it."""
    if result.status != "inconclusive" or not result.reason:
        return result
    notes = []
    sizes = {env.symbols[name]: v for name, v in result.sizes.items() if name in env.symbols}
    forced = needs.reason_for(sizes) if sizes else ""
    if forced:
        notes.append(forced)
    for s in sorted(numbers, key=str):
        notes.append(f"{s}={numbers[s]} used at its real size: the statement counts it ({needs.numbers[s]})")
    if not notes:
        return result
    return replace(result, reason=f"{result.reason} ({'; '.join(notes)})")


def _compare_float(
    lhs: Expr,
    rhs: Expr,
    draws: Sequence[SizeDraw],
    reasons: list[str],
    decls: Mapping[str, TensorDecl],
    funcs: Mapping[str, FuncDecl],
    rng: np.random.Generator,
    seed: int,
    tensor_draws: int,
    memory_cap: int,
    expect_equal: bool,
    bound_arrays: Mapping[str, np.ndarray],
) -> NumericResult:
    """The floating-point comparison of :func:`compare` on the chosen size draws."""
    labels = lhs.labels
    verdicts: list[tuple[Verdict, dict[str, int]]] = []
    different = False
    for draw in draws:
        for _ in range(max(1, tensor_draws)):
            try:
                inst = draw_instance(decls, funcs, draw, rng, memory_cap, bound_arrays)
                v = judge(evaluate(lhs, inst, labels), evaluate(rhs, inst, labels))
            except NumericError as err:
                v = Verdict(0.0, SCALE_FLOOR, False, str(err))
            verdicts.append((v, draw.by_name()))
            if v.problem:
                reasons.append(v.problem)
                continue
            tol = _equal_tol(v) if expect_equal else _different_tol(v)
            if v.error > tol * v.scale:
                different = True
                break
        if different:
            break

    conclusive = [(v, s) for v, s in verdicts if not v.problem]
    max_error = max((v.error for v, _ in conclusive), default=0.0)
    worst = max(conclusive, key=lambda vs: vs[0].error / vs[0].scale, default=None)
    rel_error = worst[0].error / worst[0].scale if worst else 0.0
    approximate = any(v.approximate for v, _ in verdicts)
    if different:
        status = "different"
    elif (
        verdicts
        and len(conclusive) == len(verdicts)
        and not reasons
        and all(v.error <= _equal_tol(v) * v.scale for v, _ in conclusive)
    ):
        status = "equal"
    else:
        status = "inconclusive"
        if not reasons and conclusive:
            reasons.append(
                f"the difference (relative {rel_error:.1e}) is above the equality tolerance "
                f"but too small to refute equality"
            )
    problem_sizes = next((s for v, s in verdicts if v.problem), {})
    return NumericResult(
        status=status,
        max_error=max_error,
        rel_error=rel_error,
        seed=seed,
        draws=len(verdicts),
        reason="; ".join(dict.fromkeys(reasons)) if status == "inconclusive" else "",
        approximate=approximate,
        sizes=worst[1] if worst and status != "inconclusive" else (problem_sizes or (worst[1] if worst else {})),
    )


def fixed_inputs(
    env: DimEnv, decls: Mapping[str, TensorDecl], binding: Binding | None = None, dims: Mapping[str, int] | None = None
) -> tuple[dict[sympy.Symbol, int], dict[str, np.ndarray]]:
    """What every draw keeps fixed: sizes (``--dims`` and the binding's real sizes) and the
    bound arrays of the tensors in ``decls``. A ``--dims`` size that differs from the size a
    bound array fixes is a :class:`SamplingError` naming both: neither may silently win (the
    CLI refuses the combination before anything runs, see :func:`dims_conflict`)."""
    exact = {env.symbols[name]: int(size) for name, size in (dims or {}).items() if name in env.symbols}
    bound: dict[str, np.ndarray] = {}
    if binding:
        clash = dims_conflict(env, binding, dims)
        if clash:
            raise SamplingError(clash)
        exact.update(binding.sizes)
        bound = {n: a for n, a in binding.arrays.items() if n in decls}
    return exact, bound


def dims_conflict(env: DimEnv, binding: Binding | None, dims: Mapping[str, int] | None) -> str:
    """Why ``dims`` (``--dims``) contradicts the sizes the bound weights fix, or ``""``."""
    for name, size in sorted((dims or {}).items()):
        sym = env.symbols.get(name)
        if binding and sym in binding.sizes and binding.sizes[sym] != int(size):
            return f"--dims {name}={size} contradicts the bound weights, whose arrays make {name} {binding.sizes[sym]}"
    return ""


def _equal_tol(v: Verdict) -> float:
    return EQUAL_RTOL_APPROX if v.approximate else EQUAL_RTOL


def _different_tol(v: Verdict) -> float:
    return DIFFERENT_RTOL_APPROX if v.approximate else DIFFERENT_RTOL


def evaluate_once(
    expr: Expr, env: DimEnv, seed: int = 0, memory_cap: int = DEFAULT_MEMORY_CAP, labels: Sequence[str] | None = None
) -> Evaluation:
    """Evaluate ``expr`` on one random instance drawn from ``seed`` (for tests and the REPL)."""
    inst, _ = sample_instance([expr], env, seed, memory_cap)
    return evaluate(expr, inst, labels)


def sample_instance(
    exprs: Sequence[Expr], env: DimEnv, seed: int | np.random.Generator = 0, memory_cap: int = DEFAULT_MEMORY_CAP
) -> tuple[Instance, SizeDraw]:
    """One size draw and one tensor draw for everything ``exprs`` use."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    decls, funcs, syms = collect(exprs)
    draw = sample_sizes(syms, env, decls.values(), rng)
    return draw_instance(decls, funcs, draw, rng, memory_cap), draw
