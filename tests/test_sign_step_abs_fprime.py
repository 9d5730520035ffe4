"""Issue 14: the ``sign``, ``step`` and ``abs`` bubbles and the derivative of a user
function (``f'``).

* the three are soft words: a file that names a tensor ``step`` keeps working, and
  ``step(`` is the bubble even there;
* their numeric meaning (real, complex-step and complex data), the exact evaluator's
  refusal with a reason, export code equal to the oracle (test_registries checks
  the numpy helpers on real and complex input);
* ``f'[a -> b, c](E)``: parsed, printed back, checked; the oracle's f' is the
  Jacobian of the f it samples (compared with finite differences here);
* the derivative rule's new entries (relu → step, abs → sign, sign and step → 0,
  f → f', f' → f''): on random expressions every site keeps the value on the
  numeric oracle; a sloppy entry (a transposed Jacobian, relu for step, a dropped
  sign) is caught by the same check, so the property can fail; near misses are
  refuted numerically.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
from diagalg import caches
from diagalg.bubbles import BUBBLES, get_bubble, soft_kinds
from diagalg.bubbles.pieces import bubble, chain
from diagalg.checker import Checker, Options
from diagalg.errors import SourceError
from diagalg.model import Expr, Term
from diagalg.numeric.check import compare
from diagalg.numeric.exact import exact_obstacle
from diagalg.numeric.sample import FuncParams
from diagalg.rules import registered
from strategies import diagrams_of

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DECLS = """\
dim n, m, r
tensor x[i: n]
tensor y[i: n]
tensor A[i: n, j: n]
tensor W[j: m, i: n]
tensor X[s: r, i: n]
tensor v[j: m]
tensor zc[i: n] complex
func f[x: n -> y: m]
func g[x: m -> y: r]
func h[x: n -> y: n]
"""
PROG = diagalg.parse(DECLS)
ENV = PROG.env


def run(statements: str, decls: str = DECLS) -> list:
    return Checker(diagalg.parse(decls + statements), Options(seed=0)).run()


def derivative_problems(expr: Expr, seed: int) -> list[str]:
    """Every site of the derivative rule in ``expr`` rewritten alone, compared with its
    diagram on the numeric oracle (which differentiates numerically, never by a rule)."""
    rule = registered()["derivative"]
    problems = []
    for d, free in diagrams_of(expr):
        before = Expr.of([Term(sympy.Integer(1), d)], free)
        for site in rule.match(d):
            after = Expr.of([Term(sympy.sympify(c), di) for c, di in rule.rewrite(d, site)], free)
            res = compare(before, after, ENV, seed=seed)
            if res.status != "equal":
                problems.append(f"{res.status}: {diagalg.to_text(before)} -> {diagalg.to_text(after)}")
    return problems


# --------------------------------------------------------------------------- soft words


def test_the_three_are_soft_words_of_the_registry():
    assert soft_kinds() == {"sign", "step", "abs"}
    for k in soft_kinds():
        assert not BUBBLES[k].keyword and BUBBLES[k].elementwise


def test_a_file_naming_a_tensor_step_keeps_working():
    decls = "dim n\ntensor step[i: n]\ntensor sign[i: n, j: n]\ntensor x[i: n]\nlet abs[i] = x[i] + step[i]\n"
    results = run(
        "assert step[i] x[i] == x[i] step[i]\n"
        "assert sign[i, j] x[j] == x[j] sign[i, j]\n"
        "assert abs[i] == step[i] + x[i]\n"
        "assert numeric keep[i](step(x[i]) x[i]) == relu(x[i])\n",
        decls,
    )
    assert [r.status for r in results] == ["ok"] * 4, [r.line() for r in results]
    assert "symbolic" in results[0].detail and "symbolic" in results[2].detail


def test_bubbles_print_back_and_a_bare_word_is_still_a_name():
    e = PROG.expr("sign(x[i]) + abs(x[i] - y[i]) + step(2 * x[i])")
    assert diagalg.to_text(PROG.expr(diagalg.to_text(e))) == diagalg.to_text(e)
    with pytest.raises(SourceError, match="step"):
        PROG.expr("step[i] x[i]")  # no tensor step in PROG: an undeclared name, not a bubble


# --------------------------------------------------------------------------- numeric meaning


def test_the_oracles_functions():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert np.array_equal(get_bubble("sign").apply(x), [-1, -1, 0, 1, 1])
    assert np.array_equal(get_bubble("step").apply(x), [0, 0, 0, 1, 1])
    assert np.array_equal(get_bubble("abs").apply(x), [2, 0.5, 0, 0.5, 3])
    # a complex step through a real value: abs is x sign(Re x), analytic; sign and step constant
    h = 1e-20
    xs = x + 1j * h
    assert np.allclose(get_bubble("abs").apply(xs, real_semantics=True).imag / h, np.sign(x))
    assert np.all(get_bubble("sign").apply(xs, real_semantics=True).imag == 0)
    assert np.all(get_bubble("step").apply(xs, real_semantics=True).imag == 0)
    # complex data: the modulus and z/|z|
    z = np.array([3 + 4j, 0j, -1j])
    assert np.allclose(get_bubble("abs").apply(z), [5, 0, 1])
    assert np.allclose(get_bubble("sign").apply(z), [0.6 + 0.8j, 0, -1j])


def test_the_exact_path_refuses_with_a_reason_and_the_check_falls_back_to_float():
    for kind in soft_kinds():
        why = exact_obstacle([PROG.expr(f"{kind}(x[i])")])
        assert why is not None and "compares with 0" in why and kind in why
    (r,) = run("assert numeric abs(x[i]) == relu(x[i]) + relu(-x[i])\n")
    assert r.status == "ok" and "exact" not in r.detail and "numeric" in r.detail
    (r,) = run("assert abs(x[i]) != x[i]\n")
    assert r.status == "ok" and "numeric: differ" in r.detail


def test_exported_code_runs_and_matches():
    program = diagalg.parse(DECLS + "let e[j] = relu(W[j, i] x[i]) + abs(W[j, i] y[i]) - sign(v[j]) + step(v[j])\n")
    from diagalg.export import export_program

    out = export_program(program, "e", check=True)
    assert out.check.startswith("checked against")
    assert "_step" in out.code and "_sign" in out.code and "np.abs" in out.code
    torch = export_program(program, "e", target="torch", check=False)
    assert "torch.sgn" in torch.code and "torch.abs" in torch.code


# --------------------------------------------------------------------------- f'


def test_fprime_is_the_jacobian_of_the_sampled_function():
    rng = np.random.default_rng(3)
    fp = FuncParams(rng.standard_normal((4, 3)), rng.standard_normal(4))
    x = rng.standard_normal((2, 3))  # a batch of two inputs on axis 1
    jac = fp.apply(x, 1, 1)
    hess = fp.apply(x, 1, 2)
    assert jac.shape == (2, 4, 3) and hess.shape == (2, 4, 3, 3)
    eps = 1e-6
    for p in range(3):
        dx = np.zeros(3)
        dx[p] = eps
        fd = (fp.apply(x + dx, 1) - fp.apply(x - dx, 1)) / (2 * eps)
        assert np.allclose(jac[:, :, p], fd, atol=1e-8)
        fd2 = (fp.apply(x + dx, 1, 1) - fp.apply(x - dx, 1, 1)) / (2 * eps)
        assert np.allclose(hess[:, :, :, p], fd2, atol=1e-7)
    assert np.allclose(hess, np.swapaxes(hess, 2, 3))


def test_fprime_parses_prints_back_and_draws_its_legs():
    e = PROG.expr("f'[i -> b, c](A[i, j] x[j]) A[c, p]")
    assert e.labels == ("b", "p")
    assert e.free_dims["b"] == sympy.Symbol("m", positive=True, integer=True) or str(e.free_dims["b"]) == "m"
    assert str(e.free_dims["p"]) == "n"
    t = diagalg.to_text(e)
    assert "f'[" in t and diagalg.to_text(PROG.expr(t)) == t
    e2 = PROG.expr("f''[i -> b, c, d](x[i])")
    assert diagalg.to_text(e2) == "f''[i -> b, c, d](x[i])"


@pytest.mark.parametrize(
    "text,message",
    [
        ("f'[i -> b](x[i])", "takes 1 derivative label"),
        ("f[i -> b, c](x[i])", "takes 0 derivative labels"),
        ("f''[i -> b, c](x[i])", "takes 2 derivative labels"),
        ("f'[i -> b, b](x[i])", "must be new"),
        ("f'[i -> b, j](x[i] y[j])", "must be new"),
        ("q'[i -> b, c](x[i])", "undeclared function"),
    ],
)
def test_fprime_errors_are_positioned(text, message):
    with pytest.raises(SourceError, match=message):
        PROG.expr(text)


def test_a_declared_primed_name_wins():
    decls = "dim n, m\ntensor x[i: n]\nfunc f[x: n -> y: m]\nfunc f'[x: n -> y: n]\n"
    (r,) = run("assert f'[i -> b](x[i]) != x[b]\n", decls)
    assert r.status == "ok"  # f' is the declared function n -> n, not f's Jacobian
    with pytest.raises(SourceError, match="takes 0 derivative labels"):
        diagalg.parse(decls).expr("f'[i -> b, c](x[i])")


CHAIN_RULES = """\
assert diff(f[i -> b](x[i]), x[p]) == f'[i -> b, p](x[i])
assert diff(f[i -> b](A[i, j] x[j]), x[p]) == f'[i -> b, q](A[i, j] x[j]) A[q, p]
assert diff(g[b -> z](f[i -> b](x[i])), x[p]) == g'[b -> z, c](f[i -> b](x[i])) f'[i -> c, p](x[i])
assert diff(f[i -> b](X[s, i]), X[t, p]) == keep[s](f'[i -> b, p](X[s, i]) delta[s, t])
assert diff(diff(f[i -> b](x[i]), x[p]), x[q]) == f''[i -> b, p, q](x[i])
assert f''[i -> b, p, q](x[i]) == f''[i -> b, q, p](x[i])
assert diff(v[b] f[i -> b](x[i] + y[i]), y[p]) == v[b] f'[i -> b, p](x[i] + y[i])
assert diff(relu(W[j, i] x[i]), x[p]) == keep[j](step(W[j, i] x[i]) W[j, p])
assert diff(abs(x[i]), x[p]) == keep[i](sign(x[i]) delta[i, p])
assert diff(sign(x[i]) + step(x[i]), x[p]) == zero[i, p]
assert diff(v[j] abs(W[j, i] x[i]), x[p]) == v[j] sign(W[j, i] x[i]) W[j, p]
assert diff(f[i -> b](A[i, j] x[j]), x[p]) != f'[i -> b, q](A[i, j] x[j]) A[p, q]
assert diff(h[j -> k](h[i -> j](x[i])), x[p]) != h'[j -> k, c](h[i -> j](x[i])) h'[i -> p, c](x[i])
assert diff(g[b -> z](f[i -> b](x[i])), x[p]) != g'[b -> z, c](f[i -> b](x[i])) f'[i -> c, p](y[i])
assert diff(f[i -> b](X[s, i]), X[t, p]) != f'[i -> b, p](X[s, i]) delta[t: r]
assert diff(relu(W[j, i] x[i]), x[p]) != keep[j](relu(W[j, i] x[i]) W[j, p])
assert diff(abs(x[i]), x[p]) != keep[i](sign(-x[i]) delta[i, p])
assert diff(v[j] abs(W[j, i] x[i]), x[p]) != v[j] abs(W[j, i] x[i]) W[j, p]
"""


def test_chain_rules_prove_and_near_misses_are_refuted():
    results = run(CHAIN_RULES)
    assert len(results) == CHAIN_RULES.count("assert")
    for r in results:
        assert r.status == "ok", r.line()
        assert ("symbolic" in r.detail) if "==" in r.source.text else ("differ" in r.detail), r.line()


def test_abs_and_sign_of_a_complex_argument_are_not_differentiated():
    from diagalg.engine import simplify

    for kind in ("abs", "sign"):
        out = diagalg.to_text(simplify(PROG.expr(f"diff({kind}(zc[i]), zc[p])"), subs=ENV.concrete_subs()).result)
        assert out.startswith(f"diff({kind}("), out  # |z| and z/|z| are not holomorphic


# --------------------------------------------------------------------------- the derivative entries keep the value

INNER = (
    "x[i]",
    "A[i, j] x[j]",
    "x[i] + y[i]",
    "2 * x[i] - A[j, i] y[j]",
    "keep[i](x[i] y[i])",
    "h[j -> i](A[j, k] x[k])",
    "tanh(x[i])",
)
OUTER = (
    "relu({})",
    "abs({})",
    "sign({})",
    "step({})",
    "f[i -> b]({})",
    "h[i -> b]({}) y[b]",
    "f'[i -> b, c]({}) y[c]",
    "g[b -> z](f[i -> b]({}))",
    "relu({}) abs({})",
    "sigmoid(abs({}))",
)
WRT = ("x[p]", "y[p]", "A[p, q]")


@PROPERTY
@given(
    inner=st.sampled_from(INNER), outer=st.sampled_from(OUTER), wrt=st.sampled_from(WRT), seed=st.integers(0, 2**31 - 1)
)
def test_every_derivative_site_keeps_the_value(inner: str, outer: str, wrt: str, seed: int):
    expr = PROG.expr(f"diff({outer.format(inner, inner)}, {wrt})")
    problems = derivative_problems(expr, seed)
    assert not problems, "\n".join(problems)


def _sloppy(kind: str, derivative) -> None:
    BUBBLES[kind] = dataclasses.replace(BUBBLES[kind], derivative=derivative)
    caches.clear_all()


def _doubled_func_derivative(op, d_inner, dims):
    """The chain rule through f with each term counted twice."""
    from diagalg.bubbles.func import derivative

    return [(2 * c, d) for c, d in derivative(op, d_inner, dims)]


@pytest.mark.parametrize(
    "kind,sloppy,example",
    [
        ("relu", chain(lambda op, dims: bubble("relu", op.inner, op.ports, dims)), "diff(relu(A[i, j] x[j]), x[p])"),
        ("abs", chain(lambda op, dims: bubble("step", op.inner, op.ports, dims)), "diff(abs(A[i, j] x[j]), x[p])"),
        ("func", _doubled_func_derivative, "diff(f[i -> b](A[i, j] x[j]), x[p])"),
        ("sign", chain(lambda op, dims: bubble("sign", op.inner, op.ports, dims)), "diff(x[i] sign(x[i]), x[p])"),
    ],
)
def test_a_sloppy_derivative_entry_is_caught(kind, sloppy, example):
    assert not derivative_problems(PROG.expr(example), 0)
    original = BUBBLES[kind]
    _sloppy(kind, sloppy)
    try:
        assert derivative_problems(PROG.expr(example), 0)
    finally:
        BUBBLES[kind] = original
        caches.clear_all()
