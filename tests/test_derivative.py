"""The ``derivative`` rule and the Python ``derivative`` API.

Every identity is checked twice: numerically against the evaluator's
complex-step derivative (``compare``), and symbolically: both sides simplified
with the rules derivative, delta, distribute, collect, isometry, inverse must be
canonically equal. A hypothesis property differentiates random small
polynomial-like expressions and compares the rule's result with the numeric
derivative.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
import diagalg.rules.derivative  # noqa: F401  (registers the rule)
from diagalg.canonical import equal
from diagalg.derivative import DERIVATIVE_RULES, derivative, diff_node
from diagalg.engine import simplify
from diagalg.model import DerivOp, walk_nodes
from diagalg.numeric.check import compare

ROOT = Path(__file__).resolve().parent.parent

DECLS = """\
dim n, m
dim d = 3
tensor x[i: n]
tensor y[i: n]
tensor u[i: m]
tensor b[i: m]
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor W[i: m, j: n]
tensor S[i: n, j: n] symmetric(i, j)
tensor X[i: n, j: n] invertible
tensor Y[i: n, j: m, k: n, l: m] invertible(k, l -> i, j)
tensor Z[i: n, j: n] complex
tensor Zi[i: n, j: n] complex, invertible
tensor Q[q: n, k: n]
tensor E3[a: n, b: n, c: d]
func f[a: n -> b: m]
let quad = x[i] A[i, j] x[j]
let Ax[i] = A[i, j] x[j]
"""


@pytest.fixture(scope="module")
def prog() -> diagalg.Program:
    return diagalg.parse(DECLS)


def simp(prog, e, unfold=True):
    return simplify(e, rules=DERIVATIVE_RULES, subs=prog.env.concrete_subs(), unfold_lets=unfold).result


def has_diff(e) -> bool:
    return any(isinstance(n.op, DerivOp) for n in walk_nodes(e))


def numeric_equal(prog, a, b) -> bool:
    r = compare(a, b, prog.env)
    return r.status == "equal"


def check(prog, lhs: str, rhs: str) -> None:
    """lhs (with diff) equals rhs symbolically and numerically, and the rule's output
    equals lhs numerically."""
    el, er = prog.expr(lhs), prog.expr(rhs)
    sl, sr = simp(prog, el), simp(prog, er)
    assert not has_diff(sl), diagalg.to_text(sl)
    assert numeric_equal(prog, el, sl), f"rule result {diagalg.to_text(sl)} differs from the numeric derivative"
    assert numeric_equal(prog, el, er), f"the expected answer {rhs} is numerically wrong"
    assert equal(sl, sr, prog.env.concrete_subs()), f"{diagalg.to_text(sl)}  vs  {diagalg.to_text(sr)}"


def check_numeric(prog, lhs: str) -> str:
    """The rule fires on lhs and its result equals lhs numerically; returns the result text."""
    el = prog.expr(lhs)
    sl = simp(prog, el)
    assert not has_diff(sl), diagalg.to_text(sl)
    assert numeric_equal(prog, el, sl), diagalg.to_text(sl)
    return diagalg.to_text(sl)


# =========================================================================== a tensor by itself


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ("diff(X[i, j], X[p, q])", "delta[i: n, p] delta[j: n, q]"),
        ("diff(X[j, i], X[p, q])", "delta[j: n, p] delta[i: n, q]"),
        ("diff(x[i], x[k])", "delta[i: n, k]"),
        ("diff(X[i, i], X[p, q])", "delta[p: n, q]"),  # two legs on one edge
        ("diff(Y[i, j, k, l], Y[a, b, c, e])", "delta[i: n, a] delta[j: m, b] delta[k: n, c] delta[l: m, e]"),
        ("diff(E3[a, a, c], E3[p, q, r])", "delta[p: n, q] delta[c: d, r]"),
    ],
)
def test_tensor_by_itself(prog, lhs, rhs):
    check(prog, lhs, rhs)


def test_properties_of_the_variable_are_ignored(prog):
    check(prog, "diff(S[i, j], S[p, q])", "delta[i: n, p] delta[j: n, q]")
    check(prog, "diff(x[i] S[i, j] x[j], S[p, q])", "x[p] x[q]")
    # the symmetric swap is a different derivative
    a = simp(prog, prog.expr("diff(S[i, j], S[p, q])"))
    b = simp(prog, prog.expr("diff(S[j, i], S[p, q])"))
    assert not equal(a, b)
    assert (
        compare(prog.expr("diff(S[i, j], S[p, q])"), prog.expr("diff(S[j, i], S[p, q])"), prog.env).status
        == "different"
    )


# =========================================================================== gradients, product rule


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        # d(xᵀy)/dx = y
        ("diff(x[i] y[i], x[k])", "y[k]"),
        # d(xᵀAx)/dx = Ax + Aᵀx
        ("diff(x[i] A[i, j] x[j], x[k])", "A[k, j] x[j] + A[j, k] x[j]"),
        # ... = 2 S x for symmetric S
        ("diff(x[i] S[i, j] x[j], x[k])", "2 * S[k, j] x[j]"),
        # d tr(AB)/dA = Bᵀ
        ("diff(A[i, j] B[j, i], A[p, q])", "B[q, p]"),
        # d‖Wx − b‖²/dW = 2 (Wx − b) xᵀ
        ("diff((W[i, j] x[j] - b[i]) (W[i, k] x[k] - b[i]), W[p, q])", "2 * (W[p, j] x[j] - b[p]) x[q]"),
        # ... and by x: 2 Wᵀ (Wx − b)
        ("diff((W[i, j] x[j] - b[i]) (W[i, k] x[k] - b[i]), x[p])", "2 * W[i, p] (W[i, j] x[j] - b[i])"),
        # d(A B C)/dB
        ("diff(A[i, j] B[j, k] C[k, l], B[p, q])", "A[i, p] C[q, l]"),
        # B twice: d tr(B B)/dB = 2 Bᵀ
        ("diff(B[i, j] B[j, i], B[p, q])", "2 * B[q, p]"),
        # the cubic x ⊙ x ⊙ x summed: a hyperedge
        ("diff(x[i] x[i] x[i], x[k])", "3 * keep[k](x[k] x[k])"),
        # the coefficient and a sum carry over
        ("diff(3 * x[i] y[i] - 2 * x[i] A[i, j] y[j], x[k])", "3 * y[k] - 2 * A[k, j] y[j]"),
        # a free label on the variable's edge (x ⊗ x)
        ("diff(x[i] x[j], x[k])", "delta[i: n, k] x[j] + x[i] delta[j: n, k]"),
        # a parenthesised sum (a box)
        ("diff(A[i, j] (x[j] + B[j, k] x[k]), x[p])", "A[i, p] + A[i, j] B[j, p]"),
        # lets (unfolded)
        ("diff(quad, x[k])", "A[k, j] x[j] + A[j, k] x[j]"),
        ("diff(Ax[i] Ax[i], A[p, q])", "2 * A[p, j] x[j] x[q]"),
    ],
)
def test_product_rule(prog, lhs, rhs):
    check(prog, lhs, rhs)


def test_folded_let_is_differentiated_without_unfolding(prog):
    e = prog.expr("diff(quad, x[k])")
    r = simp(prog, e, unfold=False)
    assert not has_diff(r)
    assert numeric_equal(prog, e, r)
    assert equal(simp(prog, r), simp(prog, prog.expr("A[k, j] x[j] + A[j, k] x[j]")))


@pytest.mark.parametrize(
    "lhs, labels",
    [
        ("diff(A[i, j], x[k])", {"i", "j", "k"}),
        ("diff(y[i] B[i, j], x[k])", {"j", "k"}),
        ("diff(x[i] y[i], A[p, q])", {"p", "q"}),
    ],
)
def test_no_occurrence_is_zero_with_the_right_labels(prog, lhs, labels):
    e = prog.expr(lhs)
    r = simp(prog, e)
    assert r.terms == () and set(r.labels) == labels
    assert numeric_equal(prog, e, r)


def test_constant_product_has_zero_derivative(prog):
    # inv(X) X = I: the two product-rule terms cancel
    check(prog, "diff(inv(X)[i, j] X[j, k], X[p, q])", "zero[i: n, k: n, p: n, q: n]")


# =========================================================================== Hessians


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        # the Hessian of xᵀAx is A + Aᵀ
        ("diff(diff(x[i] A[i, j] x[j], x[k]), x[l])", "A[k, l] + A[l, k]"),
        ("diff(diff(x[i] S[i, j] x[j], x[k]), x[l])", "2 * S[k, l]"),
        # the Hessian of logsumexp is diag(p) − p pᵀ
        (
            "diff(diff(logsumexp[i](x[i]), x[k]), x[l])",
            "keep[k](softmax[k](x[k]) delta[k, l]) - softmax[k](x[k]) softmax[l](x[l])",
        ),
        # a mixed second derivative
        ("diff(diff(x[i] A[i, j] x[j], A[p, q]), x[k])", "delta[p: n, k] x[q] + x[p] delta[q: n, k]"),
    ],
)
def test_hessians(prog, lhs, rhs):
    check(prog, lhs, rhs)


def test_third_derivative(prog):
    check(prog, "diff(diff(diff(x[i] x[i] x[i], x[k]), x[l]), x[r])", "6 * keep[k](delta[k: n, l] delta[k, r])")


# =========================================================================== inverses


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        # d inv(X) = −inv(X) dX inv(X)
        ("diff(inv(X)[i, j], X[p, q])", "-inv(X)[i, p] inv(X)[q, j]"),
        ("diff(inv(X)[j, i], X[p, q])", "-inv(X)[j, p] inv(X)[q, i]"),
        # d tr(inv(X) A) / dX = −(inv(X) A inv(X))ᵀ
        ("diff(inv(X)[i, j] A[j, i], X[p, q])", "-inv(X)[q, j] A[j, i] inv(X)[i, p]"),
        # multi-leg: inv(Y)[k, l, i, j], Y maps (k, l) to (i, j)
        ("diff(inv(Y)[k, l, i, j], Y[a, b, c, e])", "-inv(Y)[k, l, a, b] inv(Y)[c, e, i, j]"),
        # odd and even inv depths
        ("diff(inv(inv(inv(X)))[i, j], X[p, q])", "-inv(X)[i, p] inv(X)[q, j]"),
        ("diff(inv(inv(X))[i, j], X[p, q])", "delta[i: n, p] delta[j: n, q]"),
        # a trace of the inverse: d tr(inv(X)) = −(inv(X)²)ᵀ
        ("diff(inv(X)[i, i], X[p, q])", "-inv(X)[q, i] inv(X)[i, p]"),
    ],
)
def test_inverse(prog, lhs, rhs):
    check(prog, lhs, rhs)


# =========================================================================== complex (Wirtinger)


def test_conjugate_is_constant(prog):
    check(prog, "diff(Z[i, j] conj(Z)[i, j], Z[p, q])", "conj(Z)[p, q]")
    check(prog, "diff(conj(Z)[i, j], Z[p, q])", "zero[i: n, j: n, p: n, q: n]")
    check(prog, "diff(inv(Zi)[i, j] conj(Zi)[j, k], Zi[p, q])", "-inv(Zi)[i, p] inv(Zi)[q, j] conj(Zi)[j, k]")


# =========================================================================== the chain rule


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ("diff(exp(W[i, j] x[j]), x[k])", "keep[i](exp(W[i, j] x[j]) W[i, k])"),
        ("diff(tanh(W[i, j] x[j]), x[k])", "W[i, k] - keep[i](pow(tanh(W[i, j] x[j]), 2) W[i, k])"),
        # written as in the docs: (1 − tanh²) ⊙ W
        ("diff(tanh(W[i, j] x[j]), x[p])", "keep[i]((delta[i] - pow(tanh(W[i, j] x[j]), 2)) W[i, p])"),
        (
            "diff(sigmoid(W[i, j] x[j]), x[k])",
            "keep[i](sigmoid(W[i, j] x[j]) W[i, k]) - keep[i](pow(sigmoid(W[i, j] x[j]), 2) W[i, k])",
        ),
        # log of a positive argument (exp), and of a square
        ("diff(log(exp(W[i, j] x[j])), x[k])", "keep[i](pow(exp(W[i, j] x[j]), -1) exp(W[i, j] x[j]) W[i, k])"),
        ("diff(log(pow(x[i], 2)), x[k])", "2 * keep[i](pow(pow(x[i], 2), -1) x[i] delta[i, k])"),
        ("diff(pow(W[i, j] x[j], 3), x[k])", "3 * keep[i](pow(W[i, j] x[j], 2) W[i, k])"),
        ("diff(pow(W[i, j] x[j], 2), x[k])", "2 * keep[i](W[i, j] x[j] W[i, k])"),
        ("diff(pow(x[i], 1), x[k])", "delta[i: n, k]"),
        ("diff(pow(x[i], 0), x[k])", "zero[i: n, k: n]"),
        ("diff(pow(W[i, j] x[j], -2), x[k])", "-2 * keep[i](pow(W[i, j] x[j], -3) W[i, k])"),
        # a scalar through a bubble: d Σ exp(Ax) / dx
        ("diff(exp(A[i, j] x[j]) y[i], x[k])", "keep[i](exp(A[i, j] x[j]) y[i]) A[i, k]"),
        # nested bubbles
        (
            "diff(exp(tanh(x[i])), x[k])",
            "keep[i](exp(tanh(x[i])) delta[i, k]) - keep[i](exp(tanh(x[i])) pow(tanh(x[i]), 2) delta[i, k])",
        ),
        # by a matrix inside a bubble
        ("diff(exp(W[i, j] x[j]), W[p, q])", "keep[p](exp(W[p, j] x[j]) delta[i: m, p]) x[q]"),
    ],
)
def test_chain_rule(prog, lhs, rhs):
    check(prog, lhs, rhs)


def test_softmax_jacobian(prog):
    check(
        prog,
        "diff(softmax[i](x[i]), x[k])",
        "keep[i](softmax[i](x[i]) delta[i, k]) - softmax[i](x[i]) softmax[k](x[k])",
    )
    # with a batch label i: rows of A + B, by A
    check(
        prog,
        "diff(softmax[j](A[i, j] + B[i, j]), A[p, q])",
        "keep[i, j](softmax[j](A[i, j] + B[i, j]) delta[i, p] delta[j, q])"
        " - keep[i, j](softmax[j](A[i, j] + B[i, j]) softmax[q](A[i, q] + B[i, q]) delta[i, p])",
    )


def test_logsumexp_gradient(prog):
    check(prog, "diff(logsumexp[i](x[i]), x[k])", "softmax[k](x[k])")
    check(prog, "diff(logsumexp[i](W[i, j] x[j]), x[k])", "softmax[i](W[i, j] x[j]) W[i, k]")


def test_relu_gelu_causal_numerically(prog):
    assert "step(" in check_numeric(prog, "diff(relu(W[i, j] x[j]), x[k])")  # relu' = step
    assert "tanh" in check_numeric(prog, "diff(gelu(W[i, j] x[j]), x[k])")
    check_numeric(prog, "diff(softmax[k](causal[q, k](Q[q, k] + x[q] x[k])), x[p])")
    check_numeric(prog, "diff(gelu(A[i, j] x[j]) relu(x[i]), A[p, q])")


def test_layernorm_numerically(prog):
    from diagalg.numeric.bubbles import LAYERNORM_EPS
    from diagalg.rules.derivative import LAYERNORM_EPS as SYMBOLIC_EPS

    assert float(SYMBOLIC_EPS) == LAYERNORM_EPS
    check_numeric(prog, "diff(layernorm[i](x[i]), x[k])")
    check_numeric(prog, "diff(layernorm[j](A[i, j] + x[i] x[j]), x[k])")
    check_numeric(prog, "diff(layernorm[i](A[i, j]) y[j], A[p, q])")
    check_numeric(prog, "diff(diff(layernorm[i](x[i]) A[i, j] x[j], x[k]), x[l])")


def test_user_function_differentiates_through_its_derivative(prog):
    # the chain rule through an abstract function: f' is f's Jacobian, f'' its second derivative
    check(prog, "diff(f[a -> b](x[a]), x[k])", "f'[a -> b, k](x[a])")
    check(prog, "diff(diff(f[a -> b](x[a]), x[k]), x[l])", "f''[a -> b, k, l](x[a])")
    check(
        prog,
        "diff(exp(f[a -> b](A[a, j] x[j])), x[k])",
        "keep[b](exp(f[a -> b](A[a, j] x[j])) f'[a -> b, c](A[a, j] x[j])) A[c, k]",
    )
    check_numeric(prog, "diff(exp(f[a -> b](A[a, j] x[j])), x[k])")
    for text in ("diff(layernorm[i](Z[i, j]), Z[p, q])",):  # complex layernorm is not holomorphic
        r = simp(prog, prog.expr(text))
        assert has_diff(r), text
    # a function of something else is a constant
    check(prog, "diff(f[a -> b](y[a]) x[i], x[k])", "f[a -> b](y[a]) delta[i: n, k]")


# =========================================================================== checked mode


def test_checked_mode_accepts_every_rewrite(prog):
    e = prog.expr("diff(diff(logsumexp[i](A[i, j] x[j]), x[k]), x[l]) + diff(inv(X)[k, l], X[p, q]) A[p, q]")
    r = simplify(
        e, rules=DERIVATIVE_RULES, subs=prog.env.concrete_subs(), unfold_lets=True, checked=True, env=prog.env
    ).result
    assert not has_diff(r)
    assert numeric_equal(prog, e, r)


# =========================================================================== the Python API


def test_api_default_labels_are_the_leg_names(prog):
    g = derivative(prog.expr("x[i] A[i, j] x[j]"), "A", program=prog)
    assert set(g.labels) == {"i", "j"}
    assert equal(g, simp(prog, prog.expr("x[i] x[j]")))
    # clashing with a free label: primed
    h = derivative(prog.expr("A[i, j] x[j]"), "x", program=prog)
    assert set(h.labels) == {"i", "i'"}
    assert diagalg.to_text(h) == "A[i, i']"


def test_api_explicit_labels_and_lookup(prog):
    e = prog.expr("x[i] A[i, j] x[j]")
    g = derivative(e, "x", ["k"])  # found among e's tensors
    assert equal(g, simp(prog, prog.expr("A[k, j] x[j] + A[j, k] x[j]")))
    op = prog.expr("x[k]").terms[0].diagram.nodes[0].op
    assert equal(derivative(e, op, ["k"], program=prog), g)
    assert numeric_equal(prog, diff_node(e, op, ["k"]), g)


def test_api_errors(prog):
    e = prog.expr("A[i, j] x[j]")
    with pytest.raises(ValueError):
        derivative(e, "x", ["i"], program=prog)  # not new
    with pytest.raises(ValueError):
        derivative(e, "x", ["k", "l"], program=prog)  # x has one leg
    with pytest.raises(ValueError):
        derivative(e, "nope", program=prog)


# =========================================================================== property


VEC_N = ["x[{a}]", "y[{a}]", "(x[{a}] - 2 * y[{a}])", "A[{a}, {z}] x[{z}]", "(A[{a}, {z}] + B[{z}, {a}]) x[{z}]"]
VEC_M = ["u[{c}]", "W[{c}, {z}] x[{z}]"]
MAT_N = ["A[{a}, {b}]", "B[{a}, {b}]", "x[{a}] y[{b}]", "(A[{a}, {b}] + x[{a}] x[{b}])", "S[{a}, {b}]"]
MAT_MN = ["W[{c}, {a}]", "u[{c}] x[{a}]"]
WRAP = ["{e}", "{e}", "{e}", "exp({e})", "tanh({e})", "pow({e}, 2)", "sigmoid({e})"]


@st.composite
def polynomial(draw):
    """A random product (or a sum of two products with the same free labels) of a few
    factors over labels from small pools; repeated labels contract or form hyperedges."""
    n_labels, m_labels = ["i", "j", "k"], ["r"]
    counter = iter(range(100))
    factors = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["vn", "vn", "vm", "mn", "mmn"]))
        z = f"z{next(counter)}"
        a = draw(st.sampled_from(n_labels))
        bb = draw(st.sampled_from(n_labels))
        c = draw(st.sampled_from(m_labels))
        if kind == "vn":
            text = draw(st.sampled_from(VEC_N)).format(a=a, z=z)
            text = draw(st.sampled_from(WRAP)).format(e=text)
        elif kind == "vm":
            text = draw(st.sampled_from(VEC_M)).format(c=c, z=z)
        elif kind == "mn":
            text = draw(st.sampled_from(MAT_N)).format(a=a, b=bb)
        else:
            text = draw(st.sampled_from(MAT_MN)).format(a=a, c=c)
        factors.append(text)
    coeff = draw(st.sampled_from(["", "2 * ", "-1/2 * "]))
    first = coeff + " ".join(factors)
    if draw(st.booleans()):
        # a second summand with the same label structure: swap some tensors
        swap = {"A[": "B[", "y[": "x[", "tanh(": "exp(", "u[": "b["}
        second = " ".join(factors)
        for old, new in swap.items():
            if draw(st.booleans()):
                second = second.replace(old, new)
        first = f"{first} - {second}"
    return first


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(polynomial(), st.sampled_from(["x", "A", "W"]))
def test_rule_matches_the_numeric_derivative(prog, text, wrt):
    occurrences = text.count(f"{wrt}[")
    if wrt == "x":
        from hypothesis import assume

        assume(1 <= occurrences <= 3)
    legs = {"x": "p", "A": "p, q", "W": "p, q"}[wrt]
    e = prog.expr(f"diff({text}, {wrt}[{legs}])")
    r = simp(prog, e)
    assert not has_diff(r), diagalg.to_text(r)
    res = compare(e, r, prog.env, size_draws=1, tensor_draws=2)
    assert res.status == "equal", f"{text}: {diagalg.to_text(r)} ({res.reason}, {res.max_error})"


# =========================================================================== the example file


def test_example_file_checks(cli):
    out = cli("check", ROOT / "examples" / "derivatives.diag")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 failed" in out.stdout
