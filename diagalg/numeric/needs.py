"""What a statement's structure asks of the sizes it is checked at.

Random instances only see a claim at sizes where the claim can be false. A
``shift(8)`` on a dimension drawn as 5 is the zero matrix, so every statement
about it is "true"; a totally antisymmetric tensor with more legs than its
dimension is identically zero; ``onehot(6)`` does not exist at size 4. And a
stand-in for a large concrete dimension changes a statement's value wherever
that value counts the dimension as a number (a closed loop ``delta[i, i]``, a
dimension in a coefficient), while the number the user compares it with (``==
100``) does not change with it.

:func:`size_needs` reads these constants from the expressions of one statement
(recursively, inside bubbles, boxes and derivatives) and the declarations they
use; :mod:`.check` turns them into size floors for every draw, a larger draw,
and real sizes for dimensions used as numbers. Only dimensions that are a single
symbol get floors: a shift on a product dimension ``n * m`` is left to the
ordinary draw (stated in docs/language.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import sympy

from ..model import (
    BubbleOp,
    CopyTensor,
    Diagram,
    Expr,
    IndexOp,
    ReshapeOp,
    ShiftOp,
    TensorDecl,
    nested_exprs,
    resolve_merges,
)
from .sizes import SYMBOLIC_RANGE

#: How far the large draw goes above the largest structural constant of a dimension.
LARGE_MARGIN = 2


@dataclass(frozen=True)
class SizeNeeds:
    """Size requirements of one statement, per dimension symbol.

    ``floors``: every draw must reach the size (value, reason), e.g. above a shift
    offset; ``reach``: at least one draw must reach it, e.g. an antisymmetric
    group's leg count; ``numbers``: dimensions the statement's value depends on as
    a number (reason), which must not be replaced by a stand-in.
    """

    floors: dict[sympy.Symbol, tuple[int, str]] = field(default_factory=dict)
    reach: dict[sympy.Symbol, tuple[int, str]] = field(default_factory=dict)
    numbers: dict[sympy.Symbol, str] = field(default_factory=dict)

    def every_draw(self) -> dict[sympy.Symbol, int]:
        """The floor each draw keeps."""
        return {s: v for s, (v, _) in self.floors.items()}

    def large_draw(self, margin: int = LARGE_MARGIN) -> dict[sympy.Symbol, int]:
        """Floors of the draw that is clearly larger than every constant: each dimension
        with a structural constant at least ``margin`` above the largest (with margin
        0, a draw that just reaches every constant)."""
        out: dict[sympy.Symbol, int] = {}
        for table in (self.floors, self.reach):
            for s, (v, _) in table.items():
                out[s] = max(out.get(s, 0), v + margin)
        return out

    def reason_for(self, sizes: Mapping[sympy.Symbol, int]) -> str:
        """Which constants forced the sizes of ``sizes`` above the ordinary range, as text
        (empty when none did): the note a memory-cap refusal carries. A size that a later
        draw must still reach is named too: when an ordinary draw is already refused, the
        user learns that a smaller size would not do (a 12-leg antisymmetric tensor refused
        at n = 5 is zero at any n below 12)."""
        parts = []
        for s in sorted(sizes, key=str):
            why = [
                text
                for table in (self.floors, self.reach)
                if s in table
                for v, text in [table[s]]
                if sizes[s] >= v > SYMBOLIC_RANGE[1]
            ]
            if why:
                parts.append(f"{s}={sizes[s]} forced by {why[0]}")
            elif s in self.reach and sizes[s] < self.reach[s][0]:
                v, text = self.reach[s]
                parts.append(f"a draw must also reach {s}={v}, for {text}")
        return "; ".join(parts)


def size_needs(
    exprs: Iterable[Expr], decls: Mapping[str, TensorDecl], large: Mapping[sympy.Symbol, int] | None = None
) -> SizeNeeds:
    """The structural constants of the expressions of one statement (see the module
    docstring). ``decls``: the tensors the statement uses (their antisymmetric groups).
    ``large``: the concrete dimensions that may get stand-ins, with their values; a
    numeric coefficient divisible by one of them counts that dimension as a number (a
    proof turns the trace of ``U U†`` on a 100-dimensional space into ``100``)."""
    needs = SizeNeeds()
    exprs = list(exprs)
    for expr in exprs:
        for s, why in _counted_by_coefficients(expr, large or {}):
            needs.numbers.setdefault(s, why)
    for decl in decls.values():
        for legs in (legs for legs, sign in decl.leg_symmetry if sign == -1):
            dim = sympy.sympify(decl.leg_dim(legs[0]))
            if dim.is_Symbol:
                _raise(needs.reach, dim, len(legs), f"the antisymmetric legs ({', '.join(legs)}) of {decl.name}")
    constant_sides = 0
    for expr in exprs:
        if any(not t.diagram.nodes and not t.diagram.edge_dims and t.coeff != 0 for t in expr.terms):
            constant_sides += 1
        _scan(expr, needs)
    if constant_sides:
        # a number compared with a value that may count a dimension (U[a, b] conj(U)[a, b] == 100):
        # every concrete dimension of the statement counts as a number
        for expr in exprs:
            for s in _edge_symbols(expr):
                needs.numbers.setdefault(s, "a number on one side")
    return needs


def _counted_by_coefficients(expr: Expr, large: Mapping[sympy.Symbol, int]) -> list[tuple[sympy.Symbol, str]]:
    """Large concrete dimensions whose value divides a rational coefficient of ``expr``
    (at any depth): the coefficient may be that dimension, counted."""
    out = []
    stack = [expr]
    while stack:
        e = stack.pop()
        for term in e.terms:
            c = sympy.sympify(term.coeff)
            if c.is_Rational and c != 0:
                for s, v in large.items():
                    if c.p % v == 0 or c.q % v == 0:
                        out.append((s, f"the coefficient {c} (a multiple of {s} = {v})"))
            for node in term.diagram.nodes:
                stack.extend(nested_exprs(node.op))
    return out


def _raise(table: dict[sympy.Symbol, tuple[int, str]], sym: sympy.Symbol, value: int, reason: str) -> None:
    if value > table.get(sym, (0, ""))[0]:
        table[sym] = (value, reason)


def _scan(expr: Expr, needs: SizeNeeds) -> None:
    for term in expr.terms:
        for s in sympy.sympify(term.coeff).free_symbols:
            needs.numbers.setdefault(s, f"a coefficient ({term.coeff})")
        diagram = term.diagram
        for node in diagram.nodes:
            op = node.op
            if isinstance(op, ShiftOp):
                dim = sympy.sympify(op.dim)
                if dim.is_Symbol and op.offset:
                    _raise(needs.floors, dim, abs(op.offset) + 1, f"shift({op.offset})")
            elif isinstance(op, IndexOp):
                dim = sympy.sympify(op.dim)
                if dim.is_Symbol:
                    _raise(needs.floors, dim, op.value + 1, f"onehot({op.value})")
            elif isinstance(op, ReshapeOp):
                consts = [int(d) for d in map(sympy.sympify, op.part_dims) if d.is_Integer]
                for d in map(sympy.sympify, op.part_dims):
                    if d.is_Symbol and consts:
                        _raise(needs.reach, d, max(consts), f"the split factor {max(consts)}")
            elif isinstance(op, BubbleOp) and op.param is not None:
                for s in sympy.sympify(op.param).free_symbols:
                    needs.numbers.setdefault(s, f"the parameter of {op.kind}")
            for inner in nested_exprs(op):
                _scan(inner, needs)
        for dim, why in _counted_dims(diagram):
            for s in sympy.sympify(dim).free_symbols:
                needs.numbers.setdefault(s, why)


def _counted_dims(diagram: Diagram) -> list[tuple[sympy.Expr, str]]:
    """Dimensions a diagram counts as a number: each closed network of copy tensors,
    shifts and reshapes, joined to no operand with entries of its own and carrying no
    free label (a closed loop is its dimension, a traced ``shift(1)`` is n − 1; a
    chain of reshapes or shifts between two tensors is not counted)."""
    structural = (CopyTensor, ShiftOp, ReshapeOp)
    joined = resolve_merges(
        [(node.edges[0], e) for node in diagram.nodes if isinstance(node.op, structural) for e in node.edges[1:]]
    )

    def root(e: str) -> str:
        return joined.get(e, e)

    touched = {root(e) for _, e in diagram.free}
    touched |= {root(e) for node in diagram.nodes if not isinstance(node.op, structural) for e in node.edges}
    out = [
        (node.op.dim, f"a closed loop of {node.op.dim}")
        for node in diagram.nodes
        if isinstance(node.op, CopyTensor) and node.op.arity == 0
    ]
    seen: set[str] = set()
    for e, dim in diagram.edge_dims:
        if root(e) not in touched and root(e) not in seen:
            seen.add(root(e))
            out.append((dim, f"a closed network of copy tensors, shifts or reshapes on {dim}"))
    return out


def _edge_symbols(expr: Expr) -> set[sympy.Symbol]:
    syms: set[sympy.Symbol] = set()
    for term in expr.terms:
        for _, d in term.diagram.edge_dims:
            syms |= sympy.sympify(d).free_symbols
        for node in term.diagram.nodes:
            for inner in nested_exprs(node.op):
                syms |= _edge_symbols(inner)
    return syms
