"""The LALR tables of ``grammar/diag.lark``, built once and shipped as data.

Building the parser from the grammar costs about half a second on every start (most
of it lark's ``strict`` check that no two terminals' regular expressions overlap);
loading the same tables from JSON costs about 10 ms. The tables live in
``grammar/diag.tables.json`` (installed as ``diagalg/grammar/diag.tables.json``)
together with the SHA-256 of the grammar text and the lark version that built them.
When either differs from what is installed, :func:`load_parser` builds from the
grammar instead, so a stale table can cost time but never a wrong parse;
``tests/test_parser_tables.py`` fails while the shipped table is stale and
``scripts/build_parser_tables.py`` (``make parser-tables``) rewrites it.

Why JSON and not lark's own cache: lark's cache is a pickle in the shared temporary
directory, which any local user could replace with one that runs code on load; and it
is built on first use, so every fresh install paid the build once per user. A JSON
file inside the package is data, is as trusted as the code beside it, and is the
same for every user.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import lark
from lark import Lark

from .vocabulary import grammar_path

#: The options every diagalg parser is built with. ``strict`` makes lark refuse
#: terminal collisions and shift/reduce conflicts at build time (the tables are only
#: ever written from a strict build); positions come from tokens, which always carry
#: them, so no tree metadata is propagated.
OPTIONS: dict[str, Any] = dict(parser="lalr", lexer="basic", strict=True, maybe_placeholders=True)

_FORMAT = 1


def tables_path() -> Path:
    """Where the shipped tables are: beside the grammar file that :func:`grammar_path` finds."""
    return grammar_path().with_name("diag.tables.json")


def grammar_digest(text: str) -> str:
    """The SHA-256 of the grammar text the tables were built from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_parser(start: Sequence[str], **runtime: Any) -> Lark:
    """A parser built from the grammar file (the slow path: about 0.5 s)."""
    return Lark(grammar_path().read_text(encoding="utf-8"), start=list(start), **OPTIONS, **runtime)


def load_parser(start: Sequence[str], **runtime: Any) -> Lark:
    """The parser for ``start`` with the ``runtime`` options (``postlex``,
    ``transformer``), from the shipped tables when they were built from this grammar
    by this lark version and for these start rules, else built from the grammar."""
    text = grammar_path().read_text(encoding="utf-8")
    stored = _stored(text, start)
    if stored is not None:
        return Lark._load_from_dict(stored["data"], stored["memo"], **runtime)
    return Lark(text, start=list(start), **OPTIONS, **runtime)


def write_tables(start: Sequence[str]) -> Path:
    """Build the parser from the grammar (strictly) and write its tables to
    :func:`tables_path`; returns the path."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    text = grammar_path().read_text(encoding="utf-8")
    parser = Lark(text, start=list(start), **OPTIONS)
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    for runtime in ("postlex", "transformer", "lexer_callbacks"):
        data["options"].pop(runtime, None)  # given again at load time, never stored
    payload = {"header": _header(text, start), "data": data, "memo": memo}
    path = tables_path()
    path.write_text(json.dumps(_encode(payload), separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    return path


def tables_are_fresh(start: Sequence[str]) -> bool:
    """Whether the shipped tables match the grammar file, lark version and start rules."""
    return _stored(grammar_path().read_text(encoding="utf-8"), start) is not None


def _stored(text: str, start: Sequence[str]) -> dict[str, Any] | None:
    """The shipped tables when they were built from ``text`` by this lark version for
    these start rules; None when they are missing, unreadable or stale."""
    try:
        stored = json.loads(tables_path().read_text(encoding="utf-8"), object_hook=_decode)
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and stored.get("header") == _header(text, start) else None


def _header(text: str, start: Sequence[str]) -> dict[str, Any]:
    return {"format": _FORMAT, "grammar_sha256": grammar_digest(text), "lark": lark.__version__, "start": list(start)}


# JSON has neither integer keys nor tuples, and lark's serialised tables use both
# (parse states are keyed by number; actions are tuples): tag them so they come back
# exactly as they were.
def _encode(x: Any) -> Any:
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {k: _encode(v) for k, v in x.items()}
        return {"__int_keys__": [[k, _encode(v)] for k, v in x.items()]}
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v) for v in x]}
    if isinstance(x, list):
        return [_encode(v) for v in x]
    return x


def _decode(d: dict[str, Any]) -> Any:
    if "__int_keys__" in d:
        return {int(k): v for k, v in d["__int_keys__"]}
    if "__tuple__" in d:
        return tuple(d["__tuple__"])
    return d
