"""Redraw the golden pictures of tests/test_render_golden.py: every figure of
diagalg.render.gallery as headless Chromium shows its SVG, in tests/golden/: NAME.png,
and NAME-shapes.png with its texts hidden.

Run it (``make goldens``) after a change to the drawing that is meant to change these
figures, look at the PNGs, and commit them with the change; the test then holds the
drawing to them. Needs Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import MISSING, chromium  # noqa: E402
from diagalg.render.gallery import FIGURES  # noqa: E402
from test_render_golden import GOLDEN, shoot  # noqa: E402


def main() -> int:
    if chromium() is None:
        print(f"error: {MISSING}", file=sys.stderr)
        return 1
    GOLDEN.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, what, expr in FIGURES:
        for path, text in ((GOLDEN / f"{name}.png", True), (GOLDEN / f"{name}-shapes.png", False)):
            shoot(expr, path, text)
            total += path.stat().st_size
            print(
                f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes): {what}"
                + ("" if text else ", without its texts")
            )
    print(f"{2 * len(FIGURES)} pictures, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
