"""Tests of the numeric evaluator and of the comparison criterion.

Expressions are built directly with the model API and checked against numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from diagalg.dims import DimConstraint, DimEnv
from diagalg.model import (
    FUNC_OUT_PORT,
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    FuncDecl,
    Node,
    ReshapeOp,
    ShiftOp,
    TensorDecl,
    Term,
    tensor_op,
)
from diagalg.numeric import (
    Evaluation,
    Instance,
    MemoryCapError,
    compare,
    evaluate,
    evaluate_once,
    sample_func,
    sample_tensor,
)
from diagalg.numeric import contract as contract_module
from diagalg.numeric.check import judge
from diagalg.numeric.errors import format_bytes, format_count

ENV = DimEnv()
n, m, p = ENV.declare("n"), ENV.declare("m"), ENV.declare("p")
ONE = sympy.Integer(1)


# --------------------------------------------------------------------------- builders


def tdecl(name: str, legs: dict[str, sympy.Expr], **kw) -> TensorDecl:
    return TensorDecl(name, tuple(legs), tuple(legs.values()), **kw)


def T(decl: TensorDecl, *edges: str, conj: bool = False, inv: int = 0) -> Node:
    return Node(tensor_op(decl, conj, inv), edges)


def diagram(nodes: list[Node], dims: dict[str, sympy.Expr], free: dict[str, str] | None = None) -> Diagram:
    return Diagram.build(nodes, dims, free or {})


def single(
    nodes: list[Node], dims: dict[str, sympy.Expr], free: dict[str, str] | None = None, coeff: sympy.Expr = ONE
) -> Expr:
    return Expr.single(diagram(nodes, dims, free), coeff)


def instance(
    decls: list[TensorDecl],
    sizes: dict[sympy.Symbol, int],
    seed: int = 0,
    funcs: list[FuncDecl] = (),
    memory_cap: int = 2**30,
) -> Instance:
    rng = np.random.default_rng(seed)
    arrays = {d.name: sample_tensor(d, sizes, rng) for d in decls}
    params = {f.name: sample_func(f, sizes, rng) for f in funcs}
    return Instance(dict(sizes), arrays, params, memory_cap)


def value(expr: Expr, inst: Instance, labels: tuple[str, ...] | None = None) -> np.ndarray:
    return evaluate(expr, inst, labels).array


A = tdecl("A", {"i": n, "j": m})
B = tdecl("B", {"j": m, "k": p})
C = tdecl("C", {"k": p, "i": n})
Sq = tdecl("Sq", {"i": n, "j": n})
x = tdecl("x", {"i": n})
y = tdecl("y", {"i": n})
z = tdecl("z", {"i": n})
SIZES = {n: 5, m: 3, p: 4}


# --------------------------------------------------------------------------- contraction


def test_matrix_product_and_label_order() -> None:
    e = single([T(A, "i", "j"), T(B, "j", "k")], {"i": n, "j": m, "k": p}, {"i": "i", "k": "k"})
    inst = instance([A, B], SIZES)
    np.testing.assert_allclose(value(e, inst), inst.arrays["A"] @ inst.arrays["B"], rtol=1e-13)
    np.testing.assert_allclose(value(e, inst, ("k", "i")), (inst.arrays["A"] @ inst.arrays["B"]).T, rtol=1e-13)


def test_trace_and_closed_chain() -> None:
    inst = instance([A, B, C, Sq], SIZES)
    tr = single([T(Sq, "i", "i")], {"i": n})
    assert value(tr, inst) == pytest.approx(np.trace(inst.arrays["Sq"]))
    loop = single([T(A, "a", "b"), T(B, "b", "c"), T(C, "c", "a")], {"a": n, "b": m, "c": p})
    a, b, c = (inst.arrays[k] for k in "ABC")
    assert value(loop, inst) == pytest.approx(np.trace(a @ b @ c))


def test_hyperedge_matches_einsum() -> None:
    inst = instance([x, y, z, A], SIZES)
    xs, ys, zs = (inst.arrays[k] for k in "xyz")
    three = single([T(x, "i"), T(y, "i"), T(z, "i")], {"i": n})
    assert value(three, inst) == pytest.approx(np.einsum("i,i,i->", xs, ys, zs))
    a = inst.arrays["A"]
    free = single([T(A, "i", "a"), T(A, "i", "b"), T(x, "i")], {"i": n, "a": m, "b": m}, {"a": "a", "b": "b"})
    np.testing.assert_allclose(value(free, inst), np.einsum("ia,ib,i->ab", a, a, xs), rtol=1e-12)


def test_copy_tensor_is_not_materialised() -> None:
    # a 6-leg copy tensor of size 7 would take 941 KiB; the cap is 64 KiB
    inst = instance([x, y, z], {n: 7}, memory_cap=2**16)
    cp = Node(CopyTensor(n, 6), ("e0", "e1", "e2", "e3", "e4", "e5"))
    e = single([cp, T(x, "e0"), T(y, "e1"), T(z, "e2")], {f"e{i}": n for i in range(6)}, {"a": "e3", "b": "e4"})
    xs, ys, zs = (inst.arrays[k] for k in "xyz")
    np.testing.assert_allclose(value(e, inst), np.diag(xs * ys * zs), rtol=1e-13)


def test_ones_loops_and_identities() -> None:
    inst = instance([x], SIZES)
    xs = inst.arrays["x"]
    ones = single([], {"e": n}, {"i": "e"})
    np.testing.assert_array_equal(value(ones, inst), np.ones(5))
    loop = single([T(x, "i")], {"i": n, "l": m}, {"i": "i"})
    np.testing.assert_allclose(value(loop, inst), 3 * xs)
    ident = single([Node(CopyTensor(n, 2), ("a", "b"))], {"a": n, "b": n}, {"i": "a", "j": "b"})
    np.testing.assert_array_equal(value(ident, inst), np.eye(5))
    diag = single([T(x, "e")], {"e": n}, {"i": "e", "j": "e"})
    np.testing.assert_array_equal(value(diag, inst), np.diag(xs))
    copy1 = single([Node(CopyTensor(n, 1), ("e",))], {"e": n}, {"i": "e"})
    np.testing.assert_array_equal(value(copy1, inst), np.ones(5))
    assert value(single([Node(CopyTensor(n, 0), ())], {}), inst) == 5
    assert value(single([Node(CopyTensor(n, 3), ("a", "b", "c"))], {"a": n, "b": n, "c": n}), inst) == 5


def test_coefficients_use_sizes_and_empty_sum() -> None:
    inst = instance([x], SIZES)
    e = single([T(x, "i")], {"i": n}, {"i": "i"}, coeff=sympy.sqrt(n) / 2)
    np.testing.assert_allclose(value(e, inst), math.sqrt(5) / 2 * inst.arrays["x"])
    zero = Expr.of([], {"i": n, "j": m})
    np.testing.assert_array_equal(value(zero, inst), np.zeros((5, 3)))


def test_inverse_and_conjugate() -> None:
    X = tdecl("X", {"i": n, "j": n}, structure="invertible", inputs=("j",), outputs=("i",), is_complex=True)
    inst = instance([X], SIZES)
    xs = inst.arrays["X"]
    inv = single([T(X, "a", "b", inv=1)], {"a": n, "b": n}, {"j": "a", "i": "b"})
    np.testing.assert_allclose(value(inv, inst, ("j", "i")), np.linalg.inv(xs), rtol=1e-12)
    twice = single([T(X, "a", "b", inv=2, conj=True)], {"a": n, "b": n}, {"i": "a", "j": "b"})
    np.testing.assert_array_equal(value(twice, inst), xs.conj())
    # multi-leg: Y[i, j, k, l] invertible(k, l -> i, j); inv(Y) has ports (k, l, i, j)
    Y = tdecl("Y", {"i": n, "j": m, "k": n, "l": m}, structure="invertible", inputs=("k", "l"), outputs=("i", "j"))
    inst = instance([Y], SIZES)
    prod = single(
        [T(Y, "i", "j", "a", "b"), T(Y, "a", "b", "k", "l", inv=1)],
        {"i": n, "j": m, "a": n, "b": m, "k": n, "l": m},
        {"i": "i", "j": "j", "k": "k", "l": "l"},
    )
    np.testing.assert_allclose(value(prod, inst, ("i", "j", "k", "l")).reshape(15, 15), np.eye(15), atol=1e-12)


# --------------------------------------------------------------------------- shift and reshape


@pytest.fixture
def dense_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    original = contract_module._dense_structural

    def spy(pending, edge_size, cap):
        calls.append(pending.op)
        return original(pending, edge_size, cap)

    monkeypatch.setattr(contract_module, "_dense_structural", spy)
    return calls


@pytest.mark.parametrize("offset", [-6, -2, -1, 0, 1, 3])
def test_shift_by_slicing(offset: int, dense_calls: list[object]) -> None:
    inst = instance([x, Sq], SIZES)
    xs, sq = inst.arrays["x"], inst.arrays["Sq"]
    s = np.eye(5, k=-offset)  # dense reference: [a, b] = 1 where a == b + offset
    assert all(s[a, b] == (a == b + offset) for a in range(5) for b in range(5))
    on_b = single([Node(ShiftOp(offset, n), ("q", "k")), T(x, "k")], {"q": n, "k": n}, {"q": "q"})
    np.testing.assert_allclose(value(on_b, inst), s @ xs)
    on_a = single([Node(ShiftOp(offset, n), ("q", "k")), T(x, "q")], {"q": n, "k": n}, {"k": "k"})
    np.testing.assert_allclose(value(on_a, inst), s.T @ xs)
    chain = single(
        [T(Sq, "i", "j"), Node(ShiftOp(offset, n), ("j", "k")), Node(ShiftOp(2, n), ("k", "l"))],
        {"i": n, "j": n, "k": n, "l": n},
        {"i": "i", "l": "l"},
    )
    np.testing.assert_allclose(value(chain, inst), sq @ s @ np.eye(5, k=-2), atol=1e-15)
    assert dense_calls == []


def test_shift_dense_fallback(dense_calls: list[object]) -> None:
    inst = instance([x, y], SIZES)
    xs, ys = inst.arrays["x"], inst.arrays["y"]
    # k is a hyperedge (x, y and the shift): slicing one operand would be wrong
    e = single([Node(ShiftOp(1, n), ("q", "k")), T(x, "k"), T(y, "k")], {"q": n, "k": n}, {"q": "q"})
    np.testing.assert_allclose(value(e, inst), np.eye(5, k=-1) @ (xs * ys))
    alone = single([Node(ShiftOp(2, n), ("a", "b"))], {"a": n, "b": n}, {"a": "a", "b": "b"})
    np.testing.assert_array_equal(value(alone, inst), np.eye(5, k=-2))
    trace = single([Node(ShiftOp(0, n), ("a", "a"))], {"a": n})
    assert value(trace, inst) == 5
    assert len(dense_calls) == 3


def test_reshape_without_dense(dense_calls: list[object]) -> None:
    Bm = tdecl("Bm", {"j": m, "k": n})
    v = tdecl("v", {"g": n * m})
    inst = instance([A, Bm, v], SIZES)
    a, bm, vs = inst.arrays["A"], inst.arrays["Bm"], inst.arrays["v"]
    dims = {"i": n, "j": m, "g": n * m}
    group = single([T(A, "i", "j"), Node(ReshapeOp((n, m)), ("i", "j", "g"))], dims, {"g": "g"})
    np.testing.assert_array_equal(value(group, inst), a.reshape(-1))
    group_t = single([T(A, "i", "j"), Node(ReshapeOp((m, n)), ("j", "i", "g"))], dims, {"g": "g"})
    np.testing.assert_array_equal(value(group_t, inst), a.T.reshape(-1))
    # the parts meet two operands: kept as output axes, flattened after contracting
    prod = single(
        [T(A, "i", "j"), T(Bm, "j", "k"), Node(ReshapeOp((n, n)), ("i", "k", "g"))],
        {"i": n, "j": m, "k": n, "g": n * n},
        {"g": "g"},
    )
    np.testing.assert_allclose(value(prod, inst), (a @ bm).reshape(-1), rtol=1e-13)
    split = single([T(v, "g"), Node(ReshapeOp((n, m)), ("i", "j", "g"))], dims, {"i": "i", "j": "j"})
    np.testing.assert_array_equal(value(split, inst, ("i", "j")), vs.reshape(5, 3))
    roundtrip = single(
        [T(A, "i", "j"), Node(ReshapeOp((n, m)), ("i", "j", "g")), Node(ReshapeOp((n, m)), ("k", "l", "g"))],
        {"i": n, "j": m, "g": n * m, "k": n, "l": m},
        {"k": "k", "l": "l"},
    )
    np.testing.assert_array_equal(value(roundtrip, inst, ("k", "l")), a)
    assert dense_calls == []


def test_reshape_dense_fallback(dense_calls: list[object]) -> None:
    v = tdecl("v", {"g": n * m})
    w = tdecl("w", {"g": n * m})
    inst = instance([v, w], SIZES)
    e = single(
        [T(v, "g"), T(w, "g"), Node(ReshapeOp((n, m)), ("i", "j", "g"))],
        {"i": n, "j": m, "g": n * m},
        {"i": "i", "j": "j"},
    )
    np.testing.assert_allclose(value(e, inst, ("i", "j")), (inst.arrays["v"] * inst.arrays["w"]).reshape(5, 3))
    assert len(dense_calls) == 1


# --------------------------------------------------------------------------- boxes and bubbles


def test_box_of_a_sum() -> None:
    inst = instance([Sq, x], SIZES)
    sq, xs = inst.arrays["Sq"], inst.arrays["x"]
    inner = Expr.of(
        [
            Term(ONE, diagram([T(Sq, "i", "j")], {"i": n, "j": n}, {"i": "i", "j": "j"})),
            Term(sympy.Integer(2), diagram([T(Sq, "j", "i")], {"i": n, "j": n}, {"i": "i", "j": "j"})),
        ],
        {"i": n, "j": n},
    )
    box = BoxOp(inner, ("i", "j"))
    e = single([Node(box, ("a", "b")), T(x, "b")], {"a": n, "b": n}, {"a": "a"})
    np.testing.assert_allclose(value(e, inst), (sq + 2 * sq.T) @ xs, rtol=1e-13)


def _bubble_expr(op: BubbleOp, edges: dict[str, sympy.Expr]) -> Expr:
    """The bubble alone, each port on an edge of its own name (unused ``edges`` are dropped:
    Diagram.build would keep them as closed loops)."""
    dims = {port: edges[port] for port in op.ports}
    return single([Node(op, tuple(op.ports))], dims, {port: port for port in op.ports})


def _gelu(v: np.ndarray) -> np.ndarray:
    return 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v**3)))


ELEMENTWISE = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "relu": lambda v: np.maximum(v, 0),
    "gelu": _gelu,
}


@pytest.mark.parametrize("kind", sorted(ELEMENTWISE))
def test_elementwise_bubbles(kind: str) -> None:
    inst = instance([A], SIZES)
    a = inst.arrays["A"]
    inner = single([T(A, "i", "j")], {"i": n, "j": m}, {"i": "i", "j": "j"})
    got = value(_bubble_expr(BubbleOp(kind, inner), {"i": n, "j": m}), inst)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(got, ELEMENTWISE[kind](a), rtol=1e-13, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize(
    "exponent, expect", [(sympy.Integer(3), 3), (sympy.Integer(-2), -2), (sympy.Rational(1, 2), 0.5), (n, 5)]
)
def test_pow_bubble(exponent: sympy.Expr, expect: float) -> None:
    inst = instance([A], SIZES)
    a = inst.arrays["A"]
    inner = single([T(A, "i", "j")], {"i": n, "j": m}, {"i": "i", "j": "j"})
    got = value(_bubble_expr(BubbleOp("pow", inner, param=exponent), {"i": n, "j": m}), inst)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(got, np.power(a, expect), rtol=1e-13, equal_nan=True)


def test_axis_bubbles() -> None:
    inst = instance([A, Sq], SIZES)
    a, sq = inst.arrays["A"], inst.arrays["Sq"]
    inner = single([T(A, "i", "j")], {"i": n, "j": m}, {"i": "i", "j": "j"})
    dims = {"i": n, "j": m}
    sm = value(_bubble_expr(BubbleOp("softmax", inner, ("j",)), dims), inst)
    np.testing.assert_allclose(sm, np.exp(a) / np.exp(a).sum(1, keepdims=True), rtol=1e-13)
    sm_i = value(_bubble_expr(BubbleOp("softmax", inner, ("i",)), dims), inst)
    np.testing.assert_allclose(sm_i, np.exp(a) / np.exp(a).sum(0, keepdims=True), rtol=1e-13)
    lse = value(_bubble_expr(BubbleOp("logsumexp", inner, ("j",)), dims), inst)
    np.testing.assert_allclose(lse, np.log(np.exp(a).sum(1)), rtol=1e-13)
    ln = value(_bubble_expr(BubbleOp("layernorm", inner, ("j",)), dims), inst)
    centred = a - a.mean(1, keepdims=True)
    np.testing.assert_allclose(ln, centred / np.sqrt(centred.var(1, keepdims=True) + 1e-5), rtol=1e-12)
    sq_inner = single([T(Sq, "q", "k")], {"q": n, "k": n}, {"q": "q", "k": "k"})
    causal = BubbleOp("causal", sq_inner, ("q", "k"))
    masked = np.where(np.arange(5)[None, :] > np.arange(5)[:, None], -np.inf, sq)
    np.testing.assert_array_equal(value(_bubble_expr(causal, {"q": n, "k": n}), inst, ("q", "k")), masked)
    attn_inner = _bubble_expr(causal, {"q": n, "k": n})
    attn = value(_bubble_expr(BubbleOp("softmax", attn_inner, ("k",)), {"q": n, "k": n}), inst, ("q", "k"))
    ref = np.exp(masked - masked.max(1, keepdims=True))
    np.testing.assert_allclose(attn, ref / ref.sum(1, keepdims=True), rtol=1e-13)
    assert np.all(np.triu(attn, 1) == 0)


def test_func_bubble() -> None:
    f = FuncDecl("f", "x", m, "y", p)
    inst = instance([A], SIZES, funcs=[f])
    a = inst.arrays["A"]
    inner = single([T(A, "i", "j")], {"i": n, "j": m}, {"i": "i", "j": "j"})
    op = BubbleOp("func", inner, ("j",), func=f)
    assert op.ports == ("i", FUNC_OUT_PORT)
    e = single([Node(op, ("i", "o"))], {"i": n, "o": p}, {"i": "i", "o": "o"})
    params = inst.funcs["f"]
    np.testing.assert_allclose(value(e, inst), np.tanh(a @ params.W.T + params.c), rtol=1e-13)


# --------------------------------------------------------------------------- derivatives

QUAD = single([T(x, "i"), T(Sq, "i", "j"), T(x, "j")], {"i": n, "j": n})


def _diff(inner: Expr, wrt: TensorDecl, rename: dict[str, str], dims: dict[str, sympy.Expr]) -> Expr:
    """``diff(inner, wrt)`` alone; port P sits on edge (and free label) ``rename.get(P, P)``."""
    op = DerivOp(inner, tensor_op(wrt))
    edges = tuple(rename.get(port, port) for port in op.ports)
    return single([Node(op, edges)], dims, {e: e for e in edges})


def test_diff_by_complex_step() -> None:
    inst = instance([x, Sq], SIZES)
    xs, sq = inst.arrays["x"], inst.arrays["Sq"]
    ev = evaluate(_diff(QUAD, x, {"@d0": "k"}, {"k": n}), inst)
    assert not ev.approximate
    np.testing.assert_allclose(ev.array, (sq + sq.T) @ xs, rtol=1e-13)
    lin = single([T(Sq, "i", "j"), T(x, "j")], {"i": n, "j": n}, {"i": "i"})
    jac = evaluate(_diff(lin, x, {"@d0": "k"}, {"i": n, "k": n}), inst, ("i", "k"))
    np.testing.assert_allclose(jac.array, sq, rtol=1e-14)
    none = evaluate(_diff(lin, y, {"@d0": "k"}, {"i": n, "k": n}), instance([x, y, Sq], SIZES), ("i", "k"))
    np.testing.assert_array_equal(none.array, np.zeros((5, 5)))


def test_diff_through_inverse_and_nested_bubble() -> None:
    X = tdecl("X", {"i": n, "j": n}, structure="invertible", inputs=("j",), outputs=("i",))
    inst = instance([X, Sq, x], SIZES)
    xs, sq = inst.arrays["X"], inst.arrays["Sq"]
    # f = inv(X)[j, i] Sq[i, j] = tr(X^-1 Sq); df/dX[p, q] = -(X^-1 Sq X^-1)[q, p]
    f = single([T(X, "a", "b", inv=1), T(Sq, "b", "a")], {"a": n, "b": n})
    got = evaluate(_diff(f, X, {"@d0": "p", "@d1": "q"}, {"p": n, "q": n}), inst, ("p", "q"))
    xi = np.linalg.inv(xs)
    np.testing.assert_allclose(got.array, -(xi @ sq @ xi).T, rtol=1e-11)
    assert not got.approximate
    # exp( (x Sq x) ) inside a bubble: the perturbation reaches nested expressions
    bub = single([Node(BubbleOp("exp", QUAD), ())], {})
    got = evaluate(_diff(bub, x, {"@d0": "k"}, {"k": n}), inst)
    v = inst.arrays["x"]
    np.testing.assert_allclose(got.array, np.exp(v @ sq @ v) * (sq + sq.T) @ v, rtol=1e-12)


def test_diff_through_relu() -> None:
    inst = instance([x, Sq], SIZES)
    xs, sq = inst.arrays["x"], inst.arrays["Sq"]
    inner = single([T(Sq, "i", "j"), T(x, "j")], {"i": n, "j": n}, {"i": "i"})
    summed = single([Node(BubbleOp("relu", inner), ("i",))], {"i": n})
    got = evaluate(_diff(summed, x, {"@d0": "k"}, {"k": n}), inst)
    np.testing.assert_allclose(got.array, sq.T @ (sq @ xs > 0), rtol=1e-13)


def test_diff_with_conj_uses_central_differences() -> None:
    Z = tdecl("Z", {"i": n}, is_complex=True)
    inst = instance([Z, Sq], SIZES)
    zs, sq = inst.arrays["Z"], inst.arrays["Sq"]
    f = single([T(Z, "i", conj=True), T(Sq, "i", "j"), T(Z, "j")], {"i": n, "j": n})
    got = evaluate(_diff(f, Z, {"@d0": "k"}, {"k": n}), inst)
    assert got.approximate
    np.testing.assert_allclose(got.array, sq.T @ zs.conj(), rtol=1e-8)


def test_hessian_nested_diff() -> None:
    inst = instance([x, Sq], SIZES)
    sq = inst.arrays["Sq"]
    grad = _diff(QUAD, x, {"@d0": "k"}, {"k": n})
    hess = evaluate(_diff(grad, x, {"@d0": "l"}, {"k": n, "l": n}), inst, ("k", "l"))
    assert hess.approximate
    np.testing.assert_allclose(hess.array, sq + sq.T, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- memory cap


def test_sizes_and_counts_in_refusals_read_at_a_glance() -> None:
    """A hopeless contraction's figures stay short: binary units up to EiB, then powers of
    ten; counts with separators up to ten million, then three significant digits."""
    assert [format_bytes(v) for v in (312, 1536, 2**30, 5 * 2**50, 3 * 2**60)] == [
        "312 B",
        "1.5 KiB",
        "1 GiB",
        "5 PiB",
        "3 EiB",
    ]
    assert format_bytes(1.2e26) == "1e+08 EiB" and format_bytes(2**2000) == "about 2^2000 B"
    assert format_count(1_000_000) == "1,000,000" and format_count(14551915228366851806640625) == "1.46e+25"


def test_memory_cap_refusal() -> None:
    inst = instance([x, y, z], {n: 7}, memory_cap=1000)
    outer = single([T(x, "a"), T(y, "b"), T(z, "c")], {"a": n, "b": n, "c": n}, {"a": "a", "b": "b", "c": "c"})
    with pytest.raises(MemoryCapError, match=r"exceeds the memory cap of 1000 B \(--memory\)"):
        evaluate(outer, inst)
    assert format_bytes(2**30) == "1 GiB"
    big = DimEnv()
    d = big.declare("d", 60)
    H = tdecl("H", {"i": d, "j": d, "k": d, "l": d})
    res = compare(
        single([T(H, "i", "j", "k", "l")], {"i": d, "j": d, "k": d, "l": d}),
        single([T(H, "i", "j", "k", "l")], {"i": d, "j": d, "k": d, "l": d}),
        big,
        memory_cap=2**20,
    )
    assert res.status == "inconclusive" and "memory cap of 1 MiB" in res.reason


# --------------------------------------------------------------------------- compare


def _trace3(order: str) -> Expr:
    nodes = {"A": T(A, "a", "b"), "B": T(B, "b", "c"), "C": T(C, "c", "a")}
    return single([nodes[k] for k in order], {"a": n, "b": m, "c": p})


def test_compare_equal_and_different() -> None:
    res = compare(_trace3("ABC"), _trace3("CAB"), ENV, seed=7, path="float")
    assert res.status == "equal" and res.draws == 4 and res.seed == 7 and res.rel_error < 1e-12
    # exactly: 2 size draws x 2 tensor draws, one over each of two prime fields
    res = compare(_trace3("ABC"), _trace3("CAB"), ENV, seed=7)
    assert res.status == "equal" and res.path == "exact" and res.draws == 4 and res.rel_error == 0
    a = single([T(Sq, "i", "j")], {"i": n, "j": n}, {"i": "i", "j": "j"})
    at = single([T(Sq, "j", "i")], {"i": n, "j": n}, {"i": "i", "j": "j"})
    res = compare(a, at, ENV)
    assert res.status == "different" and res.max_error > 0.01 and res.rel_error > 1e-6 and res.sizes
    assert compare(a, at, ENV, expect_equal=False).status == "different"
    assert compare(a, a, ENV, expect_equal=False).status == "equal"
    with pytest.raises(ValueError):
        compare(a, single([T(x, "i")], {"i": n}, {"i": "i"}), ENV)


def test_compare_structured_identities() -> None:
    V = tdecl("V", {"a": n, "b": p}, structure="isometry", inputs=("b",), outputs=("a",), is_complex=True)
    env = DimEnv()
    nn, pp = env.declare("n"), env.declare("p")
    vv = single([T(V, "a", "b"), T(V, "a", "c", conj=True)], {"a": nn, "b": pp, "c": pp}, {"b": "b", "c": "c"})
    delta = single([Node(CopyTensor(pp, 2), ("b", "c"))], {"b": pp, "c": pp}, {"b": "b", "c": "c"})
    assert compare(vv, delta, env).status == "equal"
    vv_out = single([T(V, "a", "b"), T(V, "c", "b", conj=True)], {"a": nn, "b": pp, "c": nn}, {"a": "a", "c": "c"})
    delta_n = single([Node(CopyTensor(nn, 2), ("a", "c"))], {"a": nn, "c": nn}, {"a": "a", "c": "c"})
    assert compare(vv_out, delta_n, env).status == "different"  # V V† != I when |b| < |a|
    X = tdecl("X", {"i": n, "j": n}, structure="invertible", inputs=("j",), outputs=("i",))
    xinv = single([T(X, "i", "j"), T(X, "j", "k", inv=1)], {"i": n, "j": n, "k": n}, {"i": "i", "k": "k"})
    ident = single([Node(CopyTensor(n, 2), ("i", "k"))], {"i": n, "k": n}, {"i": "i", "k": "k"})
    assert compare(xinv, ident, ENV).status == "equal"


def test_compare_nan_is_inconclusive() -> None:
    t3 = tdecl("t3", {"i": n, "j": n, "k": n})
    inner = single([T(t3, "i", "j", "k")], {"i": n, "j": n, "k": n}, {"i": "i", "j": "j", "k": "k"})
    logs = _bubble_expr(BubbleOp("log", inner), {"i": n, "j": n, "k": n})
    res = compare(logs, logs, ENV)
    assert res.status == "inconclusive" and "NaN" in res.reason


def test_cancelling_terms_and_scale() -> None:
    dims = {"i": n, "j": n}
    free = {"i": "i", "j": "j"}
    a = diagram([T(Sq, "i", "j")], dims, free)
    b = diagram([T(Sq, "j", "i")], dims, free)
    zero = Expr.of([], {"i": n, "j": n})
    assert compare(Expr.of([Term(ONE, a), Term(-ONE, a)], {"i": n, "j": n}), zero, ENV).status == "equal"
    big = sympy.Integer(10) ** 8
    lhs = Expr.of([Term(big, a), Term(ONE, b), Term(-big, a)], {"i": n, "j": n})
    rhs = Expr.of([Term(ONE, b)], {"i": n, "j": n})
    inst = instance([Sq], SIZES)
    ev = evaluate(lhs, inst)
    assert ev.scale == pytest.approx(1e8 * np.abs(inst.arrays["Sq"]).max())
    assert compare(lhs, rhs, ENV).status == "equal"
    # the criterion is relative to the terms, with a floor of 1e-3
    mk = lambda arr, scale: Evaluation(np.asarray(arr, dtype=float), ("i",), scale)  # noqa: E731
    assert judge(mk([1.0], 1.0), mk([1.0 + 5e-10], 1.0)).error <= 1e-9
    assert judge(mk([0.0], 0.0), mk([2e-12], 0.0)).scale == 1e-3
    assert judge(mk([np.inf], 1.0), mk([np.inf], 1.0)).problem == ""
    assert judge(mk([np.inf], 1.0), mk([-np.inf], 1.0)).problem


def test_compare_diff_approximate_and_standins() -> None:
    Z = tdecl("Z", {"i": n}, is_complex=True)
    f = single([T(Z, "i", conj=True), T(Sq, "i", "j"), T(Z, "j")], {"i": n, "j": n})
    lhs = _diff(f, Z, {"@d0": "k"}, {"k": n})
    rhs = single([T(Z, "i", conj=True), T(Sq, "i", "k")], {"i": n, "k": n}, {"k": "k"})
    res = compare(lhs, rhs, ENV)
    assert res.status == "equal" and res.approximate
    env = DimEnv()
    seq = env.declare("seq", 1024)
    s = tdecl("s", {"t": seq})
    e = single([T(s, "t")], {"t": seq}, {"t": "t"}, coeff=seq)
    loop = single([T(s, "t")], {"t": seq, "u": seq}, {"t": "t"})
    res = compare(e, loop, env)
    # the statement counts seq as a number (a coefficient, a closed loop): checked at its real size
    assert res.status == "equal" and "seq" not in res.standins
    plain = single([T(s, "t")], {"t": seq}, {"t": "t"})
    res = compare(plain, plain, env)
    assert res.status == "equal" and res.standins["seq"][0] == 1024 and max(res.standins["seq"][1:]) < 1024


def test_compare_sampling_failure_is_inconclusive() -> None:
    env = DimEnv()
    k = env.declare("k")
    env.constraints.append(DimConstraint(k, ">", sympy.Integer(500)))
    v = tdecl("v", {"i": k})
    e = single([T(v, "i")], {"i": k}, {"i": "i"})
    res = compare(e, e, env)
    assert res.status == "inconclusive" and "k > 500" in res.reason


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_evaluate_once_matches_numpy(seed: int) -> None:
    e = single([T(A, "i", "j"), T(B, "j", "k"), T(C, "k", "l")], {"i": n, "j": m, "k": p, "l": n}, {"i": "i", "l": "l"})
    ev = evaluate_once(e, ENV, seed)
    assert ev.labels == ("i", "l") and ev.array.shape[0] == ev.array.shape[1]
    assert np.isfinite(ev.array).all()


def _bubble_chain(kind: str) -> Expr:
    """sum_i w[i] kind(...)[i] over a bubble fed by Sq x (through exp where a positive
    argument is needed), so its derivative by x exercises the bubble's complex step."""
    lin = single([T(Sq, "i", "j"), T(x, "j")], {"i": n, "j": n}, {"i": "i"})
    if kind in ("log", "pow"):
        lin = _bubble_expr(BubbleOp("exp", lin), {"i": n})
    if kind in ("softmax", "logsumexp", "layernorm", "causal"):
        outer = single([T(Sq, "i", "k"), T(x, "k"), T(y, "j")], {"i": n, "j": n, "k": n}, {"i": "i", "j": "j"})
        axes = ("i", "j") if kind == "causal" else ("j",)
        bub = BubbleOp(kind, outer, axes)
        if kind == "causal":  # causal then softmax: the masked entries are -inf
            bub = BubbleOp("softmax", _bubble_expr(bub, {"i": n, "j": n}), ("j",))
        return single(
            [Node(bub, bub.ports), T(z, "i")] + ([T(y, "j")] if "j" in bub.ports else []),
            {"i": n, "j": n} if "j" in bub.ports else {"i": n},
        )
    param = sympy.Rational(1, 3) if kind == "pow" else None
    bub = BubbleOp(kind, lin, param=param)
    return single([Node(bub, ("i",)), T(z, "i")], {"i": n})


@pytest.mark.parametrize(
    "kind", ["exp", "log", "tanh", "sigmoid", "relu", "gelu", "pow", "softmax", "logsumexp", "layernorm", "causal"]
)
def test_complex_step_through_every_bubble(kind: str) -> None:
    inst = instance([x, y, z, Sq], SIZES, seed=3)
    f = _bubble_chain(kind)
    got = evaluate(_diff(f, x, {"@d0": "k"}, {"k": n}), inst)
    assert not got.approximate
    x0 = inst.arrays["x"]
    h = 1e-5
    ref = []
    for k in range(5):
        e = np.zeros(5)
        e[k] = h
        plus = evaluate(f, inst.with_array("x", x0 + e)).array
        minus = evaluate(f, inst.with_array("x", x0 - e)).array
        ref.append((plus - minus) / (2 * h))
    np.testing.assert_allclose(got.array, ref, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- random diagrams


def _dense_reference(d: Diagram, inst: Instance, labels: tuple[str, ...]) -> np.ndarray:
    """Naive evaluation: every node a dense array (copy, shift and reshape included), a
    ones vector on every edge (harmless on used edges, the size on closed loops), one
    np.einsum; a second label on an edge gets its own letter through an identity."""
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    letter = {e: next(letters) for e in d.dims}
    size = {e: inst.size(dim) for e, dim in d.dims.items()}
    ops: list[np.ndarray] = []
    subs: list[str] = []
    for node in d.nodes:
        op = node.op
        if isinstance(op, CopyTensor):
            k = inst.size(op.dim)
            arr = np.zeros((k,) * op.arity)
            for i in range(k):
                arr[(i,) * op.arity] = 1
            if op.arity == 0:
                arr = np.array(float(k))
        elif isinstance(op, ShiftOp):
            k = inst.size(op.dim)
            arr = np.array([[float(a == b + op.offset) for b in range(k)] for a in range(k)])
        elif isinstance(op, ReshapeOp):
            parts = [inst.size(q) for q in op.part_dims]
            arr = np.eye(math.prod(parts)).reshape(parts + [math.prod(parts)])
        else:
            arr = inst.tensor(op)
        ops.append(arr)
        subs.append("".join(letter[e] for e in node.edges))
    for e in d.dims:
        ops.append(np.ones(size[e]))
        subs.append(letter[e])
    out = ""
    seen: set[str] = set()
    for label in labels:
        e = d.free_map[label]
        if e in seen:
            fresh = next(letters)
            ops.append(np.eye(size[e]))
            subs.append(letter[e] + fresh)
            out += fresh
        else:
            seen.add(e)
            out += letter[e]
    return np.einsum(",".join(subs) + "->" + out, *ops, optimize=True)


_KINDS = {"n": n, "m": m, "g": n * m}
_EDGES = {kind: [f"{kind}{i}" for i in range(3)] for kind in _KINDS}


@st.composite
def random_diagrams(draw) -> tuple[Diagram, list[TensorDecl]]:
    nodes: list[Node] = []
    decls: list[TensorDecl] = []

    def edge(kind: str) -> str:
        return draw(st.sampled_from(_EDGES[kind]))

    for idx in range(draw(st.integers(1, 5))):
        what = draw(st.sampled_from(["tensor", "tensor", "copy", "shift", "reshape"]))
        if what == "tensor":
            kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=0, max_size=3))
            decl = tdecl(f"R{idx}", {f"l{i}": _KINDS[k] for i, k in enumerate(kinds)})
            decls.append(decl)
            nodes.append(T(decl, *(edge(k) for k in kinds)))
        elif what == "copy":
            kind = draw(st.sampled_from(["n", "m"]))
            arity = draw(st.integers(0, 3))
            nodes.append(Node(CopyTensor(_KINDS[kind], arity), tuple(edge(kind) for _ in range(arity))))
        elif what == "shift":
            nodes.append(Node(ShiftOp(draw(st.integers(-3, 3)), n), (edge("n"), edge("n"))))
        else:
            nodes.append(Node(ReshapeOp((n, m)), (edge("n"), edge("m"), edge("g"))))
    used = sorted({e for node in nodes for e in node.edges})
    candidates = used + [e for kind in _KINDS for e in _EDGES[kind][:1]]
    free_edges = draw(st.lists(st.sampled_from(candidates), max_size=3))
    free = {f"L{i}": e for i, e in enumerate(free_edges)}
    closed = draw(st.lists(st.sampled_from(candidates), max_size=1))
    dims = {e: _KINDS[e[0]] for e in set(used) | set(free_edges) | set(closed)}
    return Diagram.build(nodes, dims, free), decls


@settings(max_examples=150, deadline=None)
@given(case=random_diagrams(), seed=st.integers(0, 100))
def test_random_diagrams_match_dense_einsum(case: tuple[Diagram, list[TensorDecl]], seed: int) -> None:
    d, decls = case
    inst = instance(decls, {n: 3, m: 2}, seed=seed)
    labels = tuple(sorted(d.labels, reverse=True))
    got = value(Expr.single(d), inst, labels)
    np.testing.assert_allclose(got, _dense_reference(d, inst, labels), rtol=1e-12, atol=1e-12)


def test_a_bubble_shared_by_many_terms_is_evaluated_once_per_instance_and_never_stale():
    # `paths ... top K` evaluates thousands of terms that share bubbles; the instance
    # caches each bubble's value, and a changed array (with_array) must not see it
    import diagalg
    from diagalg.numeric.check import collect, draw_instance
    from diagalg.numeric.evaluate import evaluate
    from diagalg.numeric.sizes import sample_sizes

    prog = diagalg.parse("dim n\ntensor S[q: n, k: n]\ntensor x[k: n]\n")
    e = prog.expr("softmax[k](S[q, k]) x[k]")
    rng = np.random.default_rng(0)
    decls, funcs, syms = collect([e])
    inst = draw_instance(decls, funcs, sample_sizes(syms, prog.env, decls.values(), rng), rng)
    assert inst.shared_bubbles is None  # opt-in: ordinary checks do not hash bubbles
    inst.share_bubbles()
    first = evaluate(e, inst, ["q"]).array
    assert len(inst._bucket("bubbles")) == 1
    assert np.array_equal(evaluate(e, inst, ["q"]).array, first)
    s = inst.arrays["S"]
    expected = (
        np.exp(s - s.max(1, keepdims=True)) / np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True)
    ) @ inst.arrays["x"]
    assert np.allclose(first, expected)
    other = inst.with_array("S", 2 * s)
    assert not np.allclose(evaluate(e, other, ["q"]).array, first)
