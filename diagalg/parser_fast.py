"""A hand path for the plain declarations that open a file.

Large generated files (a ring of 20,000 matrices, a long MPS) are mostly lines like
``tensor A17[i: n, j: n]``: a dozen tokens each, which lark's pure-Python lexer and
LALR loop handle at about 13 us a token. :func:`declaration_prefix` reads the file's
opening run of such lines with one regular expression each and builds the same AST
nodes the grammar would, so lark only sees the rest of the file.

Why only the opening run, and only the plainest forms: a line is read here only when
it is certainly a whole statement by itself. Every line before it is blank, a
comment, or another such declaration, so it cannot be inside an open bracket or after
a trailing operator, where the grammar would read it differently (or report an error
at a place this path would not see). Anything else on a line (a property, a dimension
expression, a reserved word as a name, a line continuation) ends the run and the
grammar reads it, so error messages are the grammar's own. ``tests/test_parser_tables.py``
checks that this path and the grammar give equal ASTs for every example file.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import ast as A
from .vocabulary import grammar_keywords

_S = r"[ \t\f]*"
_NAME = r"[A-Za-z_][A-Za-z0-9_']*"
_LEG = rf"({_NAME}){_S}:{_S}({_NAME}|[0-9]{{1,9}}){_S}"
_END = rf"{_S}(?:#[^\n]*)?"
_BLANK = re.compile(_END)
_TENSOR = re.compile(rf"{_S}tensor[ \t\f]+({_NAME}){_S}\[{_S}({_LEG}(?:,{_S}{_LEG})*)\]{_END}")
_DIM = re.compile(rf"{_S}dim[ \t\f]+({_NAME}{_S}(?:,{_S}{_NAME}{_S})*){_END}")
_LEG_RE = re.compile(_LEG)
_NAME_RE = re.compile(_NAME)


@lru_cache(maxsize=1)
def _reserved() -> frozenset[str]:
    return frozenset(grammar_keywords())


def declaration_prefix(text: str) -> tuple[list[A.Stmt], int]:
    """The statements of ``text``'s opening run of blank lines, comments, plain ``dim``
    lines (``dim n, m``) and plain ``tensor`` lines (legs ``name: dim`` with a name or
    a whole number as the dimension, no properties), and how many lines that run
    spans. The statements are exactly those the grammar gives for the same lines."""
    stmts: list[A.Stmt] = []
    reserved = _reserved()
    lines = text.split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if number == len(lines) and line:
            return stmts, number - 1  # no newline after it: the grammar reads it (and its end-of-file rules)
        if _BLANK.fullmatch(line):
            continue
        m = _TENSOR.fullmatch(line)
        stmt: A.Stmt | None
        if m is not None:
            stmt = _tensor(m, number, reserved)
        else:
            m = _DIM.fullmatch(line)
            stmt = _dim(m, number, reserved) if m is not None else None
        if stmt is None:
            return stmts, number - 1
        stmts.append(stmt)
    return stmts, len(lines) - 1  # every line ended with a newline (the last one is empty)


def _tensor(m: re.Match[str], line: int, reserved: frozenset[str]) -> A.TensorStmt | None:
    name = m.group(1)
    if name in reserved:
        return None
    legs: list[A.LegDecl] = []
    for leg in _LEG_RE.finditer(m.string, m.start(2), m.end(2)):
        label, dim = leg.group(1), leg.group(2)
        if label in reserved or dim in reserved:
            return None
        dim_pos = A.Pos(line, leg.start(2) + 1)
        node: A.Node = A.Num(dim_pos, dim) if dim[0].isdigit() else A.Name(dim_pos, dim)
        legs.append(A.LegDecl(A.Pos(line, leg.start(1) + 1), label, node))
    pos = A.Pos(line, m.start(1) + 1)
    return A.TensorStmt(pos, name, pos, tuple(legs), ())


def _dim(m: re.Match[str], line: int, reserved: frozenset[str]) -> A.DimStmt | None:
    items = []
    for name in _NAME_RE.finditer(m.string, m.start(1), m.end(1)):
        if name.group() in reserved:
            return None
        items.append(A.DimItem(A.Pos(line, name.start() + 1), name.group()))
    return A.DimStmt(items[0].pos, tuple(items))
