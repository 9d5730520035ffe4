"""The front end's semantic pass: parsed .diag text -> :class:`~diagalg.program.Program`.

It only translates: names are resolved, labels and dimensions checked and
expressions lowered to the diagram model; what a statement means beyond its
syntax is decided where it belongs (:mod:`diagalg.decompose`, :mod:`diagalg.weights`).

- :mod:`~diagalg.lower.load`: the pipeline (read -> parse -> lower) and the entry points
- :mod:`~diagalg.lower.statements`: statements, in order, into a program
- :mod:`~diagalg.lower.expr`: one statement's expressions into model expressions
  (with :mod:`~diagalg.lower.ir`, the intermediate form, and
  :mod:`~diagalg.lower.scalars`, numbers and dimensions)
"""

from __future__ import annotations

from .load import Loader, expression_of_name, load_program, parse_expression, parse_pair, parse_program, parse_show

__all__ = [
    "Loader",
    "expression_of_name",
    "load_program",
    "parse_expression",
    "parse_pair",
    "parse_program",
    "parse_show",
]
