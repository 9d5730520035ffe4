"""The intermediate form of stage A: an expression as a sum of products of factors
whose labels are known but whose diagrams are not built yet.

Stage A (:class:`diagalg.lower.expr.Scope`) resolves names and records label
dimensions statement-wide; only then can stage B build the ops (a delta's
dimension may come from a label bound elsewhere in the statement), so a factor
carries a closure that makes its op. :func:`exposed_uses` is einsum's label
convention applied to parenthesised sums before they are distributed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import sympy

from .. import ast as A
from ..model import Expr, Op


@dataclass
class IAtom:
    """A node-like factor with its ports bound to ``labels``; ``build`` makes the op."""

    pos: A.Pos
    labels: list[str]
    build: Callable[[], Op]


@dataclass
class IScopedAtom:
    """A factor whose argument is a scope (bubble, keep, group, split, diff, zero):
    ``labels`` are its result's free labels. ``make`` closes the scope and returns
    the inner expression with the op to wrap it in (None: the scope is transparent
    and is inlined into the product)."""

    pos: A.Pos
    labels: list[str]
    make: Callable[[], tuple[Expr, Callable[[Expr], Op] | None]]
    #: the derivative's labels of ``diff(E, X[...])``, bound to its ports ``@d0``, ``@d1``...
    deriv_labels: list[str] = field(default_factory=list)
    #: the output label of a function application ``f[a -> b](E)``
    func_out: str | None = None


@dataclass
class ISummand:
    pos: A.Pos
    sign: int
    tag: str | None
    prod: "IProd"


@dataclass
class ISum:
    pos: A.Pos
    summands: list[ISummand]

    def mentioned_all(self) -> Counter:
        """Every label used anywhere in the summands (max count over summands)."""
        c: Counter = Counter()
        for s in self.summands:
            c |= s.prod.mentioned()
        return c


@dataclass
class IProd:
    pos: A.Pos
    coeff: sympy.Expr = sympy.Integer(1)
    atoms: list[IAtom | ISum | IScopedAtom] = field(default_factory=list)

    def free_within(self, label: str) -> bool:
        """True when ``label`` is used exactly once in this product (after distribution)."""
        counts: Counter = Counter()
        for own in exposed_uses(self, Counter(), set()):
            counts.update(own)
        return counts[label] == 1

    def mentioned(self) -> Counter:
        """Label uses in this product, flattening parenthesised sums (max over summands)."""
        c: Counter = Counter()
        for a in self.atoms:
            if isinstance(a, ISum):
                c.update(a.mentioned_all())
            else:
                c.update(a.labels)
        return c


def exposed_uses(prod: IProd, outside: Counter, forced: set[str]) -> list[Counter]:
    """Label uses of each factor of ``prod`` as einsum sees them after distributing.

    A node-like factor uses each label it binds. A parenthesised sum exposes a
    label when something outside it uses that label (another factor, an
    enclosing product, or a kept output), or when the label is free within one
    of its summands; a label summed entirely inside a summand stays inside.
    """
    raw = [a.mentioned_all() if isinstance(a, ISum) else Counter(a.labels) for a in prod.atoms]
    total: Counter = Counter()
    for r in raw:
        total.update(r)
    out: list[Counter] = []
    for a, r in zip(prod.atoms, raw):
        if not isinstance(a, ISum):
            out.append(r)
            continue
        exposed: Counter[str] = Counter()
        for l in r:
            others = total[l] - r[l] + outside[l] + (1 if l in forced else 0)
            if others > 0 or any(s.prod.free_within(l) for s in a.summands):
                exposed[l] = 1
        out.append(exposed)
    return out
