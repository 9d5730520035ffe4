"""Golden pictures: a handful of the paper's figures (diagalg.render.gallery: the ring,
the SVD's isometry triangles, the left-canonical train, the ladder norm, a transpose
pair) drawn, shown by headless Chromium, and compared with the PNGs in tests/golden/.

The comparison is made to survive font antialiasing and hinting, which differ from one
machine to the next, and to catch any change a reader would see: a pixel differs when
one of its channels is more than :data:`TOLERANCE` off (a tensor's fill against white is
36 off, so a shape that moves or vanishes counts) from every value within two pixels
of it in the other picture (glyph edges that hinting moves by less than two pixels take
values between their neighbours' and match); a picture may have at most :data:`MAX_DIFFERENT` such pixels, and
its size must be the same. Each figure is
compared twice: whole, and with its texts hidden (``NAME-shapes.png``). Labels are
where machines differ most (glyphs shifted by half a pixel leave up to about 50
unmatched pixels in these figures), so the whole picture's bound,
:data:`MAX_DIFFERENT`, is looser (a label moved or changed still exceeds it), and the
shapes and wires alone are held to :data:`MAX_DIFFERENT_SHAPES`, where the same
machine differences leave none. A test below checks that bound is tight enough: the
transpose pair drawn as D + D, one flag moved, fails it. ``make goldens`` redraws them after an intended change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from browser import MISSING, chromium, read_png, screenshot
from diagalg.model import Expr
from diagalg.render import render
from diagalg.render.gallery import FIGURES, D
from diagalg.render.legend import _product, _sum

GOLDEN = Path(__file__).resolve().parent / "golden"
TOLERANCE = 24  # per channel, of 255
REACH = 2  # pixels: the neighbourhood a pixel is matched in is (2 REACH + 1) squared
MAX_DIFFERENT = 120  # pixels without a match nearby, in either picture, with its labels
MAX_DIFFERENT_SHAPES = 10  # and drawn without them

needs_chromium = pytest.mark.skipif(chromium() is None, reason=MISSING)


def shoot(expr: Expr, out: Path, text: bool = True) -> Path:
    """The drawing of ``expr`` as Chromium shows its SVG, as a PNG at ``out`` (one pixel
    per SVG pixel, the window exactly the drawing's size); ``text=False``: its shapes and
    wires alone, every text hidden."""
    svg = render(expr, None, "svg")
    if not text:
        svg = svg.replace(">", "><style>text { display: none; }</style>", 1)  # inside the <svg> root
    head = svg.split(">", 1)[0]
    width = float(head.split('width="', 1)[1].split('"', 1)[0])
    height = float(head.split('height="', 1)[1].split('"', 1)[0])
    with tempfile.TemporaryDirectory(prefix="diagalg-golden-") as tmp:
        page = Path(tmp) / "figure.svg"
        page.write_text(svg, encoding="utf-8")
        screenshot(page, out, int(-(-width // 1)), int(-(-height // 1)))
    return out


def different(a: Path, b: Path) -> int:
    """How many pixels of either picture have no match in the other: each channel lies
    outside the other's values within two pixels of it (its 5 x 5 neighbourhood), widened
    by TOLERANCE. The neighbourhood absorbs the sub-pixel shifts of glyph edges that font hinting and
    antialiasing make between machines; a shape, a flag or a wire that moves by more
    than a pixel still counts. The sizes must match."""
    wa, ha, ra = read_png(a)
    wb, hb, rb = read_png(b)
    assert (wa, ha) == (wb, hb), f"size {wa}x{ha} is now {wb}x{hb}"
    return _unmatched(ra, rb, wa, ha) + _unmatched(rb, ra, wa, ha)


def _unmatched(one: list[bytes], other: list[bytes], width: int, height: int) -> int:
    """Pixels of ``one`` outside the range, widened by TOLERANCE, of the other picture's
    5 x 5 neighbourhood (channel by channel): an antialiased edge that moved by less than
    two pixels takes a value between its neighbours' and matches."""
    count = 0
    for y in range(height):
        row, near = one[y], [other[v] for v in range(y - REACH, y + REACH + 1) if 0 <= v < height]
        for x in range(width):
            k = 3 * x
            if other[y][k : k + 3] == row[k : k + 3]:
                continue
            cols = [j for j in range(k - 3 * REACH, k + 3 * REACH + 1, 3) if 0 <= j < 3 * width]
            for c in range(3):
                vals = [q[j + c] for q in near for j in cols]
                if not min(vals) - TOLERANCE <= row[k + c] <= max(vals) + TOLERANCE:
                    count += 1
                    break
    return count


def test_goldens_are_small_and_all_there():
    """One PNG per figure, and all of them well under 300 KB (they live in the repository)."""
    names = {p.stem for p in GOLDEN.glob("*.png")}
    want = {n for name, _, _ in FIGURES for n in (name, f"{name}-shapes")}
    assert names == want, "run `make goldens` (scripts/make_goldens.py)"
    assert sum(p.stat().st_size for p in GOLDEN.glob("*.png")) < 150_000


@needs_chromium
@pytest.mark.parametrize("name", [name for name, _, _ in FIGURES])
def test_figure_matches_its_golden(name, tmp_path):
    expr = {n: e for n, _, e in FIGURES}[name]
    got = shoot(expr, tmp_path / f"{name}.png")
    bad = different(GOLDEN / f"{name}.png", got)
    shapes = different(GOLDEN / f"{name}-shapes.png", shoot(expr, tmp_path / f"{name}-shapes.png", False))
    assert shapes <= MAX_DIFFERENT_SHAPES, (
        f"{name}: {shapes} pixels of its shapes and wires differ from tests/golden/{name}-shapes.png; "
        f"if the drawing changed on purpose, run `make goldens` and look at the new pictures"
    )
    assert bad <= MAX_DIFFERENT, (
        f"{name}: {bad} pixels differ from tests/golden/{name}.png; if the drawing "
        f"changed on purpose, run `make goldens` and look at the new pictures"
    )


@needs_chromium
def test_the_comparison_sees_a_transpose(tmp_path):
    """D[i, j] + D[i, j] differs from the golden D[i, j] + D[j, i] only by one small flag
    and the labels' places: the comparison must still fail it."""
    wrong = _sum(_product((D, "i j")), _product((D, "i j")))
    got = shoot(wrong, tmp_path / "wrong.png", False)
    bad = different(GOLDEN / "transpose-shapes.png", got)
    assert bad > MAX_DIFFERENT_SHAPES, bad
