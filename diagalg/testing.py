"""Assertions for identities written in Python tests.

::

    from diagalg.testing import assert_equal, assert_numeric_equal

    prog = diagalg.parse("dim n, r <= n\\ntensor V[a: n, b: r] isometry(b -> a)")
    assert_equal("V[a, b] V[a, c]", "delta[b, c]", prog)

Both run exactly what ``diagalg check`` runs for ``assert L == R`` (and ``assert
numeric L == R``), so they pass and fail in the same cases. A failure raises
:class:`AssertionError` whose message shows both sides as .diag text, what they
simplify to (when the proof failed), and the numeric error with its seed.
"""

from __future__ import annotations

import inspect
from typing import Sequence

from .model import Expr
from .printing import expr_text
from .program import Program

__all__ = ["assert_equal", "assert_numeric_equal"]


def assert_equal(
    lhs: Expr | str, rhs: Expr | str, program: Program | None = None, *, rules: Sequence[str] = (), seed: int = 0
) -> None:
    """Pass when ``lhs == rhs`` is proved symbolically (default rules plus ``rules``)
    and confirmed numerically, as ``assert L == R by RULES`` in a .diag file; else
    raise AssertionError (the message shows both sides and the numeric error).
    Strings are parsed in ``program``'s declarations."""
    __tracebackhide__ = True  # pytest shows the caller's line, not ours
    _check(lhs, rhs, program, numeric=False, rules=tuple(rules), seed=seed)


def assert_numeric_equal(lhs: Expr | str, rhs: Expr | str, program: Program | None = None, *, seed: int = 0) -> None:
    """Pass when the two sides agree on every random draw of ``diagalg check``'s numeric
    check (``assert numeric L == R``); else raise AssertionError with both sides and
    the numeric error (or why the check was inconclusive)."""
    __tracebackhide__ = True
    _check(lhs, rhs, program, numeric=True, rules=(), seed=seed)


def _check(
    lhs: Expr | str, rhs: Expr | str, program: Program | None, *, numeric: bool, rules: tuple[str, ...], seed: int
) -> None:
    __tracebackhide__ = True
    from .checker import OK, Checker, Options
    from .program import AssertStmt, Source

    if program is None:
        if isinstance(lhs, str) or isinstance(rhs, str):
            raise TypeError("expressions given as text need the program that declares their tensors")
        program = Program("<python>")
    if isinstance(lhs, str) or isinstance(rhs, str):
        from .lower import parse_pair

        left, right = parse_pair(
            program, lhs if isinstance(lhs, str) else expr_text(lhs), rhs if isinstance(rhs, str) else expr_text(rhs)
        )
    else:
        left, right = lhs, rhs
    if set(left.labels) != set(right.labels):
        raise AssertionError(
            f"the sides have different free labels: {', '.join(left.labels) or 'none'} "
            f"and {', '.join(right.labels) or 'none'}\n  left:  {expr_text(left)}\n"
            f"  right: {expr_text(right)}"
        )
    caller = inspect.stack()[2]
    op = "assert numeric" if numeric else "assert"
    by = f" by {', '.join(rules)}" if rules else ""
    text = f"{op} {expr_text(left)} == {expr_text(right)}{by}"
    source = Source(caller.filename, caller.lineno, 1, text)
    stmt = AssertStmt(source, left, right, "==", numeric, rules)
    result = Checker(program, Options(seed=seed)).run_statement(stmt)[0]
    if result.status == OK:
        return
    lines = [f"{result.status}: {result.detail}", f"  left:  {expr_text(left)}", f"  right: {expr_text(right)}"]
    lines += [f"  {line}" for line in result.output]
    if result.path == "exact":
        lines.append(f"  decided exactly over prime fields (seed {result.seed})")
    elif result.error is not None:
        lines.append(f"  numeric error: {result.error:.3g} relative (seed {result.seed})")
    raise AssertionError("\n".join(lines))
