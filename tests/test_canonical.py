"""Tests of diagalg.canonical: equality of diagrams by canonical labelling."""

from __future__ import annotations

import random
from typing import Iterable, Mapping

import networkx as nx
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagalg.canonical import canonical_key, canonical_term, collect, equal, expr_key
from diagalg.dims import dim_symbol
from diagalg.model import (
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
from strategies import nx_graph, shuffled

n = dim_symbol("n")
m = dim_symbol("m")

A = TensorDecl("A", ("i", "j"), (n, n))
B = TensorDecl("B", ("i", "j"), (n, n))
C = TensorDecl("C", ("i", "j"), (n, n))
S = TensorDecl("S", ("i", "j"), (n, n), symmetric=(("i", "j"),))
T = TensorDecl("T", ("i", "j"), (n, n), antisymmetric=(("i", "j"),))
T3 = TensorDecl("T3", ("a", "b", "c"), (n, n, n), antisymmetric=(("a", "b", "c"),))
Y = TensorDecl("Y", ("a", "b", "c"), (n, n, n), symmetric=(("a", "b", "c"),))
W = TensorDecl("W", ("a", "b", "c"), (n, n, n))
x = TensorDecl("x", ("i",), (n,))
y = TensorDecl("y", ("i",), (n,))
Z = TensorDecl("Z", ("i", "j"), (n, n), is_complex=True)
X = TensorDecl("X", ("i", "j"), (n, n), structure="invertible", inputs=("j",), outputs=("i",))
P = TensorDecl("P", ("i", "j"), (n, n), structure="projector", inputs=("j",), outputs=("i",))
XT = TensorDecl(
    "XT", ("i", "j"), (n, n), antisymmetric=(("i", "j"),), structure="invertible", inputs=("j",), outputs=("i",)
)


def N(decl: TensorDecl, *edges: str, conj: bool = False, inv: int = 0) -> Node:
    return Node(tensor_op(decl, conj=conj, inv=inv), tuple(edges))


def D(
    nodes: Iterable[Node], free: Mapping[str, str] | None = None, dims: Mapping[str, sympy.Expr] | None = None
) -> Diagram:
    """A diagram; every edge has dimension n unless ``dims`` says otherwise."""
    nodes = list(nodes)
    free = dict(free or {})
    dims = dict(dims or {})
    for nd in nodes:
        for p, e in nd.port_edges():
            dims.setdefault(e, nd.op.port_dim(p))
    for e in free.values():
        dims.setdefault(e, n)
    return Diagram.build(nodes, dims, free)


def E(diagram: Diagram, coeff=1) -> Expr:
    return Expr.single(diagram, sympy.sympify(coeff))


def key(*args, **kw):
    return canonical_key(D(*args, **kw))


def ring(decls, edge_names) -> list[Node]:
    k = len(decls)
    return [N(decls[t], edge_names[t], edge_names[(t + 1) % k]) for t in range(k)]


# --------------------------------------------------------------------------- basics


def test_contracted_names_do_not_matter():
    a = D([N(A, "i", "j"), N(B, "j", "k")], {"i": "i", "k": "k"})
    b = D([N(A, "p", "zz"), N(B, "zz", "q")], {"i": "p", "k": "q"})
    assert canonical_key(a) == canonical_key(b)
    assert equal(E(a), E(b))


def test_free_label_names_matter():
    a = D([N(A, "i", "j")], {"i": "i", "j": "j"})
    b = D([N(A, "i", "k")], {"i": "i", "k": "k"})
    assert canonical_key(a) != canonical_key(b)
    assert not equal(E(a), E(b))


def test_trace_cyclicity_and_factor_order():
    abc = D([N(A, "i", "j"), N(B, "j", "k"), N(C, "k", "i")])
    cab = D([N(C, "k", "i"), N(A, "i", "j"), N(B, "j", "k")])
    acb = D([N(A, "i", "j"), N(C, "j", "k"), N(B, "k", "i")])
    assert canonical_key(abc) == canonical_key(cab)
    assert canonical_key(abc) != canonical_key(acb)


def test_transpose_differs_unless_symmetric():
    f = {"i": "p", "j": "q"}
    assert key([N(A, "p", "q")], f) != key([N(A, "q", "p")], f)
    assert key([N(S, "p", "q")], f) == key([N(S, "q", "p")], f)
    # symmetric S[i, j] x[j] == S[j, i] x[j]
    assert key([N(S, "i", "j"), N(x, "j")], {"i": "i"}) == key([N(S, "j", "i"), N(x, "j")], {"i": "i"})
    assert key([N(A, "i", "j"), N(x, "j")], {"i": "i"}) != key([N(A, "j", "i"), N(x, "j")], {"i": "i"})


def test_identity_and_ones():
    # delta[i, j] as an edge with two labels vs the all-ones vector (edge with one label)
    d1 = Diagram.build([], {"e": n}, {"i": "e", "j": "e"})
    d2 = Diagram.build([], {"e": n, "f": n}, {"i": "e", "j": "f"})
    assert canonical_key(d1) != canonical_key(d2)
    # closed loop dimension vs nothing
    loop = Diagram.build([], {"e": n}, {})
    loop_m = Diagram.build([], {"e": m}, {})
    empty = Diagram.build([], {}, {})
    assert len({canonical_key(loop), canonical_key(loop_m), canonical_key(empty)}) == 3


def test_dimensions_matter():
    a = Diagram.build([Node(CopyTensor(n, 2), ("e", "f"))], {"e": n, "f": n}, {"i": "e", "j": "f"})
    b = Diagram.build([Node(CopyTensor(m, 2), ("e", "f"))], {"e": m, "f": m}, {"i": "e", "j": "f"})
    assert canonical_key(a) != canonical_key(b)


def test_conj_and_inv_distinguish():
    f = {"i": "p", "j": "q"}
    assert key([N(Z, "p", "q")], f) != key([N(Z, "p", "q", conj=True)], f)
    assert key([N(X, "p", "q")], f) != key([N(X, "p", "q", inv=1)], f)
    # inv(inv(X)) is X
    assert key([N(X, "p", "q")], f) == key([N(X, "p", "q", inv=2)], f)
    # conj of a real tensor is dropped by tensor_op
    assert key([N(A, "p", "q")], f) == key([N(A, "p", "q", conj=True)], f)
    # inv(X) ports are (j, i): binding inv(X)[p, q] puts leg j on p
    assert key([N(X, "p", "q", inv=1)], f) != key([N(X, "q", "p", inv=1)], f)


def test_real_projector_is_symmetric():
    f = {"i": "p", "j": "q"}
    assert key([N(P, "p", "q")], f) == key([N(P, "q", "p")], f)
    Pc = TensorDecl("Pc", ("i", "j"), (n, n), structure="projector", inputs=("j",), outputs=("i",), is_complex=True)
    assert key([N(Pc, "p", "q")], f) != key([N(Pc, "q", "p")], f)


def test_copy_tensor_ports_are_symmetric():
    f = {"i": "a", "j": "b"}
    d1 = D([Node(CopyTensor(n, 3), ("a", "b", "c")), N(x, "c")], f)
    d2 = D([Node(CopyTensor(n, 3), ("c", "a", "b")), N(x, "c")], f)
    d3 = D([Node(CopyTensor(n, 3), ("b", "c", "a")), N(x, "c")], f)
    assert canonical_key(d1) == canonical_key(d2) == canonical_key(d3)
    # but the arity matters
    d4 = D([Node(CopyTensor(n, 4), ("a", "b", "c", "c")), N(x, "c")], f)
    assert canonical_key(d1) != canonical_key(d4)


def test_shift_and_reshape():
    f = {"i": "a", "j": "b"}
    s1 = D([Node(ShiftOp(1, n), ("a", "b"))], f)
    s2 = D([Node(ShiftOp(1, n), ("b", "a"))], f)
    s3 = D([Node(ShiftOp(-1, n), ("a", "b"))], f)
    assert canonical_key(s1) != canonical_key(s2)
    assert canonical_key(s2) == canonical_key(D([Node(ShiftOp(1, n), ("b", "a"))], f))
    assert canonical_key(s1) != canonical_key(s3)
    r = ReshapeOp((n, m))
    g1 = D([Node(r, ("a", "b", "g"))], {"i": "a", "j": "b", "g": "g"}, dims={"a": n, "b": m, "g": n * m})
    r2 = ReshapeOp((m, n))
    g2 = D([Node(r2, ("b", "a", "g"))], {"i": "a", "j": "b", "g": "g"}, dims={"a": n, "b": m, "g": n * m})
    assert canonical_key(g1) != canonical_key(g2)


# --------------------------------------------------------------------------- antisymmetry


def test_antisymmetric_contracted_with_symmetric_vanishes():
    k, s = canonical_term(D([N(T, "i", "j"), N(S, "i", "j")]))
    assert s == 0
    assert collect(E(D([N(T, "i", "j"), N(S, "i", "j")]))).terms == ()
    assert equal(E(D([N(T, "i", "j"), N(S, "i", "j")])), Expr.scalar(0))


def test_antisymmetric_trace_and_quadratic_form_vanish():
    assert canonical_term(D([N(T, "i", "i")]))[1] == 0
    assert canonical_term(D([N(T, "i", "j"), N(x, "i"), N(x, "j")]))[1] == 0
    assert canonical_term(D([N(T, "i", "j"), N(x, "i"), N(y, "j")]))[1] in (1, -1)
    # a fully antisymmetric 3-tensor contracted with Y symmetric in all legs
    assert canonical_term(D([N(T3, "a", "b", "c"), N(Y, "a", "b", "c")]))[1] == 0
    # ... but not with W (no symmetry)
    assert canonical_term(D([N(T3, "a", "b", "c"), N(W, "a", "b", "c")]))[1] != 0


def test_antisymmetric_sign():
    # T[i,j] T[j,i] == -T[i,j] T[i,j]
    a = D([N(T, "i", "j"), N(T, "j", "i")])
    b = D([N(T, "i", "j"), N(T, "i", "j")])
    ka, sa = canonical_term(a)
    kb, sb = canonical_term(b)
    assert ka == kb and sa == -sb
    assert equal(E(a), E(b, -1))
    assert not equal(E(a), E(b))
    # free legs: T[i,j] == -T[j,i]
    f = {"i": "p", "j": "q"}
    assert equal(E(D([N(T, "p", "q")], f)), E(D([N(T, "q", "p")], f), -1))
    # 3 legs: cyclic shifts are even, transpositions odd
    f3 = {"a": "p", "b": "q", "c": "r"}
    base = E(D([N(T3, "p", "q", "r")], f3))
    assert equal(base, E(D([N(T3, "q", "r", "p")], f3)))
    assert equal(base, E(D([N(T3, "q", "p", "r")], f3), -1))
    # T[i,j] x[i] y[j] == -T[j,i] x[i] y[j]
    assert equal(E(D([N(T, "i", "j"), N(x, "i"), N(y, "j")])), E(D([N(T, "j", "i"), N(x, "i"), N(y, "j")]), -1))


def test_antisymmetric_inverse():
    f = {"i": "p", "j": "q"}
    # inv of an antisymmetric matrix is antisymmetric
    assert equal(E(D([N(XT, "p", "q", inv=1)], f)), E(D([N(XT, "q", "p", inv=1)], f), -1))


def test_collect_antisymmetric_sum_cancels():
    f = {"i": "p", "j": "q"}
    s = E(D([N(T, "p", "q")], f)) + E(D([N(T, "q", "p")], f))
    assert collect(s).terms == ()
    # T[p,q] - T[q,p] == 2 T[p,q]; collect keeps the first diagram with coefficient relative to it
    s2 = E(D([N(T, "q", "p")], f)) + E(D([N(T, "p", "q")], f), -1)
    c = collect(s2)
    assert len(c.terms) == 1
    assert c.terms[0].diagram == D([N(T, "q", "p")], f)
    assert sympy.simplify(c.terms[0].coeff - 2) == 0
    assert equal(c, s2)


# --------------------------------------------------------------------------- structure


def _cubic_graph_diagram(edges: list[tuple[int, int]], tensor: TensorDecl = Y) -> Diagram:
    """A network of 3-leg tensors: graph vertex -> node, graph edge -> contracted edge."""
    legs: dict[int, list[str]] = {}
    for t, (u, v) in enumerate(edges):
        legs.setdefault(u, []).append(f"e{t}")
        legs.setdefault(v, []).append(f"e{t}")
    return D([N(tensor, *legs[u]) for u in sorted(legs)])


def test_prism_vs_moebius():
    prism = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)]
    k33 = [(0, 3), (0, 4), (0, 5), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5)]
    assert canonical_key(_cubic_graph_diagram(prism)) != canonical_key(_cubic_graph_diagram(k33))
    cube = list(nx.hypercube_graph(3).edges())
    idx = {v: i for i, v in enumerate(nx.hypercube_graph(3).nodes())}
    cube = [(idx[u], idx[v]) for u, v in cube]
    wagner = [(i, (i + 1) % 8) for i in range(8)] + [(i, i + 4) for i in range(4)]
    assert canonical_key(_cubic_graph_diagram(cube)) != canonical_key(_cubic_graph_diagram(wagner))
    # a relabelled prism is the same
    perm = [4, 2, 0, 5, 1, 3]
    prism2 = [(perm[v], perm[u]) for u, v in reversed(prism)]
    assert canonical_key(_cubic_graph_diagram(prism)) == canonical_key(_cubic_graph_diagram(prism2))


def _trace_power(k: int, decl: TensorDecl = A, prefix: str = "e") -> list[Node]:
    return ring([decl] * k, [f"{prefix}{t}" for t in range(k)])


@pytest.mark.parametrize("k", [2, 4, 6, 20])
def test_trace_power_vs_square_of_trace(k):
    one = D(_trace_power(k))
    two = D(_trace_power(k // 2, prefix="a") + _trace_power(k // 2, prefix="b"))
    assert canonical_key(one) != canonical_key(two)
    assert not equal(E(one), E(two))
    assert equal(E(two), E(D(_trace_power(k // 2, prefix="u") + _trace_power(k // 2, prefix="v"))))


def test_two_long_rings_equal():
    k = 500
    decls = [TensorDecl(f"A{t}", ("i", "j"), (n, n)) for t in range(k)]
    one = D(ring(decls, [f"e{t}" for t in range(k)]))
    rot = 137
    nodes = ring(decls[rot:] + decls[:rot], [f"x{t}" for t in range(k)])
    random.Random(5).shuffle(nodes)
    two = D(nodes)
    assert equal(E(one), E(two))
    # swapping two factors breaks it
    decls2 = list(decls)
    decls2[3], decls2[4] = decls2[4], decls2[3]
    assert not equal(E(one), E(D(ring(decls2, [f"e{t}" for t in range(k)]))))


def test_forty_symmetric_three_leg_tensors():
    g1 = nx.random_regular_graph(3, 40, seed=1)
    g2 = nx.random_regular_graph(3, 40, seed=2)
    assert not nx.is_isomorphic(g1, g2)
    d1 = _cubic_graph_diagram(list(g1.edges()))
    d2 = _cubic_graph_diagram(list(g2.edges()))
    assert canonical_key(d1) != canonical_key(d2)
    # g1 relabelled
    perm = list(range(40))
    random.Random(3).shuffle(perm)
    d1b = _cubic_graph_diagram([(perm[u], perm[v]) for u, v in g1.edges()])
    assert canonical_key(d1) == canonical_key(d1b)


# --------------------------------------------------------------------------- nested expressions


def _mat(decl: TensorDecl, l1: str, l2: str, coeff=1) -> Expr:
    return E(D([N(decl, "e1", "e2")], {l1: "e1", l2: "e2"}), coeff)


def _wrap(op, edges: tuple[str, ...], free: Mapping[str, str]) -> Diagram:
    return D([Node(op, edges)], free, dims={e: op.port_dim(p) for p, e in zip(op.ports, edges)})


def test_bubble_inner_label_names_are_bound():
    f = {"i": "p", "j": "q"}
    e1 = BubbleOp("exp", _mat(A, "i", "j"))  # ports (i, j)
    e2 = BubbleOp("exp", _mat(A, "r", "s"))  # ports (r, s)
    assert canonical_key(_wrap(e1, ("p", "q"), f)) == canonical_key(_wrap(e2, ("p", "q"), f))
    # exp(A[i, j]) vs exp(A[j, i])
    e3 = BubbleOp("exp", _mat(A, "j", "i"))  # ports (i, j), A's first leg on j
    assert canonical_key(_wrap(e1, ("p", "q"), f)) != canonical_key(_wrap(e3, ("p", "q"), f))
    assert canonical_key(_wrap(e1, ("p", "q"), f)) == canonical_key(_wrap(e3, ("q", "p"), f))
    # kind matters
    e4 = BubbleOp("tanh", _mat(A, "i", "j"))
    assert canonical_key(_wrap(e1, ("p", "q"), f)) != canonical_key(_wrap(e4, ("p", "q"), f))
    # pow exponent matters
    p2 = BubbleOp("pow", _mat(A, "i", "j"), param=sympy.Integer(2))
    p3 = BubbleOp("pow", _mat(A, "i", "j"), param=sympy.Integer(3))
    assert canonical_key(_wrap(p2, ("p", "q"), f)) != canonical_key(_wrap(p3, ("p", "q"), f))


def test_bubble_inner_sum_order_and_coefficients():
    f = {"i": "p", "j": "q"}
    ab = BubbleOp("exp", _mat(A, "i", "j") + _mat(B, "i", "j"))
    ba = BubbleOp("exp", _mat(B, "i", "j") + _mat(A, "i", "j"))
    ab2 = BubbleOp("exp", _mat(A, "i", "j") + _mat(B, "i", "j", 2))
    abb = BubbleOp("exp", _mat(A, "i", "j") + _mat(B, "i", "j") + _mat(B, "i", "j"))
    k = lambda op: canonical_key(_wrap(op, ("p", "q"), f))  # noqa: E731
    assert k(ab) == k(ba)
    assert k(ab) != k(ab2)
    assert k(abb) == k(ab2)  # inner sums are collected
    # A[i,j] + B[j,i] vs A[i,j] + B[i,j]
    mix = BubbleOp("exp", _mat(A, "i", "j") + _mat(B, "j", "i"))
    assert k(mix) != k(ab)


def test_bubble_inner_terms_do_not_mix():
    # exp(A[i] B[j] + C[i] D[j]) vs exp(A[i] D[j] + C[i] B[j])
    a, b, c, d = (TensorDecl(nm, ("i",), (n,)) for nm in "abcd")

    def outer(p, q):
        return E(D([N(p, "e1"), N(q, "e2")], {"i": "e1", "j": "e2"}))

    f = {"i": "p", "j": "q"}
    one = BubbleOp("exp", outer(a, b) + outer(c, d))
    two = BubbleOp("exp", outer(a, d) + outer(c, b))
    assert canonical_key(_wrap(one, ("p", "q"), f)) != canonical_key(_wrap(two, ("p", "q"), f))


def test_softmax_axis_and_causal_roles():
    f = {"q": "p", "k": "r"}
    sq = BubbleOp("softmax", _mat(A, "q", "k"), axes=("k",))
    sq2 = BubbleOp("softmax", _mat(A, "q", "k"), axes=("q",))
    assert canonical_key(_wrap(sq, ("r", "p"), f)) != canonical_key(_wrap(sq2, ("r", "p"), f))
    c1 = BubbleOp("causal", _mat(A, "q", "k"), axes=("q", "k"))
    c2 = BubbleOp("causal", _mat(A, "q", "k"), axes=("k", "q"))
    assert canonical_key(_wrap(c1, ("r", "p"), f)) != canonical_key(_wrap(c2, ("r", "p"), f))


def test_logsumexp_consumed_axis_is_bound():
    # logsumexp[k](A[q, k]) == logsumexp[t](A[q, t]) (ports: just q)
    l1 = BubbleOp("logsumexp", _mat(A, "q", "k"), axes=("k",))
    l2 = BubbleOp("logsumexp", _mat(A, "q", "t"), axes=("t",))
    l3 = BubbleOp("logsumexp", _mat(A, "t", "q"), axes=("t",))  # sums A's first leg
    assert l1.ports == ("q",) and l2.ports == ("q",)
    f = {"q": "p"}
    assert canonical_key(_wrap(l1, ("p",), f)) == canonical_key(_wrap(l2, ("p",), f))
    assert canonical_key(_wrap(l1, ("p",), f)) != canonical_key(_wrap(l3, ("p",), f))


def test_func_bubble():
    fd = FuncDecl("f", "x", n, "y", m)
    gd = FuncDecl("g", "x", n, "y", m)
    inner = _mat(A, "b", "a")
    f1 = BubbleOp("func", inner, axes=("a",), func=fd)  # ports (b, @out)
    g1 = BubbleOp("func", inner, axes=("a",), func=gd)
    f2 = BubbleOp("func", _mat(A, "b", "c"), axes=("c",), func=fd)
    free = {"b": "p", "o": "q"}
    k = lambda op: canonical_key(_wrap(op, ("p", "q"), free))  # noqa: E731
    assert k(f1) == k(f2)
    assert k(f1) != k(g1)


def test_box_ports_and_name():
    f = {"i": "p", "j": "q"}
    b1 = BoxOp(_mat(A, "i", "j") + _mat(B, "i", "j"), ("i", "j"))
    b2 = BoxOp(_mat(B, "u", "v") + _mat(A, "u", "v"), ("u", "v"))
    b3 = BoxOp(_mat(A, "i", "j") + _mat(B, "i", "j"), ("i", "j"), name="M")
    b4 = BoxOp(_mat(A, "i", "j") + _mat(B, "i", "j", -1), ("i", "j"))
    k = lambda op, edges=("p", "q"): canonical_key(_wrap(op, edges, f))  # noqa: E731
    assert k(b1) == k(b2)
    assert k(b1) != k(b3)
    assert k(b1) != k(b4)
    assert k(b1) != k(b1, ("q", "p"))
    # two copies of the same box in a product, wired as a trace, in either order
    t1 = D([Node(b1, ("a", "b")), Node(b2, ("b", "a"))])
    t2 = D([Node(b2, ("c", "d")), Node(b1, ("d", "c"))])
    assert canonical_key(t1) == canonical_key(t2)


def test_deriv_keys():
    inner = E(D([N(x, "a"), N(A, "a", "b"), N(x, "b")]))
    d1 = DerivOp(inner, tensor_op(x))  # ports (@d0,)
    d2 = DerivOp(inner, tensor_op(y))
    f = {"k": "p"}
    assert canonical_key(_wrap(d1, ("p",), f)) != canonical_key(_wrap(d2, ("p",), f))
    inner2 = E(D([N(x, "u"), N(A, "u", "v"), N(x, "v")]))
    assert canonical_key(_wrap(d1, ("p",), f)) == canonical_key(_wrap(DerivOp(inner2, tensor_op(x)), ("p",), f))


def test_nested_antisymmetric_vanishing_inside():
    # exp(T[i,j] S[i,j]) == exp(0)
    zero_inside = BubbleOp("exp", E(D([N(T, "i", "j"), N(S, "i", "j")])))
    empty = BubbleOp("exp", Expr((), ()))
    assert canonical_key(_wrap(zero_inside, (), {})) == canonical_key(_wrap(empty, (), {}))
    # exp(T[i, j]) vs exp(-T[j, i]) are exact-different encodings but never wrongly equal to exp(T[j,i])
    f = {"i": "p", "j": "q"}
    e1 = BubbleOp("exp", _mat(T, "i", "j"))
    e2 = BubbleOp("exp", _mat(T, "j", "i"))
    assert canonical_key(_wrap(e1, ("p", "q"), f)) != canonical_key(_wrap(e2, ("p", "q"), f))


def test_nested_depth_is_distinguished():
    f = {"i": "p", "j": "q"}
    once = BubbleOp("exp", _mat(A, "i", "j"))
    twice = BubbleOp("exp", E(_wrap(once, ("e1", "e2"), {"i": "e1", "j": "e2"})))
    assert canonical_key(_wrap(once, ("p", "q"), f)) != canonical_key(_wrap(twice, ("p", "q"), f))


# --------------------------------------------------------------------------- collect / equal / expr_key


def test_collect_sums_and_drops():
    f = {"i": "i", "k": "k"}
    t1 = Term(sympy.Integer(2), D([N(A, "i", "j"), N(B, "j", "k")], f), ("first",))
    t2 = Term(sympy.Integer(3), D([N(B, "l", "k"), N(A, "i", "l")], f), ("second",))
    t3 = Term(sympy.Integer(1), D([N(A, "i", "j"), N(C, "j", "k")], f))
    t4 = Term(sympy.Integer(-1), D([N(C, "z", "k"), N(A, "i", "z")], f))
    expr = Expr.of([t1, t3, t2, t4], {"i": n, "k": n})
    c = collect(expr)
    assert len(c.terms) == 1
    assert c.terms[0].coeff == 5
    assert c.terms[0].tags == ("first",)
    assert c.terms[0].diagram is t1.diagram
    assert equal(c, expr)
    assert collect(c) == c
    # deterministic order
    assert collect(Expr.of([t3, t1], {"i": n, "k": n})).terms == collect(Expr.of([t1, t3], {"i": n, "k": n})).terms


def test_collect_with_subs():
    d = dim_symbol("d")
    f = {"i": "i", "j": "j"}
    expr = Expr.of([Term(d, D([N(A, "i", "j")], f)), Term(-sympy.Integer(4), D([N(A, "i", "j")], f))], {"i": n, "j": n})
    assert len(collect(expr).terms) == 1
    assert collect(expr, {d: 4}).terms == ()
    assert equal(expr, Expr.of([], {"i": n, "j": n}), {d: 4})
    assert not equal(expr, Expr.of([], {"i": n, "j": n}))


def test_equal_symbolic_coefficients():
    f = {"i": "i", "j": "j"}
    a = Expr.of([Term((n + 1) ** 2, D([N(A, "i", "j")], f))], {"i": n, "j": n})
    b = Expr.of(
        [Term(n**2 + 2 * n, D([N(A, "p", "q")], {"i": "p", "j": "q"})), Term(sympy.Integer(1), D([N(A, "i", "j")], f))],
        {"i": n, "j": n},
    )
    assert equal(a, b)
    assert expr_key(a) == expr_key(b)
    c = Expr.of([Term(n**2, D([N(A, "i", "j")], f))], {"i": n, "j": n})
    assert not equal(a, c)
    assert expr_key(a) != expr_key(c)


def test_equal_requires_same_free_labels():
    a = E(D([N(x, "e")], {"i": "e"}))
    b = E(D([N(x, "e")], {"j": "e"}))
    assert not equal(a, b)
    assert equal(Expr.of([], {"i": n}), Expr.of([], {"i": n}))
    assert not equal(Expr.of([], {"i": n}), Expr.of([], {"j": n}))


def test_expr_key_order_independent():
    f = {"i": "i", "j": "j"}
    t1 = Term(sympy.Integer(1), D([N(A, "i", "j")], f))
    t2 = Term(sympy.Integer(2), D([N(B, "i", "j")], f))
    assert expr_key(Expr.of([t1, t2], {"i": n, "j": n})) == expr_key(Expr.of([t2, t1], {"i": n, "j": n}))
    hash(expr_key(Expr.of([t1, t2], {"i": n, "j": n})))


# --------------------------------------------------------------------------- property tests

_VOCAB = [A, B, S, T, Y, W, x]
_FREE = ["i", "j", "k"]


@st.composite
def diagrams(draw, max_nodes: int = 5, max_edges: int = 5, vocab=tuple(_VOCAB), allow_copy: bool = True):
    """Small random diagrams over a fixed vocabulary (all dimensions n)."""
    n_edges = draw(st.integers(1, max_edges))
    edges = [f"e{t}" for t in range(n_edges)]
    nodes = []
    for _ in range(draw(st.integers(0, max_nodes))):
        if allow_copy and draw(st.integers(0, 6)) == 0:
            arity = draw(st.integers(1, 3))
            nodes.append(Node(CopyTensor(n, arity), tuple(draw(st.sampled_from(edges)) for _ in range(arity))))
            continue
        decl = draw(st.sampled_from(list(vocab)))
        nodes.append(N(decl, *(draw(st.sampled_from(edges)) for _ in decl.legs)))
    free = {}
    for label in _FREE:
        if draw(st.booleans()):
            free[label] = draw(st.sampled_from(edges))
    return Diagram.build(nodes, {e: n for e in edges}, free)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diagrams(), st.integers(0, 10**6))
def test_relabel_and_reorder_keep_key(d, seed):
    d2 = shuffled(d, seed)
    k1, s1 = canonical_term(d)
    k2, s2 = canonical_term(d2)
    assert k1 == k2
    assert s1 == s2  # relabelling is an exact isomorphism: same sign
    assert equal(E(d), E(d2))


@settings(max_examples=100, deadline=None)
@given(diagrams(vocab=(A, B, S, Y, W, x)), st.sampled_from([A, B, W]))
def test_swapping_legs_of_nonsymmetric_tensor_changes_key(d, decl):
    # the extra node is the only thing on the free label edges "p" and "q"
    extra_edges = ["fp", "fq"] + (["fr"] if len(decl.legs) == 3 else [])
    free = dict(d.free_map)
    free.update({"p": "fp", "q": "fq"})
    if len(extra_edges) == 3:
        free["r"] = "fr"
    dims = dict(d.dims)
    dims.update({e: n for e in extra_edges})
    a = Diagram.build(list(d.nodes) + [N(decl, *extra_edges)], dims, free)
    swapped = [extra_edges[1], extra_edges[0]] + extra_edges[2:]
    b = Diagram.build(list(d.nodes) + [N(decl, *swapped)], dims, free)
    assert canonical_key(a) != canonical_key(b)


@settings(max_examples=100, deadline=None)
@given(diagrams(), st.integers(0, 10**6))
def test_swapping_antisymmetric_legs_flips_sign(d, seed):
    extra = Node(tensor_op(T), ("fp", "fq"))
    flipped = Node(tensor_op(T), ("fq", "fp"))
    free = dict(d.free_map)
    free.update({"p": "fp", "q": "fq"})
    dims = dict(d.dims)
    dims.update({"fp": n, "fq": n})
    a = Diagram.build(list(d.nodes) + [extra], dims, free)
    b = shuffled(Diagram.build(list(d.nodes) + [flipped], dims, free), seed)
    ka, sa = canonical_term(a)
    kb, sb = canonical_term(b)
    assert ka == kb
    assert sa == -sb


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    diagrams(max_nodes=3, max_edges=3, vocab=(A, S, T, Y, x)), diagrams(max_nodes=3, max_edges=3, vocab=(A, S, T, Y, x))
)
def test_key_equality_matches_networkx_isomorphism(d1, d2):
    iso = nx.is_isomorphic(nx_graph(d1), nx_graph(d2), node_match=lambda a, b: a["c"] == b["c"])
    assert (canonical_key(d1) == canonical_key(d2)) == iso


def test_networkx_cross_check_many_pairs():
    """Deterministic sweep over a tiny space where isomorphic pairs are common."""
    rng = random.Random(11)
    vocab = [A, S, T, x]
    samples = []
    for _ in range(120):
        edges = ["a", "b", "c"]
        nodes = []
        for _ in range(rng.randint(1, 3)):
            decl = rng.choice(vocab)
            nodes.append(N(decl, *(rng.choice(edges) for _ in decl.legs)))
        free = {"i": rng.choice(edges)} if rng.random() < 0.5 else {}
        samples.append(Diagram.build(nodes, {e: n for e in edges}, free))
    keys = [canonical_key(d) for d in samples]
    graphs = [nx_graph(d) for d in samples]
    positives = 0
    for i in range(len(samples)):
        for j in range(i + 1, len(samples)):
            iso = nx.is_isomorphic(graphs[i], graphs[j], node_match=lambda a, b: a["c"] == b["c"])
            assert (keys[i] == keys[j]) == iso, (samples[i], samples[j])
            positives += iso
    assert positives > 20


# --------------------------------------------------------------------------- numeric soundness

_NUM = 3


def _random_values(rng) -> dict[str, "object"]:
    import itertools as it

    import numpy as np

    def sym(arr, sign):
        out = np.zeros_like(arr)
        for perm in it.permutations(range(arr.ndim)):
            par = sum(1 for a in range(len(perm)) for b in range(a + 1, len(perm)) if perm[a] > perm[b]) % 2
            out += (sign**par) * np.transpose(arr, perm)
        return out

    r = lambda *shape: rng.standard_normal(shape)  # noqa: E731
    return {
        "A": r(_NUM, _NUM),
        "B": r(_NUM, _NUM),
        "S": sym(r(_NUM, _NUM), 1),
        "T": sym(r(_NUM, _NUM), -1),
        "Y": sym(r(_NUM, _NUM, _NUM), 1),
        "T3": sym(r(_NUM, _NUM, _NUM), -1),
        "W": r(_NUM, _NUM, _NUM),
        "x": r(_NUM),
        "y": r(_NUM),
    }


def _evaluate(d: Diagram, values) -> "object":
    """Evaluate a diagram of plain tensors and copy tensors (all dimensions _NUM) with einsum."""
    import numpy as np

    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sub = {e: next(letters) for e, _ in d.edge_dims}
    operands, subs = [], []
    for nd in d.nodes:
        if isinstance(nd.op, CopyTensor):
            arr = np.zeros((_NUM,) * nd.op.arity)
            for t in range(_NUM):
                arr[(t,) * nd.op.arity] = 1.0
        else:
            arr = values[nd.op.decl.name]
        operands.append(arr)
        subs.append("".join(sub[e] for e in nd.edges))
    out = ""
    for label, e in d.free:
        lt = next(letters)
        operands.append(np.eye(_NUM))
        subs.append(sub[e] + lt)
        out += lt
    used = set("".join(subs))
    factor = _NUM ** sum(1 for e in sub.values() if e not in used)
    if not operands:
        return np.array(float(factor))
    return factor * np.einsum(",".join(subs) + "->" + out, *operands)


def test_numeric_soundness_of_keys_and_signs():
    """Key-equal diagrams have values equal up to their signs; sign 0 means value 0."""
    import numpy as np

    rng = random.Random(23)
    values = _random_values(np.random.default_rng(0))
    vocab = [A, S, T, Y, T3, W, x]
    by_key: dict = {}
    zeros = checked = 0
    for _ in range(1500):
        edges = ["a", "b", "c", "d"]
        nodes = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.1:
                nodes.append(Node(CopyTensor(n, 3), tuple(rng.choice(edges) for _ in range(3))))
                continue
            decl = rng.choice(vocab)
            nodes.append(N(decl, *(rng.choice(edges) for _ in decl.legs)))
        free = {"i": rng.choice(edges)} if rng.random() < 0.5 else {}
        dg = Diagram.build(nodes, {e: n for e in edges}, free)
        k, s = canonical_term(dg)
        val = _evaluate(dg, values)
        if s == 0:
            assert np.allclose(val, 0), dg
            zeros += 1
            continue
        if k in by_key:
            ref = by_key[k]
            assert np.allclose(val * s, ref), dg
            checked += 1
        else:
            by_key[k] = val * s
    assert zeros > 10 and checked > 100


def test_fully_symmetric_tensors_and_copy_tensors_without_port_vertices():
    # interchangeable legs on distinct edges join the node vertex directly; a repeated
    # edge (a trace) keeps its port vertices: both encodings must still decide correctly
    import diagalg

    prog = diagalg.parse("dim n\ntensor Y[a: n, b: n, c: n] symmetric\ntensor Z[a: n, b: n, c: n]\ntensor x[a: n]\n")
    eq = lambda a, b: diagalg.equal(prog.expr(a), prog.expr(b), prog)  # noqa: E731
    assert eq("Y[i, j, k] Y[i, j, l] x[k] x[l]", "Y[p, k, q] x[k] x[l] Y[l, q, p]")
    assert eq("Y[i, i, j] x[j]", "x[j] Y[j, i, i]")
    assert not eq("Y[i, i, j] x[j]", "Y[i, j, k] delta[i, j, k]")
    assert eq("Z[i, j, k] delta[i, j, k]", "delta[k, i, j] Z[i, j, k]")
    assert not eq("Z[i, j, k] x[i] delta[j, k]", "Z[i, j, k] x[j] delta[i, k]")
    assert not eq("Y[i, j, k] Y[i, j, l] x[k] x[l]", "Y[i, i, k] Y[j, j, l] x[k] x[l]")
