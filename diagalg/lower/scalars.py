"""Scalar expressions in .diag text: numbers, dimension names, ``+ - * / **``,
``sqrt``, ``exp``, ``log``, ``min`` and ``pow`` of scalars.

A scalar is lowered to an exact sympy value. Sizes and coefficients are exact,
so a literal or a power whose value would take minutes to compute is refused
(:data:`MAX_EXPONENT`, :data:`~diagalg.parser.MAX_NUMBER_DIGITS`) with a
positioned error before it is computed.
"""

from __future__ import annotations

from typing import Iterable

import sympy

from .. import ast as A
from ..errors import SourceError
from ..parser import MAX_NUMBER_DIGITS
from ..program import Program

#: Largest exponent of a scalar power (``n ** k``): sizes and coefficients are
#: computed exactly, and 7 ** 100000000 would take minutes.
MAX_EXPONENT = 10_000
#: Most bits of a number's numerator or denominator, about MAX_NUMBER_DIGITS digits.
_MAX_BITS = int(MAX_NUMBER_DIGITS * 3.33)
ONE = sympy.Integer(1)


def error_at(msg: str, pos: A.Pos) -> SourceError:
    """A :class:`SourceError` at ``pos``; the loader adds the file and its text."""
    return SourceError(msg, pos.line, pos.col)


def did_you_mean(name: str, candidates: Iterable[object]) -> str:
    """`` (did you mean 'X'?)`` naming the declared name closest to ``name`` among
    ``candidates`` (difflib's close matches, cutoff 0.6), or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted({str(c) for c in candidates} - {name}), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def declared_names(program: Program) -> list[str]:
    """Every name a statement may refer to: dimensions, tensors, lets and functions."""
    return [*program.env.symbols, *program.tensors, *program.lets, *program.funcs]


def _bounded(value: sympy.Expr, pos: A.Pos) -> sympy.Expr:
    """``value``, unless a number in it has more than MAX_NUMBER_DIGITS digits."""
    for num in value.atoms(sympy.Rational):
        if max(int(num.p).bit_length(), int(num.q).bit_length()) > _MAX_BITS:
            raise error_at(f"number too long (more than {MAX_NUMBER_DIGITS} digits)", pos)
    return value


def _power(base: sympy.Expr, exponent: sympy.Expr, pos: A.Pos) -> sympy.Expr:
    """``base ** exponent``, refusing (before computing it) an exponent above
    MAX_EXPONENT or a result with more than MAX_NUMBER_DIGITS digits."""
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise error_at(f"exponent too large (at most {MAX_EXPONENT})", pos)
    if exponent.is_Integer and base.is_Rational:
        bits = max(int(base.p).bit_length(), int(base.q).bit_length()) * abs(int(exponent))
        if bits > _MAX_BITS:
            raise error_at(f"number too long (more than {MAX_NUMBER_DIGITS} digits)", pos)
    return _bounded(base**exponent, pos)


def _number(text: str, pos: A.Pos) -> sympy.Expr:
    try:
        return sympy.Rational(text)
    except (TypeError, ValueError):
        raise error_at(f"bad number '{text}'", pos) from None


def try_scalar(program: Program, node: A.Node) -> sympy.Expr | None:
    """The sympy value of ``node`` if it is a pure scalar expression, None if it
    involves tensors (or lets, or functions); an undeclared name is an error."""
    env = program.env
    if isinstance(node, A.Num):
        return _number(node.text, node.pos)
    if isinstance(node, A.Name):
        sym = env.symbols.get(node.name)
        if sym is not None:
            return sym
        if node.name not in program.tensors and node.name not in program.lets and node.name not in program.funcs:
            raise error_at(f"undeclared name '{node.name}'{did_you_mean(node.name, declared_names(program))}", node.pos)
        return None
    if isinstance(node, A.Neg):
        v = try_scalar(program, node.expr)
        return None if v is None else -v
    if isinstance(node, A.Power):
        b = try_scalar(program, node.base)
        if b is None:
            raise error_at("`**` applies to scalars; use pow(E, k) for an elementwise power", node.pos)
        e = try_scalar(program, node.exponent)
        if e is None:
            raise error_at("an exponent must be a scalar", node.exponent.pos)
        return _power(b, e, node.pos)
    if isinstance(node, A.Call):
        vals = [try_scalar(program, a) if not isinstance(a, A.Bind) else None for a in node.args]
        if node.fn in ("sqrt", "min"):
            for a, v in zip(node.args, vals):
                if v is None:
                    raise error_at(f"{node.fn}(...) takes scalars (numbers and dimensions)", a.pos)
            return sympy.sqrt(vals[0]) if node.fn == "sqrt" else sympy.Min(*vals)
        if node.fn in ("exp", "log") and vals[0] is not None:
            return sympy.exp(vals[0]) if node.fn == "exp" else sympy.log(vals[0])
        if node.fn == "pow" and vals[0] is not None:
            if vals[1] is None:
                raise error_at("pow's exponent must be a scalar", node.args[1].pos)
            return _power(vals[0], vals[1], node.pos)
        return None
    if isinstance(node, A.Product):
        value = ONE
        for f in node.factors:
            v = try_scalar(program, f.expr)
            if v is None:
                return None
            value = _bounded(value / v if f.op == "/" else value * v, f.expr.pos)
        return value
    if isinstance(node, A.Sum):
        total = sympy.Integer(0)
        for s in node.items:
            v = try_scalar(program, s.expr)
            if v is None:
                return None
            total = _bounded(total + s.sign * v, s.expr.pos)
        return total
    return None


def scalar(program: Program, node: A.Node) -> sympy.Expr:
    """The value of ``node``, which must be a pure scalar expression."""
    value = try_scalar(program, node)
    if value is None:
        raise error_at("expected a scalar expression (numbers and dimension names)", node.pos)
    return value


def dim_expr(program: Program, node: A.Node) -> sympy.Expr:
    """``node`` as a dimension: built from dimension names and positive integers with
    ``+`` and ``*``, and a positive integer wherever it is concrete."""
    if isinstance(node, A.Name):
        # the common case, a declared dimension by name (`tensor A[i: n]`): nothing to
        # check beyond a concrete value's sign, and the general path below costs tens
        # of microseconds a leg (seconds for a file of 20,000 declarations)
        env = program.env
        sym = env.symbols.get(node.name)
        if sym is not None and sym not in env.derived and env.concrete.get(sym, 1) >= 1:
            return sym
    value = sympy.sympify(scalar(program, node))
    if (
        value.as_numer_denom()[1] != 1
        or any(not a.is_Integer for a in value.atoms(sympy.Number))
        or value.atoms(sympy.Function)
    ):
        raise error_at("a dimension is built from dimension names and positive integers with + and *", node.pos)
    v = value.subs(program.env.concrete_subs())
    if v.is_number and (not v.is_Integer or int(v) < 1):
        raise error_at(f"a dimension must be a positive integer, not {v}", node.pos)
    return value
