"""SVG to PNG with whichever converter is installed: ``rsvg-convert`` (Debian's
librsvg2-bin) or the ``cairosvg`` Python package. Without either, a clear error
says what to install; it never writes an empty or partial file."""

from __future__ import annotations

import shutil
import subprocess

from ..errors import DiagalgError

INSTALL_HINT = (
    "PNG output needs an SVG converter: install rsvg-convert "
    "(apt-get install librsvg2-bin) or cairosvg (pip install cairosvg), or write .svg"
)


def converter() -> str | None:
    """The name of the converter that :func:`svg_to_png` would use, or None."""
    if shutil.which("rsvg-convert"):
        return "rsvg-convert"
    try:
        import cairosvg  # noqa: F401  (only whether it is installed)
    except ImportError:
        return None
    return "cairosvg"


def svg_to_png(svg: str, scale: float = 2.0) -> bytes:
    """The PNG bytes of an SVG document, rendered at ``scale`` (2: sharp on high-DPI screens)."""
    which = converter()
    if which == "rsvg-convert":
        proc = subprocess.run(
            ["rsvg-convert", "--format=png", f"--zoom={scale}"],
            input=svg.encode("utf-8"),
            capture_output=True,
            timeout=60,
        )
        if proc.returncode != 0 or not proc.stdout.startswith(b"\x89PNG"):
            raise DiagalgError(f"rsvg-convert failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
        return proc.stdout
    if which == "cairosvg":
        import cairosvg

        return cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
    raise DiagalgError(INSTALL_HINT)
