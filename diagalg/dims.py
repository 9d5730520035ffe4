"""Dimensions: symbolic (sympy symbols) and concrete, with the constraints users declare.

A dimension of a leg is a sympy expression over dimension symbols (`n`, `n * m`, `4`).
Dimension names are user names: they become plain ``sympy.Symbol`` objects and are
never looked up in sympy's namespace, so ``E``, ``I``, ``N`` are ordinary names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy


def dim_symbol(name: str) -> sympy.Symbol:
    """The sympy symbol for the dimension called ``name`` (a positive integer)."""
    return sympy.Symbol(name, positive=True, integer=True)


@dataclass(frozen=True)
class DimConstraint:
    """``lhs op rhs`` with op one of ``<=``, ``>=``, ``<``, ``>``, ``==``."""

    lhs: sympy.Expr
    op: str
    rhs: sympy.Expr

    def holds(self, sizes: Mapping[sympy.Symbol, int]) -> bool:
        a = sympy.sympify(self.lhs).subs(sizes)
        b = sympy.sympify(self.rhs).subs(sizes)
        return bool({"<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b, "==": sympy.Eq(a, b)}[self.op])

    def __str__(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}"


@dataclass
class DimEnv:
    """All declared dimensions of a program: which are concrete, and the constraints."""

    symbols: dict[str, sympy.Symbol] = field(default_factory=dict)
    concrete: dict[sympy.Symbol, int] = field(default_factory=dict)
    derived: dict[sympy.Symbol, sympy.Expr] = field(default_factory=dict)
    constraints: list[DimConstraint] = field(default_factory=list)

    def declare(self, name: str, value: int | None = None, derived: sympy.Expr | None = None) -> sympy.Symbol:
        sym = dim_symbol(name)
        self.symbols[name] = sym
        if value is not None:
            self.concrete[sym] = int(value)
        if derived is not None:
            self.derived[sym] = derived
        return sym

    def concrete_subs(self) -> dict[sympy.Symbol, sympy.Expr]:
        """Substitution giving every concrete or derived dimension its value."""
        subs: dict[sympy.Symbol, sympy.Expr] = {s: sympy.Integer(v) for s, v in self.concrete.items()}
        for s, e in self.derived.items():
            subs[s] = e
        # derived dims may refer to other derived dims: iterate to a fixed point
        for _ in range(len(self.derived) + 1):
            subs = {s: sympy.sympify(v).subs(subs) for s, v in subs.items()}
        return subs

    def same_dim(self, a: sympy.Expr, b: sympy.Expr) -> bool:
        """True when the two dimension expressions are provably equal."""
        if a == b:
            return True
        subs = self.concrete_subs()
        return sympy.expand(sympy.sympify(a).subs(subs) - sympy.sympify(b).subs(subs)) == 0


def dim_text(d: sympy.Expr) -> str:
    """A dimension expression as .diag text."""
    from .printing import scalar_text

    return scalar_text(d)
