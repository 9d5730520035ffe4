"""`diagalg simplify`: lets, expressions, and derivations read step by step."""

from __future__ import annotations

from pathlib import Path

from diagalg.cli import main

DECLS = """dim n, r <= n
tensor A[i: n, j: n]
tensor X[i: n, j: n] invertible
tensor V[a: n, b: r] isometry(b -> a)
let M[i, l] = X[i, j] inv(X)[j, k] A[k, l]
let P[b, c] = V[a, b] V[a, c]
"""


def run(capsys, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_simplify_prints_each_let(tmp_path: Path, capsys):
    f = tmp_path / "d.diag"
    f.write_text(DECLS)
    rc, out = run(capsys, "simplify", str(f))
    assert rc == 0
    assert "M = A[i, l]" in out
    assert "P = delta[b: r, c]" in out  # the label dimension is written: nothing else fixes it


def test_trace_shows_each_step_with_its_rule_and_check(tmp_path: Path, capsys):
    f = tmp_path / "d.diag"
    f.write_text(DECLS)
    rc, out = run(capsys, "simplify", str(f), "M", "--trace")
    lines = out.splitlines()
    assert rc == 0 and lines[0] == "M = A[i, l]"
    assert lines[1].strip() == "X[i, j] inv(X)[j, k] A[k, l]"
    assert lines[2].startswith("  = A[i, l]") and "by inverse [check" in lines[2]


def test_simplify_an_expression_with_named_rules(tmp_path: Path, capsys):
    f = tmp_path / "d.diag"
    f.write_text(DECLS)
    rc, out = run(capsys, "simplify", "-e", "V[a, b] V[a, c] V[d, c]", "--decl", str(f), "--rules", "delta")
    assert rc == 0 and out.strip().endswith("= V[a, b] V[a, c] V[d, c]")  # isometry not named: nothing to do
    rc, out = run(capsys, "simplify", "-e", "V[a, b] V[a, c] V[d, c]", "--decl", str(f), "--rules", "isometry")
    assert rc == 0 and out.strip().endswith("= V[d, b]")


def test_simplify_errors_are_clear(tmp_path: Path, capsys):
    f = tmp_path / "d.diag"
    f.write_text(DECLS)
    rc, out = run(capsys, "simplify", str(f), "nosuch")
    assert rc == 2 and "no let named nosuch" in out
    rc, out = run(capsys, "simplify", "-e", "A[i, j, k]", "--decl", str(f))
    assert rc == 2 and "<expr>:1:3: error:" in out and "Traceback" not in out
    rc, out = run(capsys, "simplify", str(f), "--rules", "bogus")
    assert rc == 2 and "unknown rule 'bogus'" in out
