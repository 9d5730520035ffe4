"""Tests of the exact (prime-field) path of the numeric oracle: modular arithmetic
that stays exact on BLAS, samples that honour declared properties exactly mod p,
the evaluator, :func:`exact_obstacle` and :func:`compare_exact`.

Exact results are checked against Python integer arithmetic (unbounded), never
against floats.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.dims import DimEnv
from diagalg.model import BubbleOp, DerivOp, Diagram, Expr, FuncDecl, Node, TensorDecl, tensor_op
from diagalg.numeric.check import collect
from diagalg.numeric.exact import FieldInstance, compare_exact, draw_field_instance, evaluate_exact, exact_obstacle
from diagalg.numeric.field import (
    field_invertible,
    field_isometry,
    field_orthogonal,
    field_posdef,
    field_projector,
    field_tensor,
)
from diagalg.numeric.modp import Field, contract_along, draw_primes, is_prime
from diagalg.numeric.sizes import SizeDraw, sample_sizes
from diagalg.weights import Binding

P = 1048583  # the first prime ≡ 3 (mod 4) above 2^20
F = Field(P)


# --------------------------------------------------------------------------- helpers


class Gauss:
    """A Gaussian integer a + b·i with Python ints: the reference for F_p[i]."""

    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int = 0) -> None:
        self.a, self.b = a, b

    @staticmethod
    def of(o: "Gauss | int") -> "Gauss":
        return o if isinstance(o, Gauss) else Gauss(int(o))

    def __add__(self, o: "Gauss | int") -> "Gauss":
        o = Gauss.of(o)
        return Gauss(self.a + o.a, self.b + o.b)

    __radd__ = __add__

    def __mul__(self, o: "Gauss | int") -> "Gauss":
        o = Gauss.of(o)
        return Gauss(self.a * o.a - self.b * o.b, self.a * o.b + self.b * o.a)

    __rmul__ = __mul__

    def mod(self, p: int) -> complex:
        return complex(self.a % p, self.b % p)


def big(arr: np.ndarray) -> np.ndarray:
    """The array as Python integers (Gaussian integers for complex)."""
    if arr.dtype.kind == "c":
        out = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            out[idx] = Gauss(int(arr[idx].real), int(arr[idx].imag))
        return out
    return np.vectorize(int, otypes=[object])(arr)


def big_mod(arr: np.ndarray, p: int, complex_: bool) -> np.ndarray:
    if complex_:
        return np.vectorize(lambda g: Gauss.of(g).mod(p), otypes=[complex])(arr)
    return np.vectorize(lambda v: v % p, otypes=[float])(arr)


def near_top(shape, rng: np.random.Generator, q: int, complex_: bool = False, spread: int = 500) -> np.ndarray:
    """Residues in [q - spread, q): the largest products, the worst case for the chunk bound."""
    re = rng.integers(q - spread, q, shape).astype(np.float64)
    return re + 1j * rng.integers(q - spread, q, shape) if complex_ else re


def mat(field: Field, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return field.canonical(field.matmul(a, b))


def herm(field: Field, m: np.ndarray) -> np.ndarray:
    return field.conj(m).T


def det_mod(m: np.ndarray, p: int) -> int:
    return int(sympy.Matrix(m.astype(np.int64).tolist()).det()) % p


def program(text: str):
    return diagalg.parse(text)


def size_draws(prog, exprs, count: int = 2, seed: int = 0) -> list[SizeDraw]:
    decls, _, syms = collect(exprs)
    rng = np.random.default_rng(seed)
    out: list[SizeDraw] = []
    for _ in range(count):
        out.append(sample_sizes(syms, prog.env, decls.values(), rng, [d.sizes for d in out]))
    return out


def exact(prog, lhs: str, rhs: str, **kw):
    a, b = prog.expr(lhs), prog.expr(rhs)
    return compare_exact(a, b, size_draws(prog, [a, b]), seed=kw.pop("seed", 0), memory_cap=2**30, **kw)


MATS = "dim n, m, k\ntensor A[i: n, j: m]\ntensor B[j: m, l: k]\n"


# --------------------------------------------------------------------------- primes and arithmetic


def test_primes_are_drawn_from_the_seed() -> None:
    ps = draw_primes(np.random.default_rng(3), 2)
    assert ps == draw_primes(np.random.default_rng(3), 2) and ps[0] != ps[1]
    for q in ps:
        assert 2**20 <= q < 2**21 and q % 4 == 3 and is_prime(q)
        assert all(q % d for d in range(2, math.isqrt(q) + 1))  # trial division agrees
    assert [q for q in range(2, 2000) if is_prime(q)] == list(sympy.primerange(2, 2000))
    # Carmichael numbers and strong pseudoprimes to some of the bases are composite
    assert not any(is_prime(c) for c in (561, 1105, 1729, 2465, 2821, 6601, 8911, 2047, 1373653, 25326001))


def test_chunk_bound_holds_for_every_allowed_prime() -> None:
    for q in (P, 2097143):  # the smallest and the largest prime ≡ 3 (mod 4) in [2^20, 2^21)
        f = Field(q)
        assert f.chunk(False) >= 2048 and f.chunk(True) >= 1024
        assert f.chunk(False) * (q - 1) ** 2 <= 2**53 - 2**21
        assert 2 * f.chunk(True) * (q - 1) ** 2 <= 2**53 - 2**21


def test_long_contraction_that_overflows_a_naive_scheme() -> None:
    """A summed index of 6000 with entries near p: one float matmul loses exactness
    (the sum passes 2^53), the chunked one equals Python integer arithmetic."""
    rng = np.random.default_rng(0)
    q = 2097143
    f = Field(q)
    a = rng.integers(q - 1000, q, (3, 6000)).astype(np.float64)
    b = rng.integers(q - 1000, q, (6000, 2)).astype(np.float64)
    want = big_mod(big(a).dot(big(b)), q, False)
    assert not np.array_equal(np.mod(a @ b, q), want)  # the naive scheme is wrong
    np.testing.assert_array_equal(mat(f, a, b), want)


def test_long_complex_contraction_is_exact() -> None:
    rng = np.random.default_rng(1)
    q = 2097143
    f = Field(q)
    a = near_top((2, 3000), rng, q, True)
    b = near_top((3000, 2), rng, q, True)
    want = big_mod(big(a).dot(big(b)), q, True)
    assert not np.array_equal(f.canonical(np.round(a @ b)), want)
    np.testing.assert_array_equal(mat(f, a, b), want)


@pytest.mark.parametrize("cplx", [False, True])
def test_long_batched_contraction_with_a_hyperedge(cplx: bool) -> None:
    """A[b, k] B[b, k, j] -> [b, j]: b is shared and kept (a batch axis), k (4000) is
    summed in chunks inside every batch; a third operand shares b too."""
    from diagalg.numeric.plan import contraction_order

    rng = np.random.default_rng(3)
    a = near_top((3, 4000), rng, P, cplx)
    b = near_top((3, 4000, 2), rng, P, False)
    c = near_top((3,), rng, P, cplx)
    operands = [(a, [0, 1]), (b, [0, 1, 2]), (c, [0])]
    order = contraction_order([ids for _, ids in operands], [0, 2], {0: 3, 1: 4000, 2: 2})
    got = F.canonical(contract_along(F, operands, [0, 2], order))
    want = np.einsum("bk,bkj,b->bj", big(a), big(b), big(c))
    np.testing.assert_array_equal(got, big_mod(want, P, cplx))


def test_long_contraction_through_the_evaluator() -> None:
    """The summed index of a diagram (size 5000) is chunked by the mod-p backend too."""
    env = DimEnv()
    n, N = env.declare("n"), env.declare("N")
    A = TensorDecl("A", ("i", "k"), (n, N))
    B = TensorDecl("B", ("k", "j"), (N, n))
    d = Diagram.build(
        [Node(tensor_op(A), ("i", "k")), Node(tensor_op(B), ("k", "j"))], {"i": n, "k": N, "j": n}, {"i": "i", "j": "j"}
    )
    rng = np.random.default_rng(2)
    q = 2097143
    a = near_top((3, 5000), rng, q)
    b = near_top((5000, 3), rng, q)
    want = big_mod(big(a).dot(big(b)), q, False)
    assert not np.array_equal(np.mod(a @ b, q), want)  # 5000 · q² > 2^53: the naive scheme fails
    inst = FieldInstance({n: 3, N: 5000}, {"A": a, "B": b}, Field(q))
    np.testing.assert_array_equal(evaluate_exact(Expr.single(d), inst), want)


@st.composite
def networks(draw):
    """A random network: 1-4 operands over a pool of 5 indices of sizes 1-3 (shared by
    two or three operands, kept or summed: hyperedges), real or complex entries."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=5, max_size=5))
    n_ops = draw(st.integers(1, 4))
    ops = []
    for _ in range(n_ops):
        ids = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3, unique=True))
        ops.append((ids, draw(st.booleans())))
    used = sorted({i for ids, _ in ops for i in ids})
    out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    return sizes, ops, out, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(networks())
def test_pairwise_contraction_equals_integer_arithmetic(net) -> None:
    from diagalg.numeric.plan import contraction_order

    sizes, ops, out, seed = net
    rng = np.random.default_rng(seed)
    operands = []
    for ids, cplx in ops:
        shape = tuple(sizes[i] for i in ids)
        # entries near p (the worst case for the bound) or uniform
        arr = near_top(shape, rng, P, cplx, 7) if rng.integers(0, 2) else F.uniform(shape, rng, cplx)
        operands.append((arr, list(ids)))
    order = contraction_order([ids for _, ids in operands], out, dict(enumerate(sizes)))
    got = F.canonical(contract_along(F, operands, out, order))
    complex_ = any(arr.dtype.kind == "c" for arr, _ in operands)
    # the reference: a sum over every assignment of the indices, in Python integers
    want = np.zeros(tuple(sizes[i] for i in out), dtype=complex if complex_ else float)
    idx = sorted({i for _, ids in operands for i in ids} | set(out))
    totals: dict[tuple[int, ...], Gauss] = {}
    for values in itertools.product(*(range(sizes[i]) for i in idx)):
        at = dict(zip(idx, values))
        term = Gauss(1)
        for arr, ids in operands:
            v = arr[tuple(at[i] for i in ids)]
            term = term * (Gauss(int(v.real), int(v.imag)) if arr.dtype.kind == "c" else Gauss(int(v)))
        key = tuple(at[i] for i in out)
        totals[key] = totals.get(key, Gauss(0)) + term
    for key, g in totals.items():
        want[key] = g.mod(P) if complex_ else g.a % P
    np.testing.assert_array_equal(got, want)


def test_reduce_is_exact_near_the_limit() -> None:
    values = np.array([2**53 - 2**21, -(2**53 - 2**21), 0, P, -P, P * 12345678, 2**52 + 7], dtype=np.float64)
    r = F.reduce(values)
    assert np.all(np.abs(r) <= P // 2 + 4)
    assert [int(v) % P for v in r] == [int(v) % P for v in values]
    assert np.all((F.canonical(values) >= 0) & (F.canonical(values) < P))


def test_power_and_inverse_elements() -> None:
    rng = np.random.default_rng(4)
    x = F.uniform((5,), rng, True)
    got = F.canonical(F.power(x, 7))
    want = [(Gauss(int(v.real), int(v.imag)),) for v in x]
    for g, (w,) in zip(got, want):
        acc = Gauss(1)
        for _ in range(7):
            acc = acc * w
        assert g == acc.mod(P)
    assert F.canonical(F.power(np.zeros(2), 0)).tolist() == [1.0, 1.0]
    e = (3, 5)
    inv = F.inverse_element(e)
    assert (Gauss(*e) * Gauss(*inv)).mod(P) == 1
    assert F.element(1, 3) * 3 % P == 1


# --------------------------------------------------------------------------- exact samples


@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_orthogonal_and_unitary_are_exact(n: int, cplx: bool) -> None:
    rng = np.random.default_rng(n)
    dets = set()
    for _ in range(12):
        q = field_orthogonal(F, n, rng, cplx)
        assert q.dtype == (np.complex128 if cplx else np.float64)
        np.testing.assert_array_equal(mat(F, herm(F, q), q), np.eye(n))
        np.testing.assert_array_equal(mat(F, q, herm(F, q)), np.eye(n))
        if not cplx:
            dets.add(det_mod(q, P))
    if not cplx:
        assert dets == {1, P - 1}  # both determinant signs occur


@pytest.mark.parametrize("cplx", [False, True])
def test_isometry_projector_posdef_invertible_are_exact(cplx: bool) -> None:
    rng = np.random.default_rng(11)
    v = field_isometry(F, 6, 3, rng, cplx)
    assert v.shape == (6, 3)
    np.testing.assert_array_equal(mat(F, herm(F, v), v), np.eye(3))
    ranks = set()
    for _ in range(6):
        pr = field_projector(F, 5, rng, cplx)
        np.testing.assert_array_equal(mat(F, pr, pr), pr)
        np.testing.assert_array_equal(herm(F, pr), pr)
        ranks.add(int(np.trace(pr).real) % P)  # tr P = rank (mod p)
    assert ranks <= set(range(1, 5)) and len(ranks) > 1
    pd = field_posdef(F, 4, rng, cplx)
    np.testing.assert_array_equal(herm(F, pd), pd)
    np.testing.assert_array_equal(mat(F, pd, F.inverse_matrix(pd)), np.eye(4))
    m = field_invertible(F, 4, rng, cplx)
    np.testing.assert_array_equal(mat(F, m, F.inverse_matrix(m)), np.eye(4))
    np.testing.assert_array_equal(mat(F, F.inverse_matrix(m), m), np.eye(4))
    s = field_invertible(F, 4, rng, cplx, symmetric=True)
    np.testing.assert_array_equal(s, s.T)


def test_declared_tensors_over_the_field() -> None:
    prog = program(
        "dim n, r\n"
        "tensor V[a: n, c: n, b: r] isometry(b -> a, c), complex\n"
        "tensor U[a: n, b: n] unitary\n"
        "tensor S[i: n, j: n, k: n] symmetric(i, j), symmetric(j, k)\n"
        "tensor Y[i: n, j: n, k: n] symmetric(i, j, k), complex\n"
        "tensor W[i: n, j: n, k: n, l: n] antisymmetric(i, j), symmetric(k, l)\n"
    )
    n, r = prog.env.symbols["n"], prog.env.symbols["r"]
    rng = np.random.default_rng(5)
    sizes = {n: 3, r: 4}
    decls = {
        d.name: d
        for d in (
            prog.expr(t).terms[0].diagram.nodes[0].op.decl
            for t in ("V[a,c,b]", "U[a,b]", "S[i,j,k]", "Y[i,j,k]", "W[i,j,k,l]")
        )
    }
    v = field_tensor(decls["V"], sizes, rng, F)
    mv = v.reshape(9, 4)  # rows: the outputs (a, c) row-major; columns: b
    np.testing.assert_array_equal(mat(F, herm(F, mv), mv), np.eye(4))
    u = field_tensor(decls["U"], sizes, rng, F)
    np.testing.assert_array_equal(mat(F, u.T, u), np.eye(3))
    y = field_tensor(decls["Y"], sizes, rng, F)
    for perm in itertools.permutations(range(3)):
        np.testing.assert_array_equal(np.transpose(y, perm), y)
    assert y.dtype == np.complex128 and np.all((y.real >= 0) & (y.real < P))
    w = field_tensor(decls["W"], sizes, rng, F)
    np.testing.assert_array_equal(F.canonical(np.swapaxes(w, 0, 1) + w), 0)
    np.testing.assert_array_equal(np.swapaxes(w, 2, 3), w)
    assert np.count_nonzero(w) > 0
    # overlapping groups join: symmetric in all three legs
    s = field_tensor(decls["S"], sizes, rng, F)
    for perm in itertools.permutations(range(3)):
        np.testing.assert_array_equal(np.transpose(s, perm), s)
    assert len(np.unique(s)) > 3
    # groups of opposite signs sharing a leg force zero (the parser refuses them; the model allows them)
    zero = TensorDecl("Z", ("i", "j", "k"), (n, n, n), symmetric=(("i", "j"),), antisymmetric=(("j", "k"),))
    np.testing.assert_array_equal(field_tensor(zero, sizes, rng, F), 0)


# --------------------------------------------------------------------------- obstacles


def _bubble(kind: str, axes=(), param=None, func=None) -> Expr:
    env = DimEnv()
    n = env.declare("n")
    X = TensorDecl("X", ("i", "j"), (n, n))
    inner = Expr.single(Diagram.build([Node(tensor_op(X), ("i", "j"))], {"i": n, "j": n}, {"i": "i", "j": "j"}))
    op = BubbleOp(kind, inner, tuple(axes), None if param is None else sympy.sympify(param), func)
    edges = {p: p for p in op.ports}
    dims = {p: op.port_dim(p) for p in op.ports}
    return Expr.single(Diagram.build([Node(op, tuple(op.ports))], dims, edges))


@pytest.mark.parametrize(
    "kind, axes, word",
    [
        ("exp", (), "exp"),
        ("log", (), "log"),
        ("tanh", (), "tanh"),
        ("sigmoid", (), "sigmoid"),
        ("gelu", (), "gelu"),
        ("relu", (), "relu"),
        ("softmax", ("j",), "softmax"),
        ("logsumexp", ("j",), "logsumexp"),
        ("layernorm", ("j",), "layernorm"),
        ("causal", ("i", "j"), "causal"),
    ],
)
def test_obstacle_names_each_transcendental_bubble(kind: str, axes, word: str) -> None:
    why = exact_obstacle([_bubble(kind, axes)])
    assert why is not None and word in why


def test_obstacle_pow_and_other_cases() -> None:
    assert exact_obstacle([_bubble("pow", param=3)]) is None
    assert exact_obstacle([_bubble("pow", param=0)]) is None
    assert "pow" in exact_obstacle([_bubble("pow", param=sympy.Rational(1, 2))])
    assert "pow" in exact_obstacle([_bubble("pow", param=-1)])
    f = FuncDecl("f", "j", sympy.Symbol("n"), "o", sympy.Symbol("n"))
    assert "f" in exact_obstacle([_bubble("func", axes=("j",), func=f)])
    prog = program(MATS + "tensor x[i: n]\n")
    a = prog.expr("A[i,j] B[j,l]")
    assert exact_obstacle([a]) is None
    assert exact_obstacle([a], Binding(arrays={"A": np.zeros((2, 2))})) == "A is bound to float weights"
    d = prog.expr("diff(x[i] x[i], x[j])")
    assert any(isinstance(nd.op, DerivOp) for nd in d.terms[0].diagram.nodes)
    assert "derivative" in exact_obstacle([d])
    assert "not rational" in exact_obstacle([a.scaled(sympy.sqrt(2))])
    assert "floating-point" in exact_obstacle([a.scaled(sympy.Float(0.1))])
    assert exact_obstacle([a.scaled(sympy.Rational(1, 3) + sympy.I / 2)]) is None
    decl = TensorDecl("Q", ("i",), (sympy.Symbol("n"),), origin=object())
    q = Expr.single(Diagram.build([Node(tensor_op(decl), ("i",))], {"i": sympy.Symbol("n")}, {"i": "i"}))
    assert "decomposition" in exact_obstacle([q])


# --------------------------------------------------------------------------- compare_exact


def test_planted_tiny_error_is_rejected_and_the_identity_accepted() -> None:
    prog = program(MATS)
    bad = exact(prog, "A[i,j] B[j,l]", "A[i,j] B[j,l] + 1e-30 * A[i,j] B[j,l]")
    assert bad is not None and bad.status == "different" and bad.max_error == 1.0 and bad.sizes
    good = exact(prog, "A[i,j] B[j,l]", "(A[i,j] + 1e-30 * A[i,j]) B[j,l] - 1e-30 * A[i,j] B[j,l]")
    assert good is not None and good.status == "equal" and good.max_error == 0.0 and good.rel_error == 0.0
    assert good.draws == 2 * 2  # size draws x tensor draws, the two of a size draw over two primes
    assert getattr(good, "path", "exact") == "exact"
    tiny = exact(prog, "A[i,j] B[j,l]", "A[i,j] B[j,l] + 1e-13 * A[i,j] B[j,l]")
    assert tiny.status == "different"


def test_structured_identities_hold_exactly() -> None:
    prog = program(
        "dim n, r\n"
        "tensor U[a: n, b: n] unitary, complex\n"
        "tensor O[a: n, b: n] unitary\n"
        "tensor V[a: n, b: r] isometry(b -> a)\n"
        "tensor P[a: n, b: n] projector, complex\n"
        "tensor X[a: n, b: n] invertible, complex\n"
        "tensor H[a: n, b: n] posdef\n"
        "tensor Z[a: n, b: n] complex\n"
    )
    for lhs, rhs, status in [
        ("conj(U)[a,b] U[a,c]", "delta[b: n, c]", "equal"),
        ("U[a,b] U[a,c]", "delta[b: n, c]", "different"),
        ("O[a,b] O[c,b]", "delta[a: n, c]", "equal"),
        ("V[a,b] V[a,c]", "delta[b: r, c]", "equal"),
        ("V[a,b] V[c,b]", "delta[a: n, c]", "different"),
        ("P[a,b] P[b,c]", "P[a,c]", "equal"),
        ("conj(P)[b,a]", "P[a,b]", "equal"),
        ("inv(X)[b,a] X[a,c]", "delta[b: n, c]", "equal"),
        ("inv(H)[b,a] H[a,c]", "delta[b: n, c]", "equal"),
        ("H[a,b]", "H[b,a]", "equal"),
        ("conj(Z)[a,b]", "Z[a,b]", "different"),
        ("conj(conj(Z))[a,b] + 0 * Z[a,b]", "Z[a,b]", "equal"),
    ]:
        res = exact(prog, lhs, rhs)
        assert res is not None and res.status == status, (lhs, rhs, res)


def test_polynomial_bubbles_and_complex_coefficients() -> None:
    prog = program("dim n\ntensor A[i: n] complex\ntensor B[i: n] complex\n")
    square = "pow(A[i] + B[i], 2)"
    assert exact(prog, square, "pow(A[i], 2) + 2 delta[i: n, a, b] A[a] B[b] + pow(B[i], 2)").status == "equal"
    assert exact(prog, square, "pow(A[i], 2) + pow(B[i], 2)").status == "different"
    assert exact(prog, "pow(A[i], 3)", "delta[i: n, a, b, c] A[a] A[b] A[c]").status == "equal"
    a, b = prog.expr("A[i]"), prog.expr("A[i]")
    n = prog.env.symbols["n"]
    draws = [SizeDraw({n: 3})]
    res = compare_exact(a.scaled(sympy.I * sympy.I), b.scaled(-1), draws, seed=1, memory_cap=2**30)
    assert res.status == "equal"
    res = compare_exact(a.scaled(sympy.I), b, draws, seed=1, memory_cap=2**30)
    assert res.status == "different"


def test_coefficients_that_have_no_value_mod_p() -> None:
    prog = program(MATS)
    a = prog.expr("A[i,j] B[j,l]")
    n = prog.env.symbols["n"]
    sizes = {s: 3 for s in prog.env.symbols.values()}
    # irrational at this size: the exact path does not apply
    assert compare_exact(a.scaled(1 / sympy.sqrt(n)), a, [SizeDraw({**sizes, n: 5})], seed=0, memory_cap=2**30) is None
    # rational at this one: decided
    res = compare_exact(a.scaled(2 / sympy.sqrt(n)), a, [SizeDraw({**sizes, n: 4})], seed=0, memory_cap=2**30)
    assert res.status == "equal"
    # a denominator divisible by one of the drawn primes: another prime is used
    from diagalg.numeric.exact import _STREAM

    p1, p2 = draw_primes(np.random.default_rng(np.random.SeedSequence([0, _STREAM])), 2)
    c = sympy.Rational(p1, p1 * p2)  # 1/p2, written unreduced: sympy reduces it anyway
    res = compare_exact(a.scaled(c * p2), a, [SizeDraw(sizes)], seed=0, memory_cap=2**30)
    assert res.status == "equal"
    res = compare_exact(
        a.scaled(sympy.Rational(1, p2)), a.scaled(sympy.Rational(1, p2)), [SizeDraw(sizes)], seed=0, memory_cap=2**30
    )
    assert res is not None and res.status == "equal" and res.draws == 2  # one size draw, one draw per prime


def test_memory_cap_is_inconclusive_and_obstacles_give_none() -> None:
    prog = program(MATS)
    a = prog.expr("A[i,j] B[j,l]")
    sizes = SizeDraw({s: 7 for s in prog.env.symbols.values()})
    res = compare_exact(a, a, [sizes], seed=0, memory_cap=100)
    assert res.status == "inconclusive" and "memory cap" in res.reason
    e = prog.expr("exp(A[i,j]) B[j,l]")
    assert compare_exact(e, e, [sizes], seed=0, memory_cap=2**30) is None
    with pytest.raises(ValueError):
        compare_exact(a, prog.expr("A[i,j]"), [sizes], seed=0, memory_cap=2**30)


def test_structural_nodes_and_boxes() -> None:
    prog = program(
        "dim n, m\ntensor A[i: n, j: n]\ntensor x[i: n]\ntensor G[a: n, b: m]\nlet S[i, j] = A[i, j] + A[j, i]\n"
    )
    for lhs, rhs, status in [
        ("S[i, j]", "S[j, i]", "equal"),
        ("S[i, j]", "2 A[i, j]", "different"),
        ("shift(1)[a: n, b] x[b]", "shift(1)[a: n, b] x[b]", "equal"),
        ("(A[i, j] + A[j, i]) x[j]", "A[i, j] x[j] + A[j, i] x[j]", "equal"),
        ("x[i] x[i] x[i]", "delta[i: n, j, k] x[i] x[j] x[k]", "equal"),
        ("x[i] x[j]", "x[j] x[i] + 1/1000003 x[i] x[j]", "different"),
    ]:
        res = exact(prog, lhs, rhs)
        assert res is not None and res.status == status, (lhs, rhs, res)


def test_instances_are_reproducible() -> None:
    prog = program(MATS)
    a = prog.expr("A[i,j] B[j,l]")
    decls, _, _ = collect([a])
    draw = size_draws(prog, [a], 1)[0]
    x = evaluate_exact(a, draw_field_instance(decls, draw, np.random.default_rng(9), F))
    y = evaluate_exact(a, draw_field_instance(decls, draw, np.random.default_rng(9), F))
    np.testing.assert_array_equal(x, y)
    assert np.all((x >= 0) & (x < P)) and np.all(x == np.round(x))


def test_exact_evaluator_agrees_with_the_float_one_on_small_integers() -> None:
    """On arrays of small integers the float evaluator is exact too, so the two
    evaluators must agree mod p: the structural steps (copy tensors, shift, group and
    split, onehot, output diagonals, boxes, loops) are shared, only the arithmetic
    differs."""
    from diagalg.model import IndexOp
    from diagalg.numeric.evaluate import Instance, evaluate

    prog = program(
        "dim n, m\ntensor A[i: n, j: m]\ntensor C[i: n, j: n]\ntensor x[i: n] complex\ntensor Y[i: n, j: n, k: n]\n"
    )
    texts = [
        "group[(i, j) -> g](A[i, j])",
        "split[g -> (i: n, j: m)](group[(i, j) -> g](A[i, j]))",
        "shift(1)[h: n, g] C[g, j] x[j]",
        "shift(-2)[h: n, g] shift(1)[g, k] C[k, h]",
        "delta[i: n, j, k] x[i] C[j, k]",
        "delta[i: n, j] x[k]",
        "conj(x)[i] Y[i, j, j] + 3/7 * C[j, j] x[j]",
        "(C[i, j] + C[j, i]) Y[i, j, k]",
        "C[i, i] C[j, j] delta[k: m, k]",
        "pow(C[i, j] + C[j, i], 3)",
        "group[(i, k) -> g](shift(1)[i: n, j] C[j, k])",
    ]
    n, m = prog.env.symbols["n"], prog.env.symbols["m"]
    rng = np.random.default_rng(8)
    for text in texts:
        e = prog.expr(text)
        decls, _, _ = collect([e])
        sizes = {n: 4, m: 3}
        arrays = {}
        for name, d in decls.items():
            shape = tuple(sizes[s] for s in d.dims)
            arrays[name] = rng.integers(0, 4, shape).astype(np.float64)
            if d.is_complex:
                arrays[name] = arrays[name] + 1j * rng.integers(0, 4, shape)
        want = evaluate(e, Instance(dict(sizes), arrays)).array
        got = evaluate_exact(e, FieldInstance(dict(sizes), arrays, F))
        scaled = want * 7  # the only denominator above is 7: compare 7·value, an integer array
        assert np.allclose(scaled, np.round(scaled), atol=1e-6), text
        np.testing.assert_array_equal(F.canonical(F.scale(7, got)), F.canonical(np.round(scaled)), err_msg=text)
    # a onehot vector (made by expansions; no syntax of its own)
    env = DimEnv()
    h = env.declare("h")
    X = TensorDecl("X", ("i",), (h,))
    d = Diagram.build([Node(tensor_op(X), ("e",)), Node(IndexOp(2, h), ("e",))], {"e": h}, {})
    inst = FieldInstance({h: 4}, {"X": np.array([5.0, 6.0, 7.0, 8.0])}, F)
    assert evaluate_exact(Expr.single(d), inst) == 7.0
