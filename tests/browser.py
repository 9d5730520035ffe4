"""Headless Chromium for the report tests: find it, load a page, dump its DOM or
take a screenshot, and decode the screenshot (a PNG) without extra libraries.

Debian's ``chromium`` is started with a fresh profile and every background
network feature off (on a closed network it would otherwise wait for them).
``.ci/run`` installs it when missing; where it cannot be installed the tests
skip with the reason :data:`MISSING`.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

MISSING = "Chromium not installed (apt-get install chromium; .ci/run does this when it can)"

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    exe = chromium()
    assert exe is not None, MISSING
    with tempfile.TemporaryDirectory(prefix="diagalg-chromium-") as profile:
        return subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout
        )


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after loading, as HTML text."""
    run = _run(["--dump-dom", page.resolve().as_uri()])
    assert run.returncode == 0 and "<html" in run.stdout, run.stderr[-2000:]
    return run.stdout


def screenshot(page: Path, out: Path, width: int, height: int) -> Path:
    run = _run([f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri()])
    assert run.returncode == 0 and out.exists(), run.stderr[-2000:]
    return out


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        rows.append(bytes(line[k] for k in range(stride) if k % bpp < 3))
    return width, height, rows


def color_blobs(rows: list[bytes], width: int, rgb: tuple[int, int, int], min_pixels: int = 40) -> int:
    """How many connected areas (4-neighbour, at least ``min_pixels``) have exactly colour ``rgb``."""
    target = bytes(rgb)
    seen: set[tuple[int, int]] = set()
    hits = {(x, y) for y, row in enumerate(rows) for x in range(width) if row[3 * x : 3 * x + 3] == target}
    count = 0
    for start in hits:
        if start in seen:
            continue
        stack, size = [start], 0
        seen.add(start)
        while stack:
            x, y = stack.pop()
            size += 1
            for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if q in hits and q not in seen:
                    seen.add(q)
                    stack.append(q)
        count += size >= min_pixels
    return count
