"""Nasty inputs: every file in tests/corpus/ (and a few generated big ones) is checked
by `diagalg check` and gives its expected exit status and message, never a
traceback or an internal error (exit 3).

The corpus: empty and comment-only files, Windows line ends, a byte-order mark,
brackets nested past the limit and just inside it, concrete dimensions far beyond
memory (checked on stand-ins), a 5,000-digit literal, a huge exponent in a
literal and in a power, a dimension of 8,000 digits and one of 1e308 n, an
overflowing coefficient, a 20-leg tensor whose numeric check would need 700 TiB,
unicode in names and comments, zero-width and right-to-left characters, a NUL
byte, Python code where a number or a name goes, import cycles (two files and a
self-import), missing, directory and non-UTF-8 imports, and a non-UTF-8 file.
Generated here: a 10,000-line file that checks, the same with an error on its
last line, and a 2,000-term sum.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"

#: file -> (exit status, text the output must contain)
EXPECTED = {
    "empty.diag": (0, "0 ok, 0 failed"),
    "whitespace_only.diag": (0, "0 ok, 0 failed"),
    "comments_only.diag": (0, "0 ok, 0 failed"),
    "crlf_line_ends.diag": (0, "1 ok, 0 failed"),
    "byte_order_mark.diag": (0, "byte_order_mark.diag:4: ok"),
    "deep_parentheses.diag": (2, "deep_parentheses.diag:4:208: error: brackets nested deeper than 200 levels"),
    "deep_calls.diag": (2, "deep_calls.diag:4:811: error: brackets nested deeper than 200 levels"),
    "nested_199.diag": (0, "2 ok, 0 failed"),
    "huge_dims.diag": (0, "n=10000000000000 checked as"),
    "huge_literal.diag": (2, "huge_literal.diag:2:9: error: number too long"),
    "huge_exponent.diag": (2, "huge_exponent.diag:4:8: error: number too long"),
    "huge_coefficient.diag": (1, "not equal: exact difference"),
    "huge_power.diag": (2, "huge_power.diag:4:8: error: exponent too large (at most 10000)"),
    "huge_dim_product.diag": (2, "huge_dim_product.diag:3:28: error: number too long (more than 4000 digits)"),
    "huge_derived_dim.diag": (4, "needs about 2^1030 B, which exceeds the memory cap"),
    "memory_hog.diag": (4, "exceeds the memory cap"),
    "unicode_identifier.diag": (2, "unicode_identifier.diag:3:8: error: unexpected character 'Ä'"),
    "unicode_comment.diag": (0, "1 ok, 0 failed"),
    "zero_width_space.diag": (2, "zero_width_space.diag:2:10: error: unexpected character '\\u200b'"),
    "right_to_left_override.diag": (2, "right_to_left_override.diag:1:6: error: unexpected character '\\u202e'"),
    "nul_byte.diag": (2, "nul_byte.diag:1:6: error: unexpected character '\\x00'"),
    "python_code.diag": (2, "python_code.diag:2:"),
    "python_code_name.diag": (2, "python_code_name.diag:3:8: error: undeclared name 'exec'"),
    "import_cycle_a.diag": (
        2,
        "error: cyclic import: import_cycle_a.diag -> import_cycle_b.diag -> import_cycle_a.diag",
    ),
    "import_cycle_b.diag": (
        2,
        "error: cyclic import: import_cycle_b.diag -> import_cycle_a.diag -> import_cycle_b.diag",
    ),
    "import_self.diag": (2, "import_self.diag:1:8: error: cyclic import: import_self.diag -> import_self.diag"),
    "import_missing.diag": (2, 'import_missing.diag:1:8: error: cannot import "no_such_file.diag": no such file'),
    "import_directory.diag": (2, 'import_directory.diag:1:8: error: cannot import ".": no such file'),
    "import_not_utf8.diag": (2, "error: file is not UTF-8 text"),
    "not_utf8.diag": (2, "not_utf8.diag:1:13: error: file is not UTF-8 text"),
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.diag")) == sorted(EXPECTED)


def _no_crash(proc) -> None:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "internal error" not in out, out[-2000:]
    assert proc.returncode != 3, out[-2000:]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(cli, name: str) -> None:
    status, text = EXPECTED[name]
    proc = cli("check", name, cwd=CORPUS)
    _no_crash(proc)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert text in proc.stdout + proc.stderr
    if status == 2:  # a static error is rendered with the source line and a caret under it
        assert proc.stderr.rstrip().endswith("^"), proc.stderr


def test_python_code_is_never_run(cli, tmp_path) -> None:
    """The corpus file asks to create PWNED through os.system; nothing is created."""
    text = (CORPUS / "python_code.diag").read_text()
    (tmp_path / "code.diag").write_text(text)
    proc = cli("check", "code.diag", cwd=tmp_path)
    assert proc.returncode == 2
    assert not (tmp_path / "PWNED").exists()


def _ten_thousand_lines(error_at_end: bool) -> str:
    """1,000 tensors and 1,000 lets (continued over two lines) between comments and blank lines, three
    checks; the last line is the 10,000th."""
    lines = ["# 10,000 lines: declarations, lets, comments and a few checks", "dim n, m", "dim r <= n"]
    for k in range(1000):
        lines += [f"tensor A{k}[i: n, j: n]", f"let P{k}[i, k] = A{k}[i, j] \\", f"    A{k}[j, k]"]
        lines += [f"# comment {k}: " + "x" * 60] * 4 + [""] * 2
    lines += ["assert A0[i, j] A1[j, k] == A0[i, l] delta[l, j] A1[j, k]", "assert P1[i, k] == A1[i, j] A1[j, k]"]
    lines += [""] * (9_999 - len(lines))
    lines.append("assert A0[i, j] == A0[j, i" if error_at_end else "assert A0[i, j] != A0[j, i]")
    assert len(lines) == 10_000
    return "\n".join(lines) + "\n"


def test_ten_thousand_line_file(cli, tmp_path) -> None:
    path = tmp_path / "long.diag"
    path.write_text(_ten_thousand_lines(error_at_end=False))
    proc = cli("check", path.name, cwd=tmp_path)
    _no_crash(proc)
    assert proc.returncode == 0, proc.stderr
    assert "3 ok, 0 failed" in proc.stdout
    assert "long.diag:10000: ok" in proc.stdout


def test_ten_thousand_line_file_with_an_error_on_its_last_line(cli, tmp_path) -> None:
    path = tmp_path / "long.diag"
    path.write_text(_ten_thousand_lines(error_at_end=True))
    proc = cli("check", path.name, cwd=tmp_path)
    _no_crash(proc)
    assert proc.returncode == 2
    assert proc.stderr.startswith("long.diag:10000:22: error: unclosed '['"), proc.stderr


def test_two_thousand_term_sum(cli, tmp_path) -> None:
    path = tmp_path / "sum.diag"
    path.write_text("dim n\ntensor A[i: n, j: n]\nassert " + " + ".join(["A[i, j]"] * 2000) + " == 2000 * A[i, j]\n")
    proc = cli("check", path.name, cwd=tmp_path)
    _no_crash(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
