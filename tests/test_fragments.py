"""Fragments of .diag text parsed by their own start rule (an expression, an
equation, a REPL input shown as `show`): positions are in the text as written,
with no statement keyword wrapped around it."""

from __future__ import annotations

import pytest

import diagalg
from diagalg import ast as A
from diagalg.lower import parse_expression, parse_pair, parse_show
from diagalg.parser import parse_fragment

DECLS = "dim n\ntensor A[i: n, j: n]\ntensor B[i: n, j: n]\n"


@pytest.fixture
def prog():
    return diagalg.parse(DECLS)


def test_fragment_start_rules_give_nodes_positioned_in_their_text():
    expr = parse_fragment("A[i, j] B[j, k]", "expr_input")
    assert isinstance(expr, A.Product) and expr.factors[1].expr.pos == A.Pos(1, 9)
    lhs, op, rhs = parse_fragment("A[i, j] == B[i, j]", "equation_input")
    assert (op, lhs.pos, rhs.pos) == ("==", A.Pos(1, 1), A.Pos(1, 12))
    show = parse_fragment("unfold A[i, j] by delta", "show_input")
    assert show.unfold and show.expr.pos == A.Pos(1, 8) and show.by.rules[0].name == "delta"
    with pytest.raises(ValueError):
        parse_fragment("A[i, j]", "start")  # type: ignore[arg-type]


def test_a_fragment_error_has_the_fragment_position_and_caret():
    with pytest.raises(diagalg.SourceError) as info:
        parse_fragment("A[i, j] +", "expr_input", "<expr>")
    assert info.value.render().splitlines() == [
        "<expr>:1:9: error: unexpected end of line",
        "    A[i, j] +",
        "            ^",
    ]
    with pytest.raises(diagalg.SourceError) as info:
        parse_fragment("", "expr_input")
    assert (info.value.line, info.value.col) == (1, 1)


def test_parse_expression_keeps_its_tags_to_itself(prog):
    first = parse_expression(prog, "u: A[i, j] + v: B[i, j]")
    assert parse_expression(prog, "u: A[i, j] + v: B[i, j]") == first
    assert prog.tags == set()


def test_parse_pair_is_positioned_in_the_equation(prog):
    left, right = parse_pair(prog, "A[i, j]  B[j, k]", "B[i, l] A[l, k]")
    assert set(left.labels) == set(right.labels) == {"i", "k"}
    with pytest.raises(diagalg.SourceError) as info:
        parse_pair(prog, "A[i, j]", "Q[i, j]")
    assert info.value.render().splitlines() == [
        "<python>:1:12: error: undeclared name 'Q'",
        "    A[i, j] == Q[i, j]",
        "               ^",
    ]


def test_parse_show_is_the_statement_show_on_its_line(prog):
    stmt = parse_show(prog, "t: A[i, j] delta[j, k] by delta", "<repl>", 7)
    assert (stmt.source.path, stmt.source.line, stmt.source.text) == (
        "<repl>",
        7,
        "show t: A[i, j] delta[j, k] by delta",
    )
    assert stmt.rules == ("delta",) and prog.tags == {"t"}
    with pytest.raises(diagalg.SourceError, match="summand tag 't' is already used"):
        parse_show(prog, "t: A[i, j]", "<repl>", 8)
    with pytest.raises(diagalg.SourceError) as info:
        parse_show(prog, "s: A[i, j] Q[j, k]", "<repl>", 8)
    assert (info.value.line, info.value.col) == (1, 12)
    assert prog.tags == {"t"}  # a failed input leaves the program's tags as they were
