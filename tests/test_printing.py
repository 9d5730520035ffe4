"""``diagalg.to_text``: printed expressions parse back (``program.expr``) to an
equal expression, judged two ways: symbolically (``diagalg.equal``) and
numerically on random instances (``compare(...).status == "equal"``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.numeric.check import compare

DECLS = """\
dim n, m
dim d = 4
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor S[i: n, j: n] symmetric(i, j)
tensor X[i: n, j: n] invertible
tensor V[a: n, b: m] isometry(b -> a)
tensor Zc[i: n, j: n] complex
tensor x[i: n]
tensor Q[i: n, j: m]
tensor K[g: n * m]
tensor R3[a: n, b: n, c: n]
func f[p: n -> q: m]
let M[i, k] = A[i, j] B[j, k]
let s = x[i] x[i]
let att[q, k] = softmax[k](causal[q, k](A[q, k] / sqrt(d)))
"""


@pytest.fixture(scope="module")
def prog() -> diagalg.Program:
    return diagalg.parse(DECLS)


def roundtrip(prog: diagalg.Program, expr: diagalg.Expr) -> str:
    text = diagalg.to_text(expr)
    try:
        back = prog.expr(text)
    except diagalg.SourceError as err:
        pytest.fail(f"printed text does not parse back: {text!r}\n{err.render()}")
    assert set(back.labels) == set(expr.labels), text
    assert diagalg.equal(expr, back, prog), f"not symbolically equal after printing: {text!r}"
    result = compare(expr, back, prog.env)
    assert result.status == "equal", f"{text!r}: numeric {result.status} {result.reason}"
    return text


FORMS = {
    # products and traces
    "matrix product": "A[i, j] B[j, k]",
    "matrix-vector": "A[i, j] x[j]",
    "outer product": "x[i] x[j]",
    "trace": "A[i, i]",
    "trace of a product": "A[i, j] B[j, k] C[k, i]",
    "quadratic form": "x[i] S[i, j] x[j]",
    "three-leg tensor": "R3[a, b, c] x[a] x[b]",
    "trace inside a three-leg tensor": "R3[a, a, b]",
    # sums and coefficients
    "coefficient 2": "2 * A[i, j]",
    "coefficient -1": "-A[i, j] + B[i, j]",
    "coefficient 1/2": "1/2 * A[i, j] + 1/2 * A[j, i]",
    "coefficient sqrt(d)": "sqrt(d) * A[i, j]",
    "coefficient n": "n * A[i, j] - A[i, j] / n",
    "coefficient sum": "(1 + n) * x[i]",
    "scalar alone": "2 * n",
    "nested parenthesised sums": "A[i, j] (B[j, k] + 2 * (C[j, k] - B[j, k]))",
    "product of two sums": "(A[i, j] + B[i, j]) (A[j, k] - C[j, k])",
    "negated sum": "-(A[i, j] - B[i, j])",
    "sum times vector plus vector": "(A[i, j] + B[i, j]) x[j] + x[i]",
    "sum with an inner contraction": "x[i] (x[j] + A[j, l] x[l])",
    # deltas
    "identity, free": "delta[i: n, j]",
    "identity, contracted": "delta[i, j] x[j]",
    "identity chain": "x[i] delta[i, j] delta[j, k]",
    "ones vector, free": "delta[i: n]",
    "ones vector, contracted": "delta[i] x[i]",
    "closed loop (the dimension)": "delta[i: n, i]",
    "ones with ones": "delta[i: n] delta[i]",
    "copy tensor": "delta[i, j, k] A[i, j]",
    "copy tensor, free": "delta[i: n, j, k]",
    "delta in a trace": "delta[i, j] A[i, j]",
    # keep, diagonal, hyperedges
    "Hadamard product": "keep[i, j](A[i, j] B[i, j])",
    "diagonal": "keep[i](A[i, i])",
    "hyperedge": "A[i, j] B[i, k] C[i, l]",
    "label used four times": "x[i] x[i] x[i] x[i]",
    "kept hyperedge": "keep[i](x[i] x[i] x[i])",
    # bubbles
    "softmax": "softmax[k](A[i, k])",
    "causal softmax": "softmax[k](causal[q, k](A[q, k]))",
    "logsumexp": "logsumexp[k](A[i, k] + B[i, k])",
    "layernorm": "layernorm[i](A[i, j] x[j])",
    "exp": "exp(A[i, j])",
    "exp of a sum": "exp(A[i, j] + B[i, j]) + exp(A[i, j])",
    "pow": "pow(A[i, j] x[j], 3)",
    "nested bubbles": "tanh(sigmoid(relu(gelu(x[i]))))",
    "log of exp": "log(exp(x[i]))",
    "user function": "f[i -> r](A[i, j])",
    "user function on a vector": "f[i -> r](x[i]) Q[k, r]",
    "bubble of a scalar": "exp(s) * A[i, j]",
    # reshaping
    "group": "group[(i, j) -> g](Q[i, j])",
    "group of a product": "group[(i, j) -> g](A[i, k] Q[k, j])",
    "split": "split[g -> (i: n, j: m)](K[g])",
    "split then contract": "split[g -> (i: n, j: m)](K[g]) Q[i, j]",
    "group with labels named like the printer's": "group[(t, t1) -> g](Q[t, t1])",
    # shift
    "shift, contracted": "shift(1)[q, k] x[k]",
    "shift composition": "shift(2)[q, k] shift(1)[k, l] x[l]",
    "shift, free": "shift(-2)[q: n, k]",
    "shift(0)": "shift(0)[q, k] x[k]",
    # derivatives
    "diff": "diff(A[i, j] B[j, k], A[p, q])",
    "gradient": "diff(x[i] A[i, j] x[j], x[k])",
    "Hessian": "diff(diff(s, x[k]), x[l])",
    "diff through a bubble": "diff(exp(x[i] x[i]), x[k])",
    # zero
    "zero": "zero[i: n, j: n]",
    "zero in a sum": "zero[i, j] + A[i, j]",
    # inv, conj
    "inv": "inv(X)[i, j]",
    "inv inv": "inv(inv(X))[i, j]",
    "gauge pair": "X[i, j] inv(X)[j, k]",
    "conj of a real tensor": "conj(V)[a, b]",
    "conj of a complex tensor": "conj(Zc)[i, j] Zc[i, k]",
    "isometry pair": "V[a, b] conj(V)[a, c]",
    # lets
    "let reference": "M[i, k] C[k, l]",
    "let sum": "M[i, k] + M[k, i]",
    "scalar let": "s * A[i, j]",
    "let with a bubble": "att[q, k] A[k, v]",
}


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
def test_printed_text_parses_back_to_an_equal_expression(prog, form):
    roundtrip(prog, prog.expr(form))


@pytest.mark.parametrize(
    "form",
    [
        "A[i, j] delta[j, k] (B[k, l] + 2 * B[k, l])",
        "X[i, j] inv(X)[j, k] B[k, l]",
        "V[a, b] conj(V)[a, c] delta[b, c]",
        "delta[i: n, j] delta[j, k] delta[k, i]",
        "A[i, j] (x[j] + x[j]) - 2 * A[i, j] x[j] + x[i]",
    ],
)
def test_simplified_expressions_print_and_parse_back(prog, form):
    result = diagalg.simplify(prog.expr(form), program=prog).result
    roundtrip(prog, result)


def test_simple_forms_print_as_written(prog):
    # the printer keeps what the user wrote when it is already canonical text
    for text in [
        "A[i, j] B[j, k]",
        "2 * A[i, j] - B[i, j]",
        "softmax[k](A[i, k])",
        "inv(X)[i, j]",
        "keep[i](A[i, i])",
        "shift(1)[q, k] x[k]",
        "M[i, k] C[k, l]",
        "f[i -> r](A[i, j])",
    ]:
        assert diagalg.to_text(prog.expr(text)) == text


def test_tagged_summands_print_and_parse_back():
    p = diagalg.parse(DECLS + "let y[s2, e] = skip: A[s2, e] + attn: A[s2, t] B[t, e]\n")
    text = roundtrip(p, p["y"])
    assert "skip" in text and "attn" in text


def test_printed_text_is_one_line(prog):
    for form in FORMS.values():
        assert "\n" not in diagalg.to_text(prog.expr(form))


# =========================================================================== random expressions

MATS = ["A", "B", "C", "S"]
COEFFS = ["", "2 * ", "-", "1/2 * ", "n * ", "sqrt(d) * ", "(n + 1) * "]


class Fresh:
    """Fresh contracted-label names within one generated expression."""

    def __init__(self) -> None:
        self.k = 0

    def __call__(self) -> str:
        self.k += 1
        return f"c{self.k}"


@st.composite
def chain(draw, start: str, end: str, fresh: Fresh):
    """A product of 1..4 matrices from label ``start`` to ``end`` (some transposed);
    ``start == end`` makes a closed loop (a trace)."""
    k = draw(st.integers(1, 4))
    labels = [start] + [fresh() for _ in range(k - 1)] + [end]
    factors = []
    for t in range(k):
        a, b = labels[t], labels[t + 1]
        if draw(st.booleans()):
            a, b = b, a
        factors.append(f"{draw(st.sampled_from(MATS))}[{a}, {b}]")
    return " ".join(factors)


@st.composite
def random_expr(draw):
    """A sum of 1..3 terms with free labels i, j: matrix chains, with traces,
    scalar factors, parenthesised sums, bubbles and deltas mixed in."""
    fresh = Fresh()
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        extra = draw(st.sampled_from(["", "trace", "vector", "sum", "exp", "softmax", "delta"]))
        if extra == "sum":
            w = fresh()
            body = (
                f"{draw(chain('i', w, fresh))} "
                f"({draw(chain(w, 'j', fresh))} + {draw(st.sampled_from(COEFFS))}{draw(chain(w, 'j', fresh))})"
            )
        elif extra == "delta":
            w = fresh()
            body = f"{draw(chain('i', w, fresh))} delta[{w}, j]"
        else:
            body = draw(chain("i", "j", fresh))
        if extra == "trace":
            r = fresh()
            body = f"{body} {draw(chain(r, r, fresh))}"
        elif extra == "vector":
            h = fresh()
            body = f"{body} x[{h}] x[{h}]"
        elif extra == "exp":
            body = f"exp({body})"
        elif extra == "softmax":
            body = f"softmax[j]({body})"
        terms.append(draw(st.sampled_from(COEFFS)) + body)
    text = terms[0]
    for t in terms[1:]:
        text += (" - " + t[1:]) if t.startswith("-") else (" + " + t)
    return text


@settings(max_examples=60, deadline=None)
@given(random_expr())
def test_random_expressions_print_and_parse_back(prog, text):
    try:
        e = prog.expr(text)
    except diagalg.SourceError as err:  # the generator makes only valid text (spec section 3)
        pytest.fail(f"valid text was rejected: {text!r}: {err.message}")
    roundtrip(prog, e)
    roundtrip(prog, diagalg.simplify(e, program=prog).result)
