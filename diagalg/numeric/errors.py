"""Errors raised by the numeric oracle, and the memory-cap wording they share."""

from __future__ import annotations


class NumericError(Exception):
    """Base class: a numeric check could not be carried out (not a bug, not a refutation)."""


class SamplingError(NumericError):
    """No dimension sizes or tensor instance could be drawn that honour the declarations."""


class MemoryCapError(NumericError):
    """An array (sampled tensor, intermediate or output) would exceed the memory cap."""


def format_bytes(n: int | float) -> str:
    """``n`` bytes as short text in binary units: ``1 GiB``, ``1.5 MiB``, ``312 B``, and
    past exbibytes in powers of ten (``1.1e+08 EiB``: a hopeless contraction's figure stays
    readable); ``about 2^1030 B`` for a count too large for a float (a huge declared dimension)."""
    if isinstance(n, int) and n.bit_length() > 1000:
        return f"about 2^{n.bit_length() - 1} B"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024:
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        if unit == "EiB":
            return f"{value:.2g} EiB" if value >= 10_000 else f"{value:.0f} EiB"
        value /= 1024
    raise AssertionError  # pragma: no cover


def format_count(n: int) -> str:
    """A count of entries as text: ``1,000,000`` up to ten million, then ``1.46e+25``."""
    return f"{n:,}" if n < 10**7 else f"{n:.3g}"


def check_memory(nbytes: int | float, cap: int, what: str) -> None:
    """Raise :class:`MemoryCapError` when ``nbytes`` (the size of ``what``) exceeds ``cap``."""
    if nbytes > cap:
        raise MemoryCapError(
            f"{what} needs {format_bytes(nbytes)}, which exceeds the memory cap of {format_bytes(cap)} (--memory)"
        )
