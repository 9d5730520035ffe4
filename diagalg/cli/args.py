"""Argument types and file arguments shared by the subcommands."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from pathlib import Path

from ..errors import DiagalgError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$")


def parse_size(text: str) -> int:
    """'1G', '512M', '2GiB', '1000000' -> bytes."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 512M or 2G)")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def parse_dims(text: str) -> dict[str, int]:
    """'seq=16,vocab=50' -> {'seq': 16, 'vocab': 50}."""
    out: dict[str, int] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"not a dimension size: {part!r} (use e.g. seq=16,vocab=50)")
        out[name.strip()] = int(value)
    return out


def files_of(args: Sequence[str]) -> list[Path]:
    from pathlib import Path

    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.diag") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise DiagalgError(f"{a}: no such file or directory")
    return out


__all__ = ["files_of", "parse_dims", "parse_size"]
