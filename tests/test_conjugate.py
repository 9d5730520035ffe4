"""conj(...) of a let: the norm <psi|psi> of a defined state, written as physicists
write it, proved and checked; printed, drawn and exported like any expression."""

from __future__ import annotations

import diagalg
from diagalg.render import render

STATE = """\
dim n
tensor A[i: n, j: n] complex
tensor x[i: n] complex
tensor B[i: n, j: n]
let psi[i] = A[i, j] x[j] + 2 * B[i, j] x[j]
let r[i] = B[i, j] B[j, k] delta[k]
"""


def test_the_norm_of_a_defined_state_is_its_definition_written_out(write_diag, cli) -> None:
    f = write_diag(
        "norm.diag",
        STATE
        + """\
let norm = conj(psi)[i] psi[i]
assert norm == conj(A)[i, j] conj(x)[j] A[i, k] x[k] + 2 * conj(A)[i, j] conj(x)[j] B[i, k] x[k] \\
    + 2 * B[i, j] conj(x)[j] A[i, k] x[k] + 4 * B[i, j] conj(x)[j] B[i, k] x[k]
assert conj(conj(psi))[i] == psi[i]
assert conj(r)[i] == r[i]
""",
    )
    res = cli("check", f)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": ok ") == 3 and "[symbolic;" in res.stdout


def test_near_misses_are_not_proved(write_diag, cli) -> None:
    """A forgotten conjugate, a dropped factor, a conjugate on the wrong side: each
    differs, and the oracle says so."""
    f = write_diag(
        "miss.diag",
        STATE
        + """\
assert conj(psi)[i] != psi[i]
assert conj(psi)[i] psi[i] != conj(A)[i, j] conj(x)[j] A[i, k] x[k]
assert conj(psi)[i] != conj(A)[i, j] conj(x)[j] + B[i, j] conj(x)[j]
assert conj(psi)[i] != conj(A)[i, j] x[j] + 2 * B[i, j] conj(x)[j]
""",
    )
    res = cli("check", f)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": ok ") == 4 and "differ" in res.stdout


def test_the_conjugate_prints_as_written_and_parses_back() -> None:
    prog = diagalg.parse(STATE)
    e = prog.expr("conj(psi)[i]")
    assert diagalg.to_text(e) == "conj(psi)[i]"
    assert diagalg.equal(prog.expr(diagalg.to_text(e)), e, prog)
    unfolded = diagalg.simplify(e, program=prog, unfold=True).result
    assert diagalg.to_text(unfolded) == "conj(A)[i, j] conj(x)[j] + 2 * B[i, j] conj(x)[j]"


def test_the_conjugate_draws_as_a_box_named_for_it() -> None:
    prog = diagalg.parse(STATE)
    assert "conj(psi)" in render(prog.expr("conj(psi)[i] psi[i]"), prog)


def test_export_contracts_the_conjugated_arrays(write_diag, cli, tmp_path) -> None:
    import numpy as np

    f = write_diag("n.diag", STATE + "let norm = conj(psi)[i] psi[i]\n")
    out = tmp_path / "norm.py"
    res = cli("export", f, "norm", "-o", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    ns: dict = {}
    exec(out.read_text(), ns)
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    x = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    B = rng.standard_normal((4, 4))
    psi = A @ x + 2 * B @ x
    assert np.isclose(ns["norm"](A, x, B), np.vdot(psi, psi))


def test_a_conjugate_diagalg_cannot_build_is_a_positioned_error(source_error) -> None:
    err = source_error(STATE + "let e[i] = exp(A[i, j] x[j])\nassert conj(e)[i] == e[i]\n")
    assert err.line == 8 and "conj of the let 'e' needs the conjugate of exp(...) of a complex value" in err.message
    err = source_error(STATE + "assert inv(psi)[i] == psi[i]\n")
    # a one-leg let has no inverse; the message says how to invert an expression
    assert "inv(psi): the let has 1 leg; write inv[k -> i](...) of its expression" in err.message
