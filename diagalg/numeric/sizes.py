"""Drawing dimension sizes for a numeric check.

Symbolic dimensions get small sizes (2..7), pairwise distinct where the
constraints allow, so that an identity that confuses two dimensions fails.
Concrete dimensions keep their value up to :data:`MAX_KEPT_CONCRETE`; larger
ones are checked with smaller *stand-in* sizes. Derived dimensions are computed.
The search is a depth-first search over the free symbols in a random order,
checking each constraint as soon as its symbols are known, under a node budget.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import sympy

from .. import caches
from ..dims import DimEnv
from ..model import TensorDecl
from .decls import group_dim, map_groups
from .errors import SamplingError

SYMBOLIC_RANGE = (2, 7)
#: Ranges tried, in order, when no draw in 2..7 honours the constraints.
WIDER_RANGES = ((2, 12), (2, 24))
MAX_KEPT_CONCRETE = 64
#: Smallest stand-in: above the symbolic range, so stand-ins stay "large".
MIN_STANDIN = 8
NODE_BUDGET = 20_000

_LAMBDIFY_MODULES = [{"Min": min, "Max": max}, "math"]


@dataclass(frozen=True)
class SizeDraw:
    """One assignment of sizes: ``sizes`` for every symbol involved; ``standins``
    maps a concrete dimension's name to ``(declared, used)`` when it was replaced."""

    sizes: dict[sympy.Symbol, int]
    standins: dict[str, tuple[int, int]] = field(default_factory=dict)

    def by_name(self) -> dict[str, int]:
        """Sizes keyed by dimension name."""
        return {str(s): v for s, v in sorted(self.sizes.items(), key=lambda kv: str(kv[0]))}

    def standin_text(self) -> str:
        """``seq=1024 checked as 8, ...`` (empty when nothing was replaced)."""
        return ", ".join(f"{name}={decl} checked as {used}" for name, (decl, used) in sorted(self.standins.items()))


def standin_sizes(
    env: DimEnv, max_kept: int = MAX_KEPT_CONCRETE, min_standin: int = MIN_STANDIN, draw: int = 0
) -> dict[sympy.Symbol, int]:
    """Stand-in sizes for the concrete dimensions larger than ``max_kept``.

    Deterministic (depends on ``env`` and ``draw`` only): the distinct large
    values, in increasing order, get consecutive sizes starting above every kept
    concrete value (and at least :data:`MIN_STANDIN`), so the order of all
    concrete dimensions is preserved and distinct values stay distinct. Size draw
    ``k`` starts ``k * (count + 1)`` higher: two draws never share a stand-in, so a
    claim that holds only at one stand-in (``delta[i: big, i] == 8`` checked as 8)
    fails at the other.
    """
    kept = [v for v in env.concrete.values() if v <= max_kept]
    large = sorted({v for v in env.concrete.values() if v > max_kept})
    base = max(min_standin, max(kept, default=0) + 1) + draw * (len(large) + 1)
    by_value = {v: base + i for i, v in enumerate(large)}
    return {s: by_value[v] for s, v in env.concrete.items() if v in by_value}


# --------------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class _Check:
    """A compiled condition on sizes, with the text that names it in errors."""

    text: str
    symbols: frozenset[sympy.Symbol]
    test: Callable[[Mapping[sympy.Symbol, int]], bool]


@lru_cache(maxsize=1024)
def _compile(expr: sympy.Expr) -> tuple[tuple[sympy.Symbol, ...], Callable[..., float]]:
    expr = sympy.sympify(expr)
    syms = tuple(sorted(expr.free_symbols, key=str))
    return syms, sympy.lambdify(syms, expr, modules=_LAMBDIFY_MODULES)


caches.register(_compile.cache_clear)


def _comparison(lhs: sympy.Expr, op: str, rhs: sympy.Expr, text: str) -> _Check:
    lsyms, lf = _compile(lhs)
    rsyms, rf = _compile(rhs)
    eps = 1e-9

    def test(vals: Mapping[sympy.Symbol, int]) -> bool:
        a = lf(*(vals[s] for s in lsyms))
        b = rf(*(vals[s] for s in rsyms))
        if op == "<=":
            return a <= b + eps
        if op == ">=":
            return a >= b - eps
        if op == "<":
            return a < b - eps
        if op == ">":
            return a > b + eps
        if op == "==":
            return abs(a - b) <= eps
        raise ValueError(f"unknown comparison {op!r}")

    return _Check(text, frozenset(lsyms) | frozenset(rsyms), test)


def _implied_checks(decls: Iterable[TensorDecl]) -> list[_Check]:
    """Constraints that declared properties imply on sizes."""
    checks: list[_Check] = []
    for decl in decls:
        for leg, d in zip(decl.legs, decl.dims):
            d = sympy.sympify(d)
            if not (d.is_Symbol or d.is_Integer):
                checks.append(_comparison(d, ">=", sympy.Integer(1), f"{d} >= 1 (leg {leg} of {decl.name})"))
        if decl.structure is None:
            continue
        inputs, outputs = map_groups(decl)
        din, dout = group_dim(decl, inputs), group_dim(decl, outputs)
        arrow = f"{decl.structure}({', '.join(inputs)} -> {', '.join(outputs)}) of {decl.name}"
        if decl.structure == "isometry":
            checks.append(_comparison(din, "<=", dout, f"{din} <= {dout} ({arrow})"))
        else:
            checks.append(_comparison(din, "==", dout, f"{din} == {dout} ({arrow})"))
        if decl.structure == "projector":
            checks.append(_comparison(dout, ">=", sympy.Integer(2), f"{dout} >= 2 ({arrow}: rank between 1 and n-1)"))
    return checks


@dataclass(frozen=True)
class _Derived:
    symbol: sympy.Symbol
    expr: sympy.Expr
    args: tuple[sympy.Symbol, ...]
    fn: Callable[..., float]

    def value(self, vals: Mapping[sympy.Symbol, int]) -> int | None:
        """The derived size, or None when it is not a positive integer."""
        try:
            v = float(self.fn(*(vals[s] for s in self.args)))
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
        r = round(v)
        if abs(v - r) > 1e-9 or r < 1:
            return None
        return int(r)


# --------------------------------------------------------------------------- the search


class _BudgetExhausted(Exception):
    pass


@dataclass
class _Problem:
    free: list[sympy.Symbol]
    fixed: dict[sympy.Symbol, int]
    derived_at: list[list[_Derived]]  # index level+1 (level -1 first): derived computable there
    checks_at: list[list[_Check]]
    failures: Counter = field(default_factory=Counter)

    def start(self) -> dict[sympy.Symbol, int] | None:
        vals = dict(self.fixed)
        return vals if self._settle(vals, -1) else None

    def _settle(self, vals: dict[sympy.Symbol, int], level: int) -> bool:
        """Compute the derived sizes and test the checks that become known at ``level``."""
        for d in self.derived_at[level + 1]:
            v = d.value(vals)
            if v is None:
                self.failures[f"{d.symbol} = {d.expr} (a positive integer)"] += 1
                return False
            vals[d.symbol] = v
        for c in self.checks_at[level + 1]:
            if not c.test(vals):
                self.failures[c.text] += 1
                return False
        return True

    def search(
        self,
        lo: int,
        hi: int,
        distinct: bool,
        avoid: Sequence[Mapping[sympy.Symbol, int]],
        rng: np.random.Generator,
        budget: int,
        at_least: Mapping[sympy.Symbol, int] | None = None,
    ) -> dict[sympy.Symbol, int] | None:
        """Sizes for the free symbols in ``lo..hi``; a symbol with a floor in ``at_least``
        above ``lo`` tries the same width of range upwards from its floor, smallest first
        (the floor is what the statement needs; more only costs memory)."""
        vals = self.start()
        if vals is None:
            return None
        used: Counter = Counter(v for v in self.fixed.values())
        nodes = 0

        def matches_avoided() -> bool:
            return any(self.free and all(a.get(s) == vals[s] for s in self.free) for a in avoid)

        def rec(i: int) -> bool:
            nonlocal nodes
            if i == len(self.free):
                return not matches_avoided()
            s = self.free[i]
            floor = (at_least or {}).get(s, lo)
            if floor > lo:  # a size the statement needs: the smallest that meets it first (memory)
                values = list(range(floor, floor + hi - lo + 1))
            else:
                values = list(rng.permutation(np.arange(lo, hi + 1)))
            if distinct:
                values = [v for v in values if not used[v]]
            else:
                values.sort(key=lambda v: used[v] > 0)  # stable: unused sizes first, in random order
            for v in values:
                nodes += 1
                if nodes > budget:
                    raise _BudgetExhausted
                vals[s] = int(v)
                if self._settle(vals, i):
                    used[int(v)] += 1
                    if rec(i + 1):
                        return True
                    used[int(v)] -= 1
                for d in self.derived_at[i + 1]:
                    vals.pop(d.symbol, None)
            vals.pop(s, None)
            return False

        try:
            return dict(vals) if rec(0) else None
        except _BudgetExhausted:
            return None


def _closure(needed: set[sympy.Symbol], env: DimEnv, checks: list[_Check]) -> tuple[set[sympy.Symbol], list[_Check]]:
    """The symbols whose sizes matter for ``needed`` (derived dependencies, and every
    symbol of a constraint touching one), and those constraints."""
    syms = set(needed)
    chosen: list[_Check] = []
    changed = True
    while changed:
        changed = False
        for s in list(syms):
            if s in env.derived:
                deps = sympy.sympify(env.derived[s]).free_symbols - syms
                if deps:
                    syms |= deps
                    changed = True
        for c in checks:
            if c not in chosen and c.symbols & syms:
                chosen.append(c)
                if c.symbols - syms:
                    syms |= c.symbols
                    changed = True
    return syms, chosen


def sample_sizes(
    symbols: set[sympy.Symbol],
    env: DimEnv,
    decls: Iterable[TensorDecl],
    rng: np.random.Generator,
    avoid: Sequence[Mapping[sympy.Symbol, int]] = (),
    exact: Mapping[sympy.Symbol, int] | None = None,
    at_least: Mapping[sympy.Symbol, int] | None = None,
    draw: int = 0,
) -> SizeDraw:
    """Draw a size for every dimension symbol in ``symbols`` and in ``decls``.

    Promises: every size is a positive integer; every constraint of ``env`` that
    mentions a drawn symbol holds, as do the constraints the declarations imply
    (isometry: |inputs| <= |outputs|; invertible, unitary, posdef, projector:
    |inputs| == |outputs|; projector: dimension >= 2). Symbolic sizes lie in
    2..7 (wider ranges only if 2..7 cannot satisfy the constraints), pairwise
    distinct and distinct from the concrete sizes when possible, and differ from
    every draw in ``avoid`` when possible. Concrete sizes above 64 use
    :func:`standin_sizes` (reported in ``standins``); derived sizes are computed.

    ``at_least`` gives floors that the statement's structure asks for
    (:mod:`.needs`: above a shift offset, reaching an antisymmetric group's leg
    count): a symbolic size with a floor is drawn from a range of the usual width
    starting at it, and a stand-in below its floor is raised to it (never above the
    declared size). ``draw`` numbers the size draw (its stand-ins differ from every
    other draw's, see :func:`standin_sizes`). Raises :class:`SamplingError` naming
    the constraint that cannot be met.
    """
    decls = list(decls)
    needed = set(symbols)
    for decl in decls:
        for d in decl.dims:
            needed |= sympy.sympify(d).free_symbols
    env_checks = [_comparison(c.lhs, c.op, c.rhs, str(c)) for c in env.constraints]
    implied = _implied_checks(decls)
    syms, checks = _closure(needed, env, env_checks + implied)
    checks += [c for c in implied if c not in checks]  # those over concrete sizes only

    floors = {s: int(v) for s, v in (at_least or {}).items()}
    standins = standin_sizes(env, draw=draw)
    fixed = {
        s: max(standins[s], min(v, floors.get(s, 0))) if s in standins else v
        for s, v in env.concrete.items()
        if s in syms and s not in env.derived
    }
    # sizes fixed by the caller: bound weights (their real sizes) or --dims overrides
    fixed.update({s: int(v) for s, v in (exact or {}).items() if s in syms and s not in env.derived})
    derived = {
        s: _Derived(s, sympy.sympify(env.derived[s]), *_compile(env.derived[s])) for s in syms if s in env.derived
    }
    free = sorted((s for s in syms if s not in fixed and s not in derived), key=str)
    free = [free[i] for i in rng.permutation(len(free))]
    problem = _build_problem(free, fixed, derived, checks)
    while problem.start() is None:
        # A constraint among concrete sizes fails: if stand-ins broke it, try larger
        # stand-ins (order kept), and only then the declared sizes.
        if _raise_standins(problem, fixed, env):
            problem = _build_problem(free, fixed, derived, checks)
            continue
        reverted = _revert_standins(problem, fixed, env, derived)
        if not reverted:
            text = problem.failures.most_common(1)[0][0]
            raise SamplingError(
                f"dimension constraint {text} does not hold for the concrete sizes{_standin_note(fixed, standins)}"
            )
        problem = _build_problem(free, fixed, derived, checks)

    top = max((floors[s] for s in free if s in floors), default=0)
    for lo, hi in (SYMBOLIC_RANGE,) + tuple((a, max(b, top + b)) for a, b in WIDER_RANGES):
        room = sum(1 for v in range(lo, hi + 1) if v not in fixed.values())
        for distinct in (True, False) if len(free) <= room else (False,):
            for avoiding in (True, False) if avoid and free else (False,):
                found = problem.search(lo, hi, distinct, list(avoid) if avoiding else [], rng, NODE_BUDGET, floors)
                if found is not None:
                    used = {
                        str(s): (env.concrete[s], v)
                        for s, v in found.items()
                        if s in fixed and s in env.concrete and v != env.concrete[s]
                    }
                    return SizeDraw({s: int(v) for s, v in found.items()}, used)
    if problem.failures:
        text = problem.failures.most_common(1)[0][0]
    else:
        text = "(none)"
    names = ", ".join(str(s) for s in sorted(free, key=str))
    hi = max(WIDER_RANGES[-1][1], top + WIDER_RANGES[-1][1])
    raise SamplingError(
        f"cannot choose sizes for {names} (tried 2..{hi}) satisfying the constraint {text}"
        f"{_standin_note(fixed, standins)}"
    )


def _raise_standins(problem: _Problem, fixed: dict[sympy.Symbol, int], env: DimEnv) -> bool:
    """Shift every stand-in size (a fixed size below its declared one) up by the least
    offset, at most :data:`MAX_KEPT_CONCRETE`, that makes the concrete-only constraints
    hold (a truncation rank 8 of a 50257 x 1024 matrix needs stand-ins above 8); True
    when ``fixed`` was changed."""
    stand = {s: v for s, v in fixed.items() if s in env.concrete and v < env.concrete[s]}
    if not stand:
        return False
    for k in range(1, MAX_KEPT_CONCRETE + 1):
        trial = dict(fixed)
        trial.update({s: min(env.concrete[s], v + k) for s, v in stand.items()})
        if _Problem(problem.free, trial, problem.derived_at, problem.checks_at).start() is not None:
            fixed.update(trial)
            return True
    return False


def _revert_standins(
    problem: _Problem, fixed: dict[sympy.Symbol, int], env: DimEnv, derived: Mapping[sympy.Symbol, _Derived]
) -> bool:
    """Give the stand-in dimensions behind the failing concrete-only constraints their
    declared sizes (in ``fixed``) when that makes every such constraint hold; True if
    any size was reverted."""
    declared = {s: env.concrete[s] for s in fixed}
    trial = _Problem(problem.free, declared, problem.derived_at, problem.checks_at)
    if trial.start() is None:
        return False
    vals = dict(fixed)
    failing = []
    for d in problem.derived_at[0]:
        v = d.value(vals)
        vals[d.symbol] = v if v is not None else 0
        if v is None:
            failing.append(frozenset(d.args))
    failing += [c.symbols for c in problem.checks_at[0] if not c.test(vals)]
    involved: set[sympy.Symbol] = set()
    todo = [s for group in failing for s in group]
    while todo:
        s = todo.pop()
        if s in involved:
            continue
        involved.add(s)
        if s in derived:
            todo.extend(derived[s].args)
    changed = False
    for s in involved:
        if s in fixed and fixed[s] != declared[s]:
            fixed[s] = declared[s]
            changed = True
    return changed


def _standin_note(fixed: Mapping[sympy.Symbol, int], standins: Mapping[sympy.Symbol, int]) -> str:
    used = sorted(str(s) for s in fixed if s in standins)
    if not used:
        return ""
    return " (with stand-in sizes for " + ", ".join(used) + ")"


def _build_problem(
    free: list[sympy.Symbol],
    fixed: dict[sympy.Symbol, int],
    derived: dict[sympy.Symbol, _Derived],
    checks: list[_Check],
) -> _Problem:
    """Attach each derived size and each check to the search level where it becomes known."""
    pos = {s: i for i, s in enumerate(free)}
    memo: dict[sympy.Symbol, int] = {}

    def level(s: sympy.Symbol, visiting: frozenset = frozenset()) -> int:
        if s in pos:
            return pos[s]
        if s not in derived or s in visiting:
            return -1
        if s not in memo:
            memo[s] = max((level(a, visiting | {s}) for a in derived[s].args), default=-1)
        return memo[s]

    order: list[sympy.Symbol] = []  # derived symbols, dependencies first

    def visit(s: sympy.Symbol, visiting: frozenset = frozenset()) -> None:
        if s in order or s in visiting or s not in derived:
            return
        for a in derived[s].args:
            visit(a, visiting | {s})
        order.append(s)

    for s in sorted(derived, key=str):
        visit(s)
    derived_at: list[list[_Derived]] = [[] for _ in range(len(free) + 1)]
    for s in order:
        derived_at[level(s) + 1].append(derived[s])
    checks_at: list[list[_Check]] = [[] for _ in range(len(free) + 1)]
    for c in checks:
        checks_at[max((level(s) for s in c.symbols), default=-1) + 1].append(c)
    return _Problem(free, fixed, derived_at, checks_at)
