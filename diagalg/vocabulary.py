"""The language's vocabulary, read from the grammar (``grammar/diag.lark``).

Printing (names that would parse as keywords get a suffix), the REPL (completion)
and the bubble registry's tests need the language's words; reading them from the
grammar file keeps one source: a keyword added to the grammar is known everywhere.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

#: Grammar rules whose literals are the function-call tokens of bubbles (and of the
#: scalar functions among them).
BUBBLE_TOKEN_RULES = ("elemfn", "axisfn")
#: Grammar aliases of alternatives whose leading literal is a bubble token.
BUBBLE_TOKEN_ALIASES = ("pow_call",)
#: Function tokens that take scalars only (lowered to sympy, never a bubble).
SCALAR_FUNCTIONS = ("sqrt", "min")

#: File extensions a drawing can be written to, and the format each means: the
#: lowering checks a ``draw ... to "file"`` statement's name against these without
#: importing the renderer, which a check does not otherwise need.
DRAWING_EXTENSIONS = {".svg": "svg", ".tex": "tikz", ".tikz": "tikz", ".png": "png", ".html": "html", ".htm": "html"}
#: the kinds a drawing with its values can be written as (the values panels are SVG)
VALUES_KINDS = ("svg", "html", "png")

_WORD = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')


def grammar_path() -> Path:
    """Where the grammar file is: inside the installed package, or at the repo root."""
    packaged = Path(__file__).parent / "grammar" / "diag.lark"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "grammar" / "diag.lark"


@lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar file's text with ``//`` comments removed."""
    return "\n".join(line.split("//", 1)[0] for line in grammar_path().read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=1)
def grammar_keywords() -> tuple[str, ...]:
    """Every keyword of the language: the identifier-like literals of the grammar, in
    the order they first appear (soft keywords such as ``decompose``, which are names
    elsewhere, are not literals and are not included)."""
    return tuple(dict.fromkeys(_WORD.findall(grammar_text())))


def rule_literals(rule: str) -> tuple[str, ...]:
    """The identifier-like literals of grammar rule ``rule`` (its whole definition)."""
    m = re.search(
        rf"^[!?]?{re.escape(rule)}\s*:(.*?)(?=^[!?]?[A-Za-z_]\w*\s*:|^%|\Z)", grammar_text(), re.MULTILINE | re.DOTALL
    )
    if m is None:
        raise ValueError(f"the grammar has no rule {rule!r}")
    return tuple(dict.fromkeys(_WORD.findall(m.group(1))))


def alias_literal(alias: str) -> str:
    """The leading literal of the grammar alternative aliased ``-> alias``."""
    m = re.search(rf'^\s*\|?\s*"([A-Za-z_]\w*)"[^\n]*->\s*{re.escape(alias)}\s*$', grammar_text(), re.MULTILINE)
    if m is None:
        raise ValueError(f"the grammar has no alternative -> {alias} starting with a literal")
    return m.group(1)


@lru_cache(maxsize=1)
def grammar_bubble_tokens() -> tuple[str, ...]:
    """The grammar's bubble tokens: the literals of :data:`BUBBLE_TOKEN_RULES` and the
    leading literals of :data:`BUBBLE_TOKEN_ALIASES`, less :data:`SCALAR_FUNCTIONS`.
    Each must have a module in :mod:`diagalg.bubbles` (and each keyword kind there a token)."""
    words = [w for rule in BUBBLE_TOKEN_RULES for w in rule_literals(rule)]
    words += [alias_literal(a) for a in BUBBLE_TOKEN_ALIASES]
    return tuple(w for w in dict.fromkeys(words) if w not in SCALAR_FUNCTIONS)


@lru_cache(maxsize=1)
def statement_keywords() -> tuple[str, ...]:
    """The words that start a statement: the leading literal of each alternative of the
    grammar's ``stmt`` rule, in grammar order (``decompose`` is a soft keyword, a NAME
    the postlexer promotes, so it is not among them)."""
    m = re.search(r"^\?stmt\s*:(.*?)(?=^\S)", grammar_text(), re.MULTILINE | re.DOTALL)
    if m is None:
        raise ValueError("the grammar has no stmt rule")
    words = []
    for rule in re.findall(r"[a-z_]+", m.group(1)):
        lead = re.search(rf'^{re.escape(rule)}\s*:\s*"([A-Za-z_]\w*)"', grammar_text(), re.MULTILINE)
        if lead:
            words.append(lead.group(1))
    return tuple(words)
