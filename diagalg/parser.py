"""Text -> syntax tree (:mod:`diagalg.ast`), with positioned errors.

The grammar is ``grammar/diag.lark`` (installed as ``diagalg/grammar/diag.lark``).
Parsing is LALR(1) with ``strict=True``. A postlexer decides which newlines end a
statement: none inside brackets, none after a trailing binary operator; it also
reports unclosed and mismatched brackets and enforces a nesting limit.

Besides whole files (:func:`parse_text`), :func:`parse_fragment` parses an
expression, an equation or a REPL input by its own start rule, so that errors in
such text are positioned in the text as written.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Iterator, Literal

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from .errors import SourceError
from .parser_fast import declaration_prefix
from .parser_tables import load_parser
from .soft_matrix import soft_matrix
from .vocabulary import statement_keywords

MAX_NESTING = 200
#: A number literal may have at most this many digits, counting its exponent's
#: magnitude (``1e5000`` has 5001): larger ones would take minutes to convert.
MAX_NUMBER_DIGITS = 4000

# A newline right after one of these continues the statement.
_CONTINUING = {"PLUS", "MINUS", "MULOP", "POW", "EQUAL", "EQOP", "_ARROW", "COMMA", "COLON", "CMP"}
_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB"}
_STATEMENT_KEYWORDS = frozenset(statement_keywords())
_CLOSE = {"RPAR": "(", "RSQB": "["}


def _at(tok: Token) -> tuple[int, int]:
    """Line and column of ``tok`` (the lexer's tokens always carry both)."""
    return tok.line or 0, tok.column or 0


class _StatementNewlines:
    """Postlexer: keep ``_NL`` only where it ends a statement."""

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[Token] = []
        prev: Token | None = None
        for tok in soft_matrix(_soft_onehot(stream)):
            if tok.type == "_NL":
                if stack or prev is None or prev.type == "_NL" or prev.type in _CONTINUING:
                    continue
                prev = tok
                yield tok
                continue
            if tok.type == "NAME" and tok.value == "folded" and prev is not None and prev.type == "STRING":
                tok = Token.new_borrow_pos("FOLDED", tok.value, tok)  # draw E to "f.svg" folded
            if tok.type == "NAME" and tok.value == "as" and prev is not None and prev.type == "STRING":
                tok = Token.new_borrow_pos("AS", tok.value, tok)  # weights "m.safetensors" as transformerlens
            if tok.type == "NAME" and tok.value == "values" and prev is not None and prev.type in ("STRING", "FOLDED"):
                tok = Token.new_borrow_pos("VALUES", tok.value, tok)  # draw E to "f.svg" values
            if tok.type == "NAME" and tok.value == "decompose" and not stack and (prev is None or prev.type == "_NL"):
                tok = Token.new_borrow_pos("DECOMPOSE", tok.value, tok)
            if (
                stack
                and tok.value in _STATEMENT_KEYWORDS
                and tok.type != "NAME"
                and prev is not None
                and _at(tok)[0] > _at(prev)[0]
            ):
                # a statement keyword on a new line inside brackets: the bracket was never closed
                opener = stack[-1]
                raise SourceError(f"unclosed '{opener.value}'", *_at(opener))
            if tok.type == "NUMBER":
                _check_number(tok)
            if tok.type in _OPEN:
                stack.append(tok)
                if len(stack) > MAX_NESTING:
                    raise SourceError(f"brackets nested deeper than {MAX_NESTING} levels", *_at(tok))
            elif tok.type in _CLOSE:
                if not stack:
                    raise SourceError(f"unmatched '{tok.value}'", *_at(tok))
                opener = stack.pop()
                if _OPEN[opener.type] != tok.type:
                    raise SourceError(
                        f"'{tok.value}' does not match '{opener.value}' opened at line {opener.line}", *_at(tok)
                    )
            prev = tok
            yield tok
        if stack:
            opener = stack[-1]
            raise SourceError(f"unclosed '{opener.value}'", *_at(opener))
        if prev is None:
            # empty input still ends a line: a fragment then reports "unexpected end of
            # line" at 1:1 (a whole file accepts it as empty)
            yield Token("_NL", "\n", 0, 1, 1, 1, 1, 1)
        elif prev.type != "_NL":
            yield Token.new_borrow_pos("_NL", "\n", prev)


def _soft_onehot(stream: Iterator[Token]) -> Iterator[Token]:
    """The NAME ``onehot`` directly followed by ``(`` as the soft keyword ONEHOT (a file
    that declares a tensor named onehot binds it with ``[``, which stays a NAME); the
    same for the soft bubble words (``sign``, ``step``, ``abs``: :func:`soft_kinds`),
    which become SOFT_CALL."""
    held: Token | None = None
    soft = _soft_words()
    for tok in stream:
        if held is not None:
            yield Token.new_borrow_pos(soft[held.value], held.value, held) if tok.type == "LPAR" else held
            held = None
        if tok.type == "NAME" and tok.value in soft:
            held = tok
            continue
        yield tok
    if held is not None:
        yield held


@lru_cache(maxsize=1)
def _soft_words() -> dict[str, str]:
    """Each soft word the postlexer promotes before ``(``, with the token it becomes."""
    from .bubbles import soft_kinds  # the bubble registry says which bubble names are soft

    return {"onehot": "ONEHOT", **{k: "SOFT_CALL" for k in soft_kinds()}}


def _check_number(tok: Token) -> None:
    """Refuse a number literal that has more than :data:`MAX_NUMBER_DIGITS` digits
    written out (``1e-5000`` counts 5001): converting it would take minutes."""
    mantissa, _, exponent = tok.value.lower().partition("e")
    digits = sum(c.isdigit() for c in mantissa)
    size = math.inf if len(exponent) > 8 else digits + abs(int(exponent or 0))
    if size > MAX_NUMBER_DIGITS:
        raise SourceError(f"number too long (more than {MAX_NUMBER_DIGITS} digits written out)", *_at(tok))


#: The grammar's start rules: a whole file, and the fragments of :func:`parse_fragment`.
FRAGMENTS = ("expr_input", "equation_input", "show_input")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """One parser for every start rule, loaded from the shipped LALR tables
    (:mod:`diagalg.parser_tables`). :class:`_ToAst` runs inline: each reduction builds
    its AST node at once, so no parse tree is built and walked afterwards (that walk
    was half of the time on a large file)."""
    return load_parser(["start", *FRAGMENTS], postlex=_StatementNewlines(), transformer=_ToAst())


def _pos(x: Token | Tree) -> A.Pos:
    if isinstance(x, Token):
        return A.Pos(x.line or 0, x.column or 0)
    meta = x.meta
    return A.Pos(getattr(meta, "line", 0), getattr(meta, "column", 0))


def _label(tok: Token) -> A.LabelRef:
    return A.LabelRef(_pos(tok), str(tok))


class _ToAst(Transformer):
    """Grammar rule -> AST node, called by the LALR parser at each reduction with the
    rule's children (tokens, and the AST nodes of sub-rules already built). Positions
    come from tokens, which always carry them."""

    def __default__(self, data: str, children: list[Any], meta: Any) -> Tree:
        if data.startswith("_"):
            # lark's own helper rules (repetitions such as ``__start_star_0``): a Tree
            # that the parent rule's child filter inlines, as in a tree-building parse
            return Tree(data, children, meta)
        raise NotImplementedError(f"no AST conversion for grammar rule {data!r}")  # pragma: no cover

    # ------------------------------------------------------------------ statements
    def start(self, children: list[Any]) -> list[A.Stmt]:
        return [c for c in children if c is not None]

    def expr_input(self, c: list[Any]) -> A.Node:
        return c[0]

    def equation_input(self, c: list[Any]) -> tuple[A.Node, str, A.Node]:
        lhs, op, rhs = c
        return lhs, str(op), rhs

    def show_input(self, c: list[Any]) -> A.ShowStmt:
        return self.show_stmt(c)

    def dim_plain(self, c: list[Any]) -> A.DimItem:
        return A.DimItem(_pos(c[0]), str(c[0]))

    def dim_value(self, c: list[Any]) -> A.DimItem:
        return A.DimItem(_pos(c[0]), str(c[0]), "=", c[1])

    def dim_constraint(self, c: list[Any]) -> A.DimItem:
        return A.DimItem(_pos(c[0]), str(c[0]), str(c[1]), c[2])

    def dim_stmt(self, c: list[Any]) -> A.DimStmt:
        return A.DimStmt(c[0].pos, tuple(c))

    def leg_decl(self, c: list[Any]) -> A.LegDecl:
        return A.LegDecl(_pos(c[0]), str(c[0]), c[1])

    def prop_legs(self, c: list[Any]) -> tuple[A.LabelRef, ...]:
        return tuple(_label(t) for t in c)

    def prop(self, c: list[Any]) -> A.Prop:
        name = c[0]
        if len(c) == 1:
            return A.Prop(_pos(name), str(name))
        inputs, outputs = c[1], c[2] if len(c) > 2 else None
        return A.Prop(_pos(name), str(name), inputs if inputs is not None else (), outputs)

    def tensor_stmt(self, c: list[Any]) -> A.TensorStmt:
        name = c[0]
        legs = tuple(x for x in c[1:] if isinstance(x, A.LegDecl))
        props = tuple(x for x in c[1:] if isinstance(x, A.Prop))
        return A.TensorStmt(_pos(name), str(name), _pos(name), legs, props)

    def func_stmt(self, c: list[Any]) -> A.FuncStmt:
        name, src, sdim, dst, ddim = c
        return A.FuncStmt(
            _pos(name),
            str(name),
            _pos(name),
            A.LegDecl(_pos(src), str(src), sdim),
            A.LegDecl(_pos(dst), str(dst), ddim),
        )

    def label_list(self, c: list[Any]) -> tuple[A.LabelRef, ...]:
        return tuple(_label(t) for t in c)

    def let_stmt(self, c: list[Any]) -> A.LetStmt:
        name = c[0]
        labels = c[1] if len(c) == 3 else None
        if len(c) == 3 and labels is None:
            labels = ()
        return A.LetStmt(_pos(name), str(name), _pos(name), labels, c[-1])

    def rule_stmt(self, c: list[Any]) -> A.RuleStmt:
        return A.RuleStmt(_pos(c[0]), str(c[0]), _pos(c[0]), c[1], c[2])

    def rule_name(self, c: list[Any]) -> Token:
        return c[0]

    def by_clause(self, c: list[Any]) -> A.ByClause:
        return A.ByClause(_pos(c[0]), tuple(_label(t) for t in c))

    def over_clause(self, c: list[Any]) -> tuple[A.LabelRef, ...]:
        return tuple(_label(t) for t in c)

    def top_clause(self, c: list[Any]) -> tuple[Any, Any]:
        return c[0], c[1]

    def assert_stmt(self, c: list[Any]) -> A.AssertStmt:
        numeric, lhs, op, rhs, by = c
        return A.AssertStmt(lhs.pos, numeric is not None, lhs, str(op), rhs, by)

    def show_stmt(self, c: list[Any]) -> A.ShowStmt:
        unfold, expr, by = c
        return A.ShowStmt(expr.pos, unfold is not None, expr, by)

    def calc_step(self, c: list[Any]) -> A.CalcStep:
        return A.CalcStep(c[0].pos, c[0], c[1])

    def calc_stmt(self, c: list[Any]) -> A.CalcStmt:
        return A.CalcStmt(c[0].pos, c[0], tuple(c[1:]))

    def _expand(self, kind: str, c: list[Any]) -> A.ExpandStmt:
        expr, over, top = c
        top_n = None
        metric = None
        if top is not None:
            top, metric = top
            if not str(top).isdigit():
                raise SourceError("`top` takes a whole number", top.line, top.column)
            top_n = int(str(top))
        return A.ExpandStmt(expr.pos, kind, expr, over or (), top_n, metric)

    def expand_stmt(self, c: list[Any]) -> A.ExpandStmt:
        return self._expand("expand", c)

    def paths_stmt(self, c: list[Any]) -> A.ExpandStmt:
        return self._expand("paths", c)

    def cost_stmt(self, c: list[Any]) -> A.CostStmt:
        return A.CostStmt(c[0].pos, c[0])

    def decompose_stmt(self, c: list[Any]) -> A.DecomposeStmt:
        kw, kind, target = c[0], c[1], c[2]
        op, rhs = c[-2], c[-1]
        return A.DecomposeStmt(
            _pos(kw), str(kind), _pos(kind), str(target), _pos(target), self._args(c[3:-2]), op == "~", rhs
        )

    def decomp_op(self, c: list[Any]) -> str:
        return str(c[0])

    def draw_stmt(self, c: list[Any]) -> A.DrawStmt:
        return A.DrawStmt(c[0].pos, c[0], str(c[1])[1:-1], c[2] is not None, c[3] is not None)

    def weights_stmt(self, c: list[Any]) -> A.WeightsStmt:
        layout = str(c[2]) if len(c) > 2 and c[2] is not None else None
        return A.WeightsStmt(_pos(c[0]), str(c[0])[1:-1], layout, _pos(c[2]) if layout is not None else None)

    def import_stmt(self, c: list[Any]) -> A.ImportStmt:
        return A.ImportStmt(_pos(c[0]), str(c[0])[1:-1], _pos(c[0]))

    # ------------------------------------------------------------------ expressions
    def sum(self, c: list[Any]) -> A.Node:
        items = [c[0]]
        for i in range(1, len(c), 2):
            op, s = c[i], c[i + 1]
            if str(op) == "-":
                s = A.Summand(s.pos, -s.sign, s.tag, s.tag_pos, s.expr)
            items.append(s)
        if len(items) == 1 and items[0].tag is None and items[0].sign == 1:
            return items[0].expr
        return A.Sum(items[0].pos, tuple(items))

    def tag(self, c: list[Any]) -> Token:
        return c[0]

    def summand(self, c: list[Any]) -> A.Summand:
        tag, minus, product = c
        pos = _pos(tag) if tag is not None else (_pos(minus) if minus is not None else product.pos)
        return A.Summand(
            pos,
            -1 if minus is not None else 1,
            str(tag) if tag is not None else None,
            _pos(tag) if tag is not None else None,
            product,
        )

    def product(self, c: list[Any]) -> A.Node:
        factors: list[A.Factor] = []
        op = ""
        for x in c:
            if isinstance(x, Token) and x.type == "MULOP":
                op = str(x)
                continue
            factors.append(A.Factor(op, x))
            op = ""
        if len(factors) == 1:
            return factors[0].expr
        return A.Product(factors[0].expr.pos, tuple(factors))

    def power(self, c: list[Any]) -> A.Power:
        return A.Power(c[0].pos, c[0], c[2])

    def neg_exponent(self, c: list[Any]) -> A.Neg:
        return A.Neg(_pos(c[0]), c[1])

    def number(self, c: list[Any]) -> A.Num:
        return A.Num(_pos(c[0]), str(c[0]))

    def bare_name(self, c: list[Any]) -> A.Name:
        return A.Name(_pos(c[0]), str(c[0]))

    def barg_label(self, c: list[Any]) -> A.Arg:
        return A.Arg(_pos(c[0]), str(c[0]))

    def barg_named(self, c: list[Any]) -> A.Arg:
        return A.Arg(_pos(c[0]), str(c[1]), leg=str(c[0]))

    def barg_select(self, c: list[Any]) -> A.Arg:
        value, vpos = c[1]
        return A.Arg(_pos(c[0]), str(c[0]), value=value, value_pos=vpos)

    def barg_dim(self, c: list[Any]) -> A.Arg:
        return A.Arg(_pos(c[0]), str(c[0]), dim=c[1])

    @staticmethod
    def _args(c: list[Any]) -> tuple[A.Arg, ...]:
        return tuple(x for x in c if isinstance(x, A.Arg))

    def binding(self, c: list[Any]) -> A.Bind:
        return A.Bind(_pos(c[0]), A.Target(_pos(c[0]), str(c[0])), self._args(c[1:]))

    def tfn(self, c: list[Any]) -> Token | A.Target:
        return c[0]

    def tensor_fn(self, c: list[Any]) -> A.Target:
        fn, inner = c
        if isinstance(inner, A.Target):
            return A.Target(_pos(fn), inner.name, (str(fn),) + inner.wrappers)
        return A.Target(_pos(fn), str(inner), (str(fn),))

    def bare_fn(self, c: list[Any]) -> A.Bind:
        return A.Bind(c[0].pos, c[0], None)

    def fn_binding(self, c: list[Any]) -> A.Bind:
        return A.Bind(c[0].pos, c[0], self._args(c[1:]))

    def delta(self, c: list[Any]) -> A.Delta:
        args = self._args(c)
        return A.Delta(args[0].pos if args else A.NOWHERE, args)

    def zero(self, c: list[Any]) -> A.Zero:
        args = self._args(c)
        return A.Zero(args[0].pos if args else A.NOWHERE, args)

    def signed_int(self, c: list[Any]) -> tuple[int, A.Pos]:
        minus, num = c
        text = str(num)
        if not text.isdigit():
            raise SourceError(
                "expected a whole number (a shift offset, a onehot value or a selected index)", num.line, num.column
            )
        return (-1 if minus is not None else 1) * int(text), _pos(minus if minus is not None else num)

    def shift(self, c: list[Any]) -> A.Shift:
        (offset, pos), args = c[0], self._args(c[1:])
        return A.Shift(pos, offset, args)

    def onehot(self, c: list[Any]) -> A.OneHot:
        (value, _), args = c[1], self._args(c[2:])
        return A.OneHot(_pos(c[0]), value, args)

    def paren(self, c: list[Any]) -> Any:
        return c[0]

    def elemfn(self, c: list[Any]) -> A.Node:
        return c[0]

    def axisfn(self, c: list[Any]) -> A.Node:
        return c[0]

    def call1(self, c: list[Any]) -> A.Call:
        return A.Call(_pos(c[0]), str(c[0]), (c[1],))

    def pow_call(self, c: list[Any]) -> A.Call:
        return A.Call(c[0].pos, "pow", (c[0], c[1]))

    def min_call(self, c: list[Any]) -> A.Call:
        return A.Call(c[0].pos, "min", tuple(c))

    def axis_call(self, c: list[Any]) -> A.AxisCall:
        return A.AxisCall(_pos(c[0]), str(c[0]), c[1], c[2])

    def inv_call(self, c: list[Any]) -> A.MatrixCall:
        return self._matrix_call("inv", c)

    def det_call(self, c: list[Any]) -> A.MatrixCall:
        return self._matrix_call("det", c)

    @staticmethod
    def _matrix_call(fn: str, c: list[Any]) -> A.MatrixCall:
        """``inv(E)``/``det(E)`` (c: the word's token, E) or ``inv[k -> i](E)`` (c: the two
        label lists and E; the literal ``inv`` is not kept) or ``det[k -> i](E)``."""
        word = c[0] if isinstance(c[0], Token) else None
        rest = c[1:] if word is not None else c
        if len(rest) == 1:
            return A.MatrixCall(_pos(word) if word is not None else rest[0].pos, fn, None, None, rest[0])
        ins, outs, arg = rest
        return A.MatrixCall(_pos(word) if word is not None else ins[0].pos, fn, ins, outs, arg)

    def func_app(self, c: list[Any]) -> A.FuncApp:
        name, src, dst, *dlegs, arg = c
        return A.FuncApp(_pos(name), str(name), _label(src), _label(dst), arg, tuple(_label(d) for d in dlegs))

    def keep(self, c: list[Any]) -> A.Keep:
        return A.Keep(c[0][0].pos, c[0], c[1])

    def group(self, c: list[Any]) -> A.Group:
        parts, new, arg = c
        return A.Group(parts[0].pos, parts, _label(new), arg)

    def split_part(self, c: list[Any]) -> A.SplitPart:
        return A.SplitPart(_pos(c[0]), str(c[0]), c[1])

    def split(self, c: list[Any]) -> A.Split:
        return A.Split(_pos(c[0]), _label(c[0]), tuple(c[1:-1]), c[-1])

    def diff_binding(self, c: list[Any]) -> A.Bind:
        return A.Bind(_pos(c[0]), A.Target(_pos(c[0]), str(c[0])), self._args(c[1:]))

    def diff_bare(self, c: list[Any]) -> A.Bind:
        return A.Bind(_pos(c[0]), A.Target(_pos(c[0]), str(c[0])), None)

    def diff_fn_binding(self, c: list[Any]) -> A.Bind:
        return A.Bind(c[0].pos, c[0], self._args(c[1:]))

    def diff(self, c: list[Any]) -> A.Diff:
        return A.Diff(c[0].pos, c[0], c[1])


_TOKEN_NAMES = {
    "_NL": "end of line",
    "$END": "end of file",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "EQOP": "'==' or '!='",
    "_ARROW": "'->'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "MULOP": "'*' or '/'",
    "POW": "'**'",
    "CMP": "a comparison",
}


def _describe(term: str) -> str:
    if term in _TOKEN_NAMES:
        return _TOKEN_NAMES[term]
    try:
        pattern = _lark().get_terminal(term).pattern
        if pattern.type == "str":
            return f"'{pattern.value}'"
    except KeyError:
        pass
    return term.lower()


def _syntax_error(err: UnexpectedInput) -> SourceError:
    if isinstance(err, UnexpectedCharacters):
        ch = err.char
        return SourceError(f"unexpected character {ch!r}", err.line, err.column)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            expected = sorted({_describe(t) for t in err.expected if not t.startswith("__")})
            exp = f"; expected {', '.join(expected)}" if expected and len(expected) <= 8 else ""
            return SourceError(f"unexpected end of file{exp}", err.line, err.column)
        what = "end of line" if tok.type == "_NL" else repr(str(tok))
        expected = sorted({_describe(t) for t in err.expected if not t.startswith("__")})
        hint = ""
        if tok.type in _KEYWORD_TYPES():
            hint = f" ('{tok}' is a reserved word)"
        if tok.type == "POW":
            hint = " (`**` does not chain: add parentheses, e.g. a ** (b ** c))"
        exp = ""
        if expected and len(expected) <= 8:
            exp = "; expected " + ", ".join(expected)
        line = tok.line if tok.line is not None else err.line
        col = tok.column if tok.column is not None else err.column
        return SourceError(f"unexpected {what}{hint}{exp}", line, col)
    if isinstance(err, UnexpectedEOF):
        return SourceError("unexpected end of file", err.line, err.column)
    return SourceError(str(err).splitlines()[0], getattr(err, "line", 0), getattr(err, "column", 0))


@lru_cache(maxsize=1)
def _KEYWORD_TYPES() -> frozenset[str]:
    out = set()
    for t in _lark().terminals:
        if t.pattern.type == "str" and t.pattern.value.isidentifier():
            out.add(t.name)
    return frozenset(out)


def parse_text(text: str, path: str = "<input>", *, hand_path: bool = True) -> A.Module:
    """Parse a whole .diag file. Raises :class:`SourceError` (located) on bad input.

    The file's opening run of plain declarations is read by
    :func:`~diagalg.parser_fast.declaration_prefix` (``hand_path=False`` gives it to
    the grammar too, for tests that the two agree); lark reads the rest with those
    lines left empty, so every position it reports is where it is in ``text``."""
    head: list[A.Stmt] = []
    rest = text
    if hand_path:
        head, lines = declaration_prefix(text)
        if lines:
            cut = 0
            for _ in range(lines):
                cut = text.index("\n", cut) + 1
            rest = "\n" * lines + text[cut:]
    return A.Module(path, text, head + _parse(rest, "start", path, text))


Fragment = Literal["expr_input", "equation_input", "show_input"]


def parse_fragment(
    text: str, start: Fragment, path: str = "<input>"
) -> A.Node | A.ShowStmt | tuple[A.Node, str, A.Node]:
    """Parse ``text`` by one of the fragment start rules: ``expr_input`` gives an
    expression node, ``equation_input`` a tuple ``(lhs, op, rhs)`` and ``show_input``
    an :class:`~diagalg.ast.ShowStmt` (``[unfold] E [by RULES]``). Positions are in
    ``text`` itself (line 1, column 1 is its first character); a bad input raises
    :class:`SourceError` located in ``path`` and ``text``."""
    if start not in FRAGMENTS:
        raise ValueError(f"unknown fragment {start!r} (one of {', '.join(FRAGMENTS)})")
    return _parse(text, start, path)


def _parse(text: str, start: str, path: str, shown: str | None = None) -> Any:
    """Parse ``text`` from ``start``; errors are located in ``path`` and show the
    lines of ``shown`` (the text as the user wrote it; ``text`` by default). The result
    is what :class:`_ToAst` builds for ``start`` (lark types it as a parse tree)."""
    shown = text if shown is None else shown
    try:
        return _lark().parse(text, start=start)
    except SourceError as e:
        raise e.located(path, shown) from None
    except UnexpectedInput as e:
        raise _syntax_error(e).located(path, shown) from None
    except VisitError as e:
        if isinstance(e.orig_exc, SourceError):
            raise e.orig_exc.located(path, shown) from None
        raise
