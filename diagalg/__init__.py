"""diagalg: symbolic tensor-diagram algebra (Penrose graphical notation).

Quick use::

    import diagalg
    prog = diagalg.parse('''
    dim n
    tensor A[i: n, j: n]
    tensor B[i: n, j: n]
    ''')
    lhs = prog.expr("A[i, j] B[j, k]")
    rhs = prog.expr("A[i, l] B[l, k]")
    assert diagalg.equal(lhs, rhs, prog)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import SourceError  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterable

    from .engine import Derivation
    from .model import Diagram, Expr, Term
    from .program import Program
    from .render.values import ValuesFigure
    from .report import StatementView

# The model classes are imported on first use (PEP 562): ``import diagalg`` is then
# cheap, so ``diagalg --version`` and ``--help`` do not pay for sympy and numpy.
_LAZY = {"Diagram": "model", "Expr": "model", "Term": "model", "Program": "program"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(path: str | Path) -> "Program":
    """Parse and check a .diag file and its imports. Raises :class:`SourceError`."""
    from .lower import load_program

    return load_program(path)


def parse(text: str, path: str = "<input>", base_dir: str | Path | None = None) -> "Program":
    """Parse and check .diag text. Raises :class:`SourceError`."""
    from .lower import parse_program

    return parse_program(text, path, base_dir)


def simplify(
    expr: Expr, rules: Iterable[str] | None = None, program: Program | None = None, unfold: bool = False
) -> Derivation:
    """Simplify with the named rules (default rules if None); returns a Derivation
    (``.result`` the simplified expression, ``.steps`` the rewrites)."""
    from .engine import simplify as _simplify

    subs = program.env.concrete_subs() if program is not None else None
    return _simplify(expr, rules=rules, subs=subs, unfold_lets=unfold)


def equal(a: Expr, b: Expr, program: Program | None = None, rules: Iterable[str] | None = None) -> bool:
    """True when ``a`` and ``b`` simplify (default rules, lets unfolded, and the
    program's exact decompositions unfolded) to equal expressions."""
    from .canonical import equal as _equal
    from .engine import simplify as _simplify
    from .rules import DEFAULT_RULES

    subs = program.env.concrete_subs() if program is not None else None
    extra = None
    if program is not None and program.auto_rules:
        from .rules.user import user_rules

        extra = user_rules(program, program.auto_rules)
        rules = tuple(rules if rules is not None else DEFAULT_RULES) + tuple(program.auto_rules)
    sa = _simplify(a, rules=rules, subs=subs, unfold_lets=True, extra_rules=extra).result
    sb = _simplify(b, rules=rules, subs=subs, unfold_lets=True, extra_rules=extra).result
    return _equal(sa, sb, subs)


def values(expr: Expr, program: Program, seed: int = 0) -> "ValuesFigure":
    """The drawing of ``expr`` with the arrays behind it below (``diagalg draw --values``):
    heatmaps and bars of its value and of every tensor it shows, from ``program``'s bound
    weights or one instance sampled from ``seed``. Returns a figure a notebook displays;
    ``.svg`` is the document, ``.shown.arrays`` the arrays, ``.shown.source`` where they
    come from."""
    from .render.values import ValuesFigure
    from .values_figure import values_document

    return ValuesFigure(*values_document(expr, program, seed))


def statement(program: Program, line: int, seed: int = 0) -> "StatementView":
    """Run the statement of ``program`` that starts on ``line`` as ``diagalg check`` does
    (``seed`` for its random draws) and return its result lines with the figures the HTML
    report draws of it: for ``expand`` and ``paths`` every listed term drawn under its
    line. A notebook displays the figures; ``.results`` are the result lines and
    ``.terms`` the (line, expression) pairs. Raises ``KeyError`` naming the lines that
    have statements when none starts on ``line``."""
    from .checker import Checker, Options
    from .report import statement_view

    stmt = next((s for s in program.statements if s.source.line == line), None)
    if stmt is None:
        lines = ", ".join(str(s.source.line) for s in program.statements) or "none"
        raise KeyError(f"no statement starts on line {line} (statements start on lines: {lines})")
    return statement_view(Checker(program, Options(seed=seed)), stmt)


def to_text(expr: Expr) -> str:
    """The expression as .diag text (parses back to an equal expression)."""
    from .printing import expr_text

    return expr_text(expr)


__all__ = [
    "load",
    "parse",
    "simplify",
    "equal",
    "to_text",
    "values",
    "statement",
    "Program",
    "Expr",
    "Diagram",
    "Term",
    "SourceError",
    "__version__",
]
