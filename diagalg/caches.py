"""Every memo diagalg keeps, clearable in one call.

diagalg memoises canonical keys, derivative expansions, compiled size conditions and
contraction orders, because a check meets the same diagram many times. A benchmark
must not let one run profit from another's memos when the peer it is compared
against gets no such help, so each module that keeps a memo registers how to clear
it here, at import, and :func:`clear_all` clears them all (modules never imported
have nothing to clear).
"""

from __future__ import annotations

from typing import Callable

_CLEARERS: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    """Register ``clear`` (a memo's clearing function); returns it unchanged."""
    _CLEARERS.append(clear)
    return clear


def clear_all() -> None:
    """Clear every registered memo."""
    for clear in _CLEARERS:
        clear()
