"""Scalars (sympy coefficients and dimensions) as .diag text.

Printed text uses only what the language's scalar expressions allow: numbers,
dimension names, ``+ - * / **``, ``sqrt``, ``exp``, ``log`` and ``min``.
"""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter


class _DiagScalarPrinter(StrPrinter):
    def _print_Min(self, expr: sympy.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Exp1(self, expr: sympy.Expr) -> str:
        return "exp(1)"

    def _print_exp(self, expr: sympy.Expr) -> str:
        return f"exp({self._print(expr.args[0])})"

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))


_PRINTER = _DiagScalarPrinter({"order": "lex"})


def scalar_text(value: sympy.Expr) -> str:
    """``value`` as .diag scalar text that parses back to the same sympy value."""
    return _PRINTER.doprint(sympy.sympify(value))
