"""`decompose`: each kind's factors have their declared properties, exact ones reassemble
(proved and checked), truncations obey Eckart–Young and the HOSVD / TT-SVD bounds, CP
never beats the unfolding bound, and bad statements are positioned errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import diagalg
from conftest import expect_error
from diagalg.checker import Checker
from diagalg.decompose import Decomposition
from diagalg.numeric.factorise import factorise
from diagalg.program import DecomposeStmt


def results(text: str) -> list:
    prog = diagalg.parse(text)
    return Checker(prog).run()


def statuses(text: str) -> list[tuple[int, str, str]]:
    return [(r.source.line, r.status, r.detail) for r in results(text)]


KINDS = {
    "svd": (
        "tensor T[i: n, j: m, k: p]",
        "decompose svd T[i, j, k] = U[i, j, r: R] s[r] conj(V)[k, r]",
        "assert T[i, j, k] == U[i, j, r] s[r] V[k, r]",
    ),
    "qr": ("tensor T[i: n, j: m]", "decompose qr T[i, j] = Q[i, r: K] R[r, j]", "assert T[i, j] == Q[i, r] R[r, j]"),
    "polar": (
        "tensor T[i: n, j: m] complex",
        "decompose polar T[i, j] = U[i, r] P[r, j]",
        "assert T[i, j] == U[i, r] P[r, j]",
    ),
    "eigh": (
        "tensor T[i: n, j: n] symmetric",
        "decompose eigh T[i, j] = Q[i, k] w[k] Q[j, k]",
        "assert T[i, j] == Q[i, k] w[k] Q[j, k]",
    ),
    "tucker": (
        "tensor T[i: n, j: m, k: p]",
        "decompose tucker T[i, j, k] = G[a: Ra, b: Rb, c: Rc] A[i, a] B[j, b] C[k, c]",
        "assert T[i, j, k] == G[a, b, c] A[i, a] B[j, b] C[k, c]",
    ),
    "tt": (
        "tensor T[i: n, j: m, k: p]",
        "decompose tt T[i, j, k] = A[i, x: D1] B[x, j, y: D2] C[y, k]",
        "assert T[i, j, k] == A[i, x] B[x, j, y] C[y, k]",
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_exact_decomposition_reassembles_proved_and_checked(kind):
    decl, stmt, reassemble = KINDS[kind]
    text = f"dim n, m <= n, p\n{decl}\n{stmt}\n{reassemble}\n"
    (_, s1, d1), (_, s2, d2) = statuses(text)
    assert s1 == "ok" and d1.startswith("[exact: reassembles to"), d1
    assert s2 == "ok" and d2.startswith("[symbolic;"), d2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_factors_have_the_properties_they_are_declared_with(kind):
    from diagalg.numeric.check import sample_instance
    from diagalg.weights import property_violation

    decl, stmt, _ = KINDS[kind]
    prog = diagalg.parse(f"dim n, m <= n, p\n{decl}\n{stmt}\n")
    s = next(st for st in prog.statements if isinstance(st, DecomposeStmt))
    for seed in range(3):
        inst, _ = sample_instance([s.lhs, s.rhs], prog.env, seed)
        for name in s.decomposition.factor_names:
            assert property_violation(prog.tensors[name], inst.arrays[name]) == "", (kind, name)
    structured = [prog.tensors[n].structure for n in s.decomposition.factor_names]
    assert any(structured), "every kind declares an isometry, unitary or posdef factor"


def test_the_isometry_of_a_non_square_svd_factor_never_cancels_the_other_way():
    text = (
        "dim n, m\ntensor M[i: n, j: m]\ndecompose svd M[i, j] = U[i, r: R] s[r] conj(V)[j, r]\n"
        "assert U[i, a] U[i, b] == delta[a, b]\n"
        "assert U[i, a] U[k, a] == delta[i, k]\n"
    )
    res = statuses(text)
    assert res[1][1] == "ok"
    # U U† is a projector of rank R = min(n, m): with n != m it is not the identity
    assert res[2][1] == "FAIL" and "not equal" in res[2][2], res[2]


def test_the_norm_of_an_mps_in_canonical_form_is_the_norm_of_its_centre():
    text = (
        "dim d\ntensor psi[a: d, b: d, c: d]\n"
        "decompose tt psi[a, b, c] = A1[a, x: D1] A2[x, b, y: D2] A3[y, c]\n"
        "assert psi[a, b, c] psi[a, b, c] == A3[y, c] A3[y, c]\n"
    )
    assert statuses(text)[1][:2] == (4, "ok")
    assert "symbolic" in statuses(text)[1][2]


def test_a_truncation_is_never_asserted_equal_and_reports_eckart_young():
    text = (
        "dim n, m, t < min(n, m)\ntensor M[i: n, j: m]\n"
        "decompose svd M[i, j] ~ U[i, r: t] s[r] conj(V)[j, r]\n"
        "assert M[i, j] == U[i, r] s[r] V[j, r]\n"
    )
    (_, s1, d1), (_, s2, d2) = statuses(text)
    assert s1 == "ok" and "Eckart–Young: error² = Σ discarded σ²" in d1, d1
    assert s2 == "FAIL", d2


def _matrix_svd(t: int, rng) -> tuple[Decomposition, np.ndarray, dict]:
    prog = diagalg.parse("dim n, m, t\ntensor M[i: n, j: m]\ndecompose svd M[i, j] ~ U[i, r: t] s[r] conj(V)[j, r]\n")
    dec = prog.decompositions["svd_M"]
    sizes = {prog.env.symbols["n"]: 7, prog.env.symbols["m"]: 5, prog.env.symbols["t"]: t}
    return dec, rng.standard_normal((7, 5)), sizes


@pytest.mark.parametrize("t", [1, 2, 4])
def test_eckart_young_the_truncated_svd_error_is_the_discarded_mass_and_is_optimal(t):
    rng = np.random.default_rng(t)
    dec, m, sizes = _matrix_svd(t, rng)
    f, report = factorise(dec, m, sizes)
    approx = f["U"] @ np.diag(f["s"]) @ f["V"].T
    err2 = float(np.sum((m - approx) ** 2))
    sv = np.linalg.svd(m, compute_uv=False)
    assert err2 == pytest.approx(float(np.sum(sv[t:] ** 2)), rel=1e-10)
    assert report.discarded[0] == pytest.approx(err2, rel=1e-10)
    # no other rank-t matrix does better: random rank-t matrices and the rank-t QR truncation
    for _ in range(20):
        other = rng.standard_normal((7, t)) @ rng.standard_normal((t, 5))
        assert np.sum((m - other) ** 2) >= err2
    q, r = np.linalg.qr(m)
    assert np.sum((m - q[:, :t] @ r[:t]) ** 2) >= err2 - 1e-12


def test_truncated_hosvd_and_tt_svd_errors_lie_within_their_bounds():
    text = (
        "dim n, m, p\ndim s1 < n, s2 < m, s3 < p\ntensor T[i: n, j: m, k: p]\n"
        "decompose tucker T[i, j, k] ~ G[a: s1, b: s2, c: s3] A[i, a] B[j, b] C[k, c]\n"
        "dim chi <= min(n, p)\n"
        "decompose tt T[i, j, k] ~ X1[i, x: chi] X2[x, j, y: chi] X3[y, k]\n"
    )
    res = statuses(text)
    assert [s for _, s, _ in res] == ["ok", "ok"], res
    assert "HOSVD: max discarded ≤ error² ≤ Σ discarded" in res[0][2]
    assert "TT-SVD: error² ≤ Σ discarded" in res[1][2]


def test_cp_reconstructs_an_exactly_low_rank_tensor_and_respects_the_unfolding_bound():
    prog = diagalg.parse(
        "dim n, m, p, q\ntensor T[i: n, j: m, k: p]\ndecompose cp T[i, j, k] ~ A[i, r: q] B[j, r] C[k, r] lam[r]\n"
    )
    dec = prog.decompositions["cp_T"]
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((5, 2)), rng.standard_normal((4, 2)), rng.standard_normal((6, 2))
    t = np.einsum("ir,jr,kr->ijk", a, b, c)
    env = prog.env.symbols
    f, report = factorise(dec, t, {env["n"]: 5, env["m"]: 4, env["p"]: 6, env["q"]: 2})
    approx = np.einsum("ir,jr,kr,r->ijk", f["A"], f["B"], f["C"], f["lam"])
    assert np.linalg.norm(t - approx) <= 1e-6 * np.linalg.norm(t)
    # a random tensor: the fit can never beat the best rank-q error of an unfolding
    t = rng.standard_normal((5, 4, 6))
    f, report = factorise(dec, t, {env["n"]: 5, env["m"]: 4, env["p"]: 6, env["q"]: 2})
    approx = np.einsum("ir,jr,kr,r->ijk", f["A"], f["B"], f["C"], f["lam"])
    assert np.sum((t - approx) ** 2) >= report.lower_bound * (1 - 1e-12) > 0


def test_factors_of_bound_weights_are_computed_from_the_bound_array(tmp_path):
    m = np.arange(12.0).reshape(4, 3) + np.eye(4, 3)
    np.savez(tmp_path / "w.npz", M=m)
    f = tmp_path / "f.diag"
    f.write_text(
        'dim n = 4, k = 3\ntensor M[i: n, j: k]\nweights "w.npz"\n'
        "decompose svd M[i, j] = U[i, r: R] s[r] conj(V)[j, r]\n"
        "assert numeric s[r] s[r] == M[i, j] M[i, j]\n"
    )
    prog = diagalg.load(f)
    assert [r.status for r in Checker(prog).run()] == ["ok", "ok"]
    from diagalg.numeric.check import collect, draw_instance
    from diagalg.numeric.sizes import sample_sizes

    s = prog.statements[0]
    decls, funcs, syms = collect([s.rhs])
    draw = sample_sizes(syms, prog.env, decls.values(), np.random.default_rng(0), [], prog.binding.sizes)
    inst = draw_instance(decls, funcs, draw, np.random.default_rng(0), bound=prog.binding.arrays)
    assert np.allclose(inst.arrays["s"], np.linalg.svd(m, compute_uv=False))


def test_decompose_is_a_soft_keyword():
    prog = diagalg.parse(
        "dim n\ntensor decompose[i: n]\nlet x[i] = decompose[i]\nassert decompose[decompose] == x[decompose]\n"
    )
    assert "decompose" in prog.tensors


@pytest.mark.parametrize(
    "line, col, fragment",
    [
        ("decompose lu M[i, j] = L[i, r: K] W[r, j]", 11, "unknown decomposition 'lu'"),
        ("decompose cp M[i, j] = A[i, r: K] B[j, r]", 11, "write `~` instead of `=`"),
        ("decompose qr M[i, j] ~ Q[i, r: K] R[r, j]", 11, "write `=` instead of `~`"),
        ("decompose svd M[i, j] = U[i, r] s[r] conj(V)[j, r]", 30, "write the dimension of the new bond 'r'"),
        ("decompose svd M[i, j] ~ U[i, r: Q] s[r] conj(V)[j, r]", 33, "must be a declared dimension or a number"),
        ("decompose svd C[i, j] = U[i, r: R] s[r] V[j, r]", 41, "conj(V)"),
        ("decompose svd M[i, j] = U[i, r: R] s[r] conj(V)[i, r]", 49, "must be used by exactly one factor"),
        ("decompose svd M[i] = U[i, r: R] s[r] conj(V)[j, r]", 15, "bind each of M's 2 legs"),
        ("decompose svd x[i, j] = U[i, r: R] s[r] conj(V)[j, r]", 15, "'x' is a let"),
        ("decompose svd M[i, j] = Y[i, r: R] s[r] conj(V)[j, r]", 25, "'Y' is already declared"),
        ("decompose eigh M[i, j] = Q[i, k] w[k] Q[j, k]", 11, "must be declared symmetric"),
    ],
)
def test_bad_decompositions_are_positioned_errors(line, col, fragment):
    head = "dim n, m\ntensor M[i: n, j: m]\ntensor C[i: n, j: m] complex\ntensor Y[i: n]\nlet x[i, j] = M[i, j]\n"
    err = expect_error(head + line + "\n")
    assert (err.line, err.col) == (6, col) and fragment in err.message, (err.line, err.col, err.message)


def test_a_second_exact_decomposition_of_one_tensor_is_refused():
    err = expect_error(
        "dim n\ntensor M[i: n, j: n]\n"
        "decompose qr M[i, j] = Q[i, r] R[r, j]\n"
        "decompose svd M[i, j] = U[i, r: R] s[r] conj(V)[j, r]\n"
    )
    assert err.line == 4 and "already has an exact decomposition" in err.message


def test_bond_dimensions_are_the_full_ranks():
    prog = diagalg.parse(
        "dim n, m, p, q\ntensor T[i: n, j: m, k: p, l: q]\n"
        "decompose tt T[i, j, k, l] = A[i, x: D1] B[x, j, y: D2] C[y, k, z: D3] E[z, l]\n"
    )
    sym = prog.env.symbols
    n, m, p, q = (sym[c] for c in "nmpq")
    assert prog.env.derived[sym["D1"]] == sympy.Min(n, m * p * q)
    assert prog.env.derived[sym["D2"]] == sympy.Min(n * m, p * q)
    assert prog.env.derived[sym["D3"]] == sympy.Min(n * m * p, q)


def test_the_python_api_unfolds_exact_decompositions():
    prog = diagalg.parse("dim n, m\ntensor M[i: n, j: m]\ndecompose svd M[i, j] = U[i, r: R] s[r] conj(V)[j, r]\n")
    assert diagalg.equal(prog.expr("U[i, a] M[i, j] V[j, c]"), prog.expr("delta[a, c, e] s[e]"), prog)
    assert not diagalg.equal(prog.expr("M[i, j]"), prog.expr("U[i, r] V[j, r]"), prog)


def test_a_truncation_of_large_concrete_dims_is_checked_on_raised_stand_ins_that_truncate():
    # stand-ins 8 and 9 cannot hold rank 8 < min(vocab, seq): they are raised (order
    # kept) instead of falling back to a 50257 x 1024 matrix
    text = (
        "dim seq = 1024, vocab = 50257\ntensor E[v: vocab, s: seq]\n"
        "decompose svd E[v, s] ~ U[v, r: 8] s[r] conj(V)[s, r]\n"
        "assert U[v, a] U[v, b] == delta[a, b]\n"
    )
    res = results(text)
    assert [r.status for r in res] == ["ok", "ok"]
    assert all(line.startswith("sizes seq=9, vocab=10:") for line in res[0].output), res[0].output
    assert "discarded 0;" not in res[0].detail
    assert "seq=1024 checked as" in res[1].detail
