"""Tests of the numeric sampler: dimension sizes, structured tensors, user functions."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from diagalg.dims import DimConstraint, DimEnv
from diagalg.model import FuncDecl, TensorDecl
from diagalg.numeric import (
    MemoryCapError,
    SamplingError,
    sample_func,
    sample_invertible,
    sample_isometry,
    sample_posdef,
    sample_projector,
    sample_sizes,
    sample_tensor,
    sample_unitary,
)
from diagalg.numeric.sample import symmetrize
from diagalg.numeric.sizes import standin_sizes

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def decl(name: str, legs: dict[str, sympy.Expr], **kw) -> TensorDecl:
    return TensorDecl(name, tuple(legs), tuple(sympy.sympify(d) for d in legs.values()), **kw)


# --------------------------------------------------------------------------- matrices


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, n_in=st.integers(1, 6), extra=st.integers(0, 4), cplx=st.booleans())
def test_isometry_columns_orthonormal(seed: int, n_in: int, extra: int, cplx: bool) -> None:
    n_out = n_in + extra
    v = sample_isometry(n_out, n_in, rng(seed), cplx)
    assert v.shape == (n_out, n_in)
    assert np.iscomplexobj(v) == cplx
    np.testing.assert_allclose(v.conj().T @ v, np.eye(n_in), atol=1e-12)
    if extra:
        assert not np.allclose(v @ v.conj().T, np.eye(n_out), atol=1e-6)


def test_isometry_refuses_wrong_shape() -> None:
    with pytest.raises(SamplingError):
        sample_isometry(2, 3, rng())


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 7), cplx=st.booleans())
def test_unitary_both_ways(seed: int, n: int, cplx: bool) -> None:
    u = sample_unitary(n, rng(seed), cplx)
    np.testing.assert_allclose(u.conj().T @ u, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(u @ u.conj().T, np.eye(n), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, n=st.integers(2, 7), cplx=st.booleans())
def test_projector_idempotent_hermitian(seed: int, n: int, cplx: bool) -> None:
    p = sample_projector(n, rng(seed), cplx)
    np.testing.assert_allclose(p @ p, p, atol=1e-12)
    np.testing.assert_allclose(p.conj().T, p, atol=0)
    rank = round(float(np.trace(p).real))
    assert 1 <= rank < n
    assert np.linalg.matrix_rank(p, tol=1e-8) == rank


def test_projector_ranks_vary_and_need_size_two() -> None:
    ranks = {round(np.trace(sample_projector(6, rng(s))).real) for s in range(40)}
    assert len(ranks) > 2 and ranks <= set(range(1, 6))
    with pytest.raises(SamplingError):
        sample_projector(1, rng())


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 7), cplx=st.booleans())
def test_posdef(seed: int, n: int, cplx: bool) -> None:
    g = sample_posdef(n, rng(seed), cplx)
    np.testing.assert_allclose(g, g.conj().T, atol=0)
    assert np.linalg.eigvalsh(g).min() >= 1 - 1e-12


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 7), cplx=st.booleans(), sym=st.booleans())
def test_invertible_well_conditioned(seed: int, n: int, cplx: bool, sym: bool) -> None:
    x = sample_invertible(n, rng(seed), cplx, symmetric=sym)
    assert np.linalg.cond(x) <= 4 + 1e-9
    if sym:
        np.testing.assert_allclose(x, x.T, atol=1e-12)


# --------------------------------------------------------------------------- declared tensors

N, M, P, Q = (sympy.Symbol(s, positive=True, integer=True) for s in "nmpq")
SIZES = {N: 5, M: 3, P: 2, Q: 4}


def test_plain_tensor_shape_dtype_variance() -> None:
    a = sample_tensor(decl("A", {"i": N, "j": M}), SIZES, rng())
    assert a.shape == (5, 3) and a.dtype == np.float64
    z = sample_tensor(decl("Z", {"i": N, "j": N}, is_complex=True), SIZES, rng())
    assert z.dtype == np.complex128 and np.abs(z.imag).max() > 0
    big = sample_tensor(decl("B", {"i": sympy.Integer(60), "j": sympy.Integer(60)}), {}, rng())
    assert abs(big.var() - 1 / 60) < 0.1 / 60
    zb = sample_tensor(decl("Z", {"i": sympy.Integer(60), "j": sympy.Integer(60)}, is_complex=True), {}, rng())
    assert abs(zb.real.var() - 1 / 120) < 0.1 / 120


def test_product_leg_dimension() -> None:
    k = sample_tensor(decl("K", {"g": N * M}), SIZES, rng())
    assert k.shape == (15,)


def test_symmetric_and_antisymmetric() -> None:
    s = sample_tensor(decl("S", {"i": N, "j": N, "k": M}, symmetric=(("i", "j"),)), SIZES, rng())
    np.testing.assert_allclose(s, s.transpose(1, 0, 2), atol=1e-15)
    t = sample_tensor(decl("T", {"i": N, "j": N, "k": N}, antisymmetric=(("i", "j", "k"),)), SIZES, rng())
    for perm, sign in (((1, 0, 2), -1), ((1, 2, 0), 1), ((2, 1, 0), -1)):
        np.testing.assert_allclose(t, sign * t.transpose(perm), atol=1e-15)
    assert np.abs(t).max() > 0


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, anti=st.booleans())
def test_symmetrize_is_a_projection(seed: int, anti: bool) -> None:
    x = rng(seed).standard_normal((3, 3, 3))
    once = symmetrize(x, [0, 2], anti)
    np.testing.assert_allclose(symmetrize(once, [0, 2], anti), once, atol=1e-14)
    np.testing.assert_allclose(once, (-1 if anti else 1) * once.transpose(2, 1, 0), atol=1e-14)


def test_multi_leg_isometry_in_declared_leg_order() -> None:
    # W[a: n, b: p, c: q] isometry(b, c -> a) with |b||c| = 8 <= |a| = 9
    sizes = {N: 9, P: 2, Q: 4}
    w = sample_tensor(
        decl("W", {"a": N, "b": P, "c": Q}, structure="isometry", inputs=("b", "c"), outputs=("a",)), sizes, rng()
    )
    assert w.shape == (9, 2, 4)
    gram = np.einsum("abc,ade->bcde", w, w.conj())
    np.testing.assert_allclose(gram, np.einsum("bd,ce->bcde", np.eye(2), np.eye(4)), atol=1e-12)


def test_isometry_legs_in_any_order() -> None:
    # V[b: p, a: n] isometry(b -> a): the output leg is declared second
    v = sample_tensor(
        decl("V", {"b": P, "a": N}, structure="isometry", inputs=("b",), outputs=("a",), is_complex=True), SIZES, rng()
    )
    assert v.shape == (2, 5)
    np.testing.assert_allclose(v.conj() @ v.T, np.eye(2), atol=1e-12)


def test_structured_declarations() -> None:
    u = sample_tensor(decl("U", {"a": N, "b": N}, structure="unitary", inputs=("b",), outputs=("a",)), SIZES, rng())
    np.testing.assert_allclose(u @ u.T, np.eye(5), atol=1e-12)
    x = sample_tensor(
        decl("X", {"i": N, "j": M, "k": N, "l": M}, structure="invertible", inputs=("k", "l"), outputs=("i", "j")),
        SIZES,
        rng(),
    )
    assert np.linalg.cond(x.reshape(15, 15)) <= 4 + 1e-9
    p = sample_tensor(
        decl("P", {"i": N, "j": N}, structure="projector", inputs=("j",), outputs=("i",), symmetric=(("i", "j"),)),
        SIZES,
        rng(),
    )
    np.testing.assert_allclose(p @ p, p, atol=1e-12)
    g = sample_tensor(decl("G", {"i": N, "j": N}, structure="posdef", is_complex=True), SIZES, rng())
    assert np.linalg.eigvalsh(g).min() > 0
    # a structure without declared groups maps the second leg to the first
    y = sample_tensor(decl("Y", {"i": N, "j": N}, structure="invertible"), SIZES, rng())
    assert np.linalg.cond(y) <= 4 + 1e-9


def test_structure_size_mismatch_is_a_sampling_error() -> None:
    with pytest.raises(SamplingError, match="equal input and output sizes"):
        sample_tensor(decl("X", {"i": N, "j": M}, structure="invertible", inputs=("j",), outputs=("i",)), SIZES, rng())


def test_tensor_memory_cap() -> None:
    big = decl("H", {"i": sympy.Integer(4096), "j": sympy.Integer(4096)})
    with pytest.raises(MemoryCapError, match=r"tensor H .* exceeds the memory cap of 1 MiB \(--memory\)"):
        sample_tensor(big, {}, rng(), memory_cap=2**20)


def test_func_parameters() -> None:
    f = FuncDecl("f", "x", N, "y", M)
    params = sample_func(f, SIZES, rng(3))
    assert params.W.shape == (3, 5) and params.c.shape == (3,)
    again = sample_func(f, SIZES, rng(3))
    np.testing.assert_array_equal(params.W, again.W)
    x = rng(1).standard_normal((4, 5))
    np.testing.assert_allclose(params.apply(x.T, 0), np.tanh(x @ params.W.T + params.c))


# --------------------------------------------------------------------------- sizes


def env_with(*names: str) -> tuple[DimEnv, list[sympy.Symbol]]:
    env = DimEnv()
    return env, [env.declare(n) for n in names]


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_sizes_honour_constraints(seed: int) -> None:
    env, (n, m, p, q, r) = env_with("n", "m", "p", "q", "r")
    env.constraints += [
        DimConstraint(r, "<=", n),
        DimConstraint(n, ">=", p * q),
        DimConstraint(m, "<=", sympy.Min(n, q + 1)),
    ]
    draw = sample_sizes({n, m, p, q, r}, env, [], rng(seed))
    s = draw.sizes
    assert all(2 <= s[x] <= 7 for x in (n, m, p, q, r))
    assert s[r] <= s[n] and s[n] >= s[p] * s[q] and s[m] <= min(s[n], s[q] + 1)
    assert all(c.holds(s) for c in env.constraints)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_sizes_distinct_and_differ_between_draws(seed: int) -> None:
    env, syms = env_with("a", "b", "c", "d")
    first = sample_sizes(set(syms), env, [], rng(seed))
    assert len(set(first.sizes.values())) == 4
    second = sample_sizes(set(syms), env, [], rng(seed + 1), avoid=[first.sizes])
    assert second.sizes != first.sizes
    assert len(set(second.sizes.values())) == 4


def test_sizes_relax_distinctness_when_impossible() -> None:
    env, syms = env_with(*"abcdefgh")  # eight symbols, six sizes in 2..7
    draw = sample_sizes(set(syms), env, [], rng())
    assert all(2 <= v <= 7 for v in draw.sizes.values())
    assert len(set(draw.sizes.values())) == 6  # as distinct as possible


def test_sizes_implied_by_declarations() -> None:
    env, (n, r, m) = env_with("n", "r", "m")
    decls = [
        decl("V", {"a": r, "b": n}, structure="isometry", inputs=("b",), outputs=("a",)),
        decl("X", {"i": n, "j": m}, structure="invertible", inputs=("j",), outputs=("i",)),
    ]
    for seed in range(20):
        s = sample_sizes(set(), env, decls, rng(seed)).sizes
        assert s[n] <= s[r] and s[n] == s[m]
    proj = [decl("P", {"i": n, "j": n}, structure="projector", inputs=("j",), outputs=("i",))]
    env.concrete[n] = 1
    with pytest.raises(SamplingError, match=">= 2"):
        sample_sizes(set(), env, proj, rng())


def test_sizes_extend_range_when_needed() -> None:
    env, (n, p, q, r) = env_with("n", "p", "q", "r")
    env.constraints.append(DimConstraint(n, ">=", p * q * r))
    s = sample_sizes({n}, env, [], rng()).sizes
    assert s[n] >= s[p] * s[q] * s[r]


def test_sizes_impossible_constraint_is_named() -> None:
    env, (n,) = env_with("n")
    env.constraints.append(DimConstraint(n, ">=", sympy.Integer(100)))
    with pytest.raises(SamplingError, match="n >= 100"):
        sample_sizes({n}, env, [], rng())
    env2 = DimEnv()
    d = env2.declare("d", 4)
    env2.constraints.append(DimConstraint(d, ">=", sympy.Integer(8)))
    with pytest.raises(SamplingError, match="d >= 8 does not hold for the concrete sizes"):
        sample_sizes({d}, env2, [], rng())


def test_concrete_standins_and_derived() -> None:
    env = DimEnv()
    d = env.declare("d", 4)
    seq = env.declare("seq", 1024)
    ctx = env.declare("ctx", 2048)
    heads = env.declare("heads", 2)
    dhead = env.declare("dhead", 3)
    hidden = env.declare("hidden", derived=heads * dhead)
    n = env.declare("n")
    draw = sample_sizes({d, seq, ctx, hidden, n}, env, [], rng())
    s = draw.sizes
    assert s[d] == 4 and s[heads] == 2 and s[hidden] == 6
    assert 4 < s[seq] < s[ctx] <= 64
    assert draw.standins == {"seq": (1024, s[seq]), "ctx": (2048, s[ctx])}
    assert "seq=1024 checked as" in draw.standin_text()
    assert s[n] not in (s[d], s[heads], s[dhead])  # distinct from concrete sizes where possible
    # deterministic: the same stand-ins whatever the draw
    assert standin_sizes(env) == {seq: s[seq], ctx: s[ctx]}
    assert sample_sizes({seq}, env, [], rng(9)).sizes[seq] == s[seq]


def test_standins_keep_order_with_kept_concrete() -> None:
    env = DimEnv()
    big = env.declare("big", 40)
    seq = env.declare("seq", 1024)
    r = env.declare("r")
    env.constraints.append(DimConstraint(r, "<=", seq))
    s = sample_sizes({big, seq, r}, env, [], rng()).sizes
    assert s[big] == 40 and 40 < s[seq] < 1024


def test_standins_reverted_when_they_break_a_concrete_constraint() -> None:
    env = DimEnv()
    heads = env.declare("heads", 12)
    dhead = env.declare("dhead", 64)
    hidden = env.declare("hidden", 768)
    seq = env.declare("seq", 1024)
    env.constraints.append(DimConstraint(hidden, "==", heads * dhead))
    draw = sample_sizes({hidden, seq}, env, [], rng())
    assert draw.sizes[hidden] == 768 and draw.sizes[seq] < 1024
    assert set(draw.standins) == {"seq"}
