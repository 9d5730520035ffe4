"""The postlexer stage for ``inv`` and ``det`` of an expression (grammar tokens INVX, DET).

``inv(X)`` with a bare tensor name (or ``inv``/``conj`` of one) inside is the tensor
function of the contract; ``inv`` before ``(`` with anything else in the parentheses
(``inv(X + A)``, ``inv(A[i, j] B[j, k])``) becomes INVX, the inverse of an expression.
``det`` is a soft word (contract section 1): it becomes DET only before ``(``, or
before a ``[`` whose brackets hold ``->`` (``det[k -> i](E)``), so a file that
declares a tensor named ``det`` and binds it as ``det[i, j]`` keeps working. The
tokens in the parentheses or brackets are held until the matching close (or the end
of the input: the bracket check that follows reports an unclosed one).
"""

from __future__ import annotations

from typing import Callable, Iterator

from lark import Token

_OPENERS = {"LPAR", "LSQB"}
_CLOSERS = {"RPAR", "RSQB"}


def _held_group(first: Token, pull: Callable[[], Token | None]) -> list[Token]:
    """``first`` (an opening bracket) and the tokens up to its matching close, read with
    ``pull`` (never by iterating a generator that could be closed half-read: closing it
    would close the lexer's stream behind it)."""
    out, depth = [first], 1
    while depth and (tok := pull()) is not None:
        out.append(tok)
        if tok.type in _OPENERS:
            depth += 1
        elif tok.type in _CLOSERS:
            depth -= 1
    return out


def _tensor_function(inside: list[Token]) -> bool:
    """True when the tokens between ``inv(`` and ``)`` are ``NAME`` or ``f(...(NAME)...)``
    with f ``inv`` or ``conj``: the tensor-function form."""
    k = 0
    while k + 1 < len(inside) and inside[k].type in ("INV", "CONJ") and inside[k + 1].type == "LPAR":
        k += 2
    depth = k // 2
    return len(inside) == k + 1 + depth and inside[k].type == "NAME" and all(t.type == "RPAR" for t in inside[k + 1 :])


def soft_matrix(stream: Iterator[Token]) -> Iterator[Token]:
    """The stream with INVX and DET promoted (see the module docstring)."""
    source = iter(stream)
    back: list[Token] = []  # tokens read ahead and not yet decided, next first (a stack)

    def pull() -> Token | None:
        return back.pop() if back else next(source, None)

    while (tok := pull()) is not None:
        if not (tok.type == "INV" or (tok.type == "NAME" and tok.value == "det")):
            yield tok
            continue
        nxt = pull()
        if nxt is None or nxt.type not in ("LPAR", "LSQB") or (tok.type == "INV" and nxt.type != "LPAR"):
            yield tok
            if nxt is not None:
                back.append(nxt)
            continue
        group = _held_group(nxt, pull)
        if tok.type == "INV":
            inside = group[1:-1] if group[-1].type == "RPAR" else group[1:]
            promote = not _tensor_function(inside)
            yield Token.new_borrow_pos("INVX", tok.value, tok) if promote else tok
        else:
            promote = nxt.type == "LPAR" or any(t.type == "_ARROW" for t in group)
            yield Token.new_borrow_pos("DET", tok.value, tok) if promote else tok
        yield group[0]
        back.extend(reversed(group[1:]))  # the rest is read again: it may hold inv or det
