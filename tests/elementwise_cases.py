"""Shared helpers of test_power_algebra.py and test_elementwise_algebra.py.

* :data:`DECLS` / :data:`PROG`: the tensors the identities are stated over (vectors
  on two labels, a ``positive`` vector, matrices, a complex vector, a three-leg
  tensor, a ``distribution`` vector and a batch of them);
* :func:`run` checks ``.diag`` statements exactly as ``diagalg check`` does
  (checked mode: every rewrite is also verified numerically on its site);
* :func:`proved` / :func:`numerically_different` decide one pair symbolically
  (default rules) and numerically;
* :func:`check_sites`: every site of the given rules, rewritten alone (and the
  disjoint batch), keeps the value on the oracle, which never uses a rule;
* :func:`products`: a hypothesis strategy of random elementwise products under
  ``keep[i, j]``: powers (natural, negative, fractional) of vectors, matrices,
  contractions, products, other powers and bubbles, copies of their bases on the
  same or on other edges, ``exp``/``log``/``sigmoid``/``softmax`` factors, and the
  look-alikes the rules must leave alone (a fractional power of a square, a base
  on another edge, a complex ``log(exp(...))``), with a random coefficient and
  sometimes summed over a label.
"""

from __future__ import annotations

import random
import re

import hypothesis.strategies as st
import sympy

import diagalg
from diagalg.canonical import equal as canonical_equal
from diagalg.checker import Checker, Options
from diagalg.engine import Engine, simplify
from diagalg.model import Diagram, Expr, Term
from diagalg.numeric.check import compare
from diagalg.rules import DEFAULT_RULES
from diagalg.rules.base import Edit, apply_edits, disjoint_sites
from strategies import diagrams_of

DECLS = """\
dim n, m
tensor x[i: n]
tensor y[i: n]
tensor a[i: n]
tensor b[i: n]
tensor c[i: n]
tensor z[i: n]
tensor t[i: n]
tensor u[i: m]
tensor w[i: n] positive
tensor v[i: n] positive
tensor zc[i: n] complex
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor M[i: n, j: m]
tensor P[i: n, j: n] positive, symmetric(i, j)
tensor S[q: n, k: n]
tensor T3[a: n, b: n, c: m]
tensor tgt[i: n] distribution(i)
tensor Tgt[i: n, j: m] distribution(i)
let eB[p, q] = exp(B[p, q])
"""

PROG = diagalg.parse(DECLS)
ENV = PROG.env
SUBS = ENV.concrete_subs()


def run(statements: str, seed: int = 0) -> list:
    """The results of ``statements`` (after :data:`DECLS`), as ``diagalg check`` gives them."""
    return Checker(diagalg.parse(DECLS + statements), Options(seed=seed)).run()


def text(e: Expr) -> str:
    return diagalg.to_text(e)


def simplified(e: Expr) -> Expr:
    return simplify(e, subs=SUBS, unfold_lets=True).result


def proved(lhs: str, rhs: str) -> bool:
    """True when the default rules prove ``lhs == rhs`` (no numeric check)."""
    return canonical_equal(simplified(PROG.expr(lhs)), simplified(PROG.expr(rhs)), SUBS)


def numerically_different(lhs: str, rhs: str, seed: int = 0) -> bool:
    return compare(PROG.expr(lhs), PROG.expr(rhs), ENV, seed=seed).status == "different"


def assert_near_miss(lhs: str, rhs: str, why: str) -> None:
    """A near-miss of an identity: no rule proves ``lhs == rhs``, and the oracle refutes it."""
    assert not proved(lhs, rhs), f"{why}: {lhs} == {rhs} was proved"
    assert numerically_different(lhs, rhs), f"{why}: the oracle does not refute {lhs} == {rhs}"


def assert_all_proved(statements: str, extra: int = 0, how: tuple[str, ...] = ("symbolic",)) -> list:
    """Every statement of ``statements`` is ok, decided the way ``how`` names (a word of its
    result line: ``symbolic``, or ``step`` for a calc); ``extra`` result lines beyond one per
    ``assert`` (a calc's steps). Returns the results."""
    results = run(statements)
    assert len(results) == statements.count("assert") + extra
    for r in results:
        assert r.status == "ok", r.line() + "\n" + "\n".join(r.output)
        assert any(w in r.detail for w in how), r.line()
    return results


# --------------------------------------------------------------------------- every site keeps the value


def _rewritten(rule, d: Diagram, sites, free) -> Expr:
    results = [rule.rewrite(d, s) for s in sites]
    if len(results) == 1 and isinstance(results[0], list):
        return Expr.of([Term(sympy.sympify(c), di) for c, di in results[0]], free)
    assert all(isinstance(r, Edit) for r in results)
    factor, d2 = apply_edits(d, results)
    return Expr.of([Term(factor, d2)], free)


def check_sites(expr: Expr, rules: dict, seed: int, fired=None, steps: bool = True) -> list[str]:
    """Problems found rewriting every site of ``rules`` (alone, and the disjoint batch) on
    the diagrams of ``expr`` and of a few intermediate terms of its simplification; each
    rewrite is compared with its diagram by the numeric oracle."""
    todo = list(diagrams_of(expr))
    if steps:
        engine = Engine(DEFAULT_RULES, SUBS, record=True)
        engine.simplify(expr)
        rnd = random.Random(seed)
        inter = [
            (s.before.diagram, {l: s.before.diagram.dims[e] for l, e in s.before.diagram.free}) for s in engine.steps
        ]
        todo += rnd.sample(inter, min(4, len(inter)))
    problems = []
    for d, free in todo:
        before = Expr.of([Term(sympy.Integer(1), d)], free)
        for name, rule in rules.items():
            sites = list(rule.match(d))
            batches = [[s] for s in sites[:4]]
            if len(sites) > 1 and not isinstance(rule.rewrite(d, sites[0]), list):
                batches.append(disjoint_sites(sites))
            for batch in batches:
                if fired is not None:
                    fired[name] += 1
                after = _rewritten(rule, d, batch, free)
                res = compare(before, after, ENV, seed=seed)
                if res.status != "equal":
                    problems.append(
                        f"rule {name} ({len(batch)} sites): {res.status} (error {res.max_error:.3g})\n"
                        f"  before: {text(before)}\n  after:  {text(after)}"
                    )
    return problems


# --------------------------------------------------------------------------- random elementwise products

#: factors on label i; ``{j}`` marks the copies placed on label j instead (another edge)
FACTORS_I = (
    "x[i]",
    "x[i]",
    "y[i]",
    "w[i]",
    "v[i]",
    "A[i, j2] x[j2]",
    "softmax[i](x[i])",
    "sigmoid(x[i])",
    "exp(x[i])",
    "exp(y[i])",
    "exp(-x[i])",
    "exp(log(w[i]))",
    "log(exp(x[i]))",
    "pow(x[i], -1)",
    "pow(x[i], -2)",
    "pow(y[i], -1)",
    "pow(x[i], 2)",
    "pow(x[i], 3)",
    "pow(x[i], 0)",
    "pow(w[i], 1/2)",
    "pow(w[i], -1/2)",
    "pow(w[i], 3/2)",
    "pow(3 * x[i], -1)",
    "pow(-2 * x[i], -1)",
    "pow(keep[i](x[i] y[i]), -1)",
    "pow(keep[i](x[i] A[i, j2] y[j2]), -1)",
    "pow(A[i, j2] x[j2], -1)",
    "pow(keep[i](w[i] v[i]), 1/2)",
    "pow(2 * w[i], -1/2)",
    "pow(keep[i](w[i] sigmoid(x[i])), -1/2)",
    "pow(pow(x[i], 2), -1)",
    "pow(pow(x[i], -1), -1)",
    "pow(pow(w[i], -1), 1/2)",
    "pow(pow(x[i], -1), 3)",
    "pow(exp(x[i]), -1)",
    "pow(exp(x[i]), 1/2)",
    "pow(sigmoid(x[i]), -1)",
    "pow(softmax[i](x[i]), -1)",
    "pow(sigmoid(x[i]), 1/2)",
    # look-alikes that must stay as they are: |x| is not x, a complex log is defined modulo 2 pi i
    "pow(pow(x[i], 2), 1/2)",
    "pow(keep[i](x[i] x[i]), -1/2)",
    "pow(pow(zc[i], 2), 1/2)",
    "log(exp(10 * zc[i]))",
    "pow(exp(10 * zc[i]), 1/2)",
    "zc[i]",
    "pow(zc[i], -1)",
)
FACTORS_J = ("x[j]", "pow(x[j], -1)", "w[j]", "pow(w[j], -1/2)", "exp(x[j])")
FACTORS_IJ = (
    "A[i, j]",
    "A[j, i]",
    "pow(A[i, j], -1)",
    "pow(A[j, i], -1)",
    "P[i, j]",
    "pow(P[i, j], 1/2)",
    "exp(A[i, j])",
    "exp(B[i, j])",
    "exp(A[j, i])",
    "pow(keep[i, j](A[i, j] x[i]), -1)",
)
COEFFS = ("1", "2", "-1/2", "n")
CLOSINGS = ("", " delta[j]", " delta[i] delta[j]", " y[j]")


@st.composite
def products(draw) -> str:
    """Text of a random elementwise product (see the module docstring)."""
    factors = draw(st.lists(st.sampled_from(FACTORS_I), min_size=1, max_size=4))
    factors += draw(st.lists(st.sampled_from(FACTORS_J + FACTORS_IJ), min_size=0, max_size=3))
    if not any(re.search(r"\bj\b", f) for f in factors):
        factors.append("delta[j: n]")
    rnd = random.Random(draw(st.integers(0, 2**16)))
    rnd.shuffle(factors)
    coeff = draw(st.sampled_from(COEFFS))
    closing = draw(st.sampled_from(CLOSINGS))
    return f"{coeff} * keep[i, j]({' '.join(factors)}){closing}"


__all__ = [
    "DECLS",
    "ENV",
    "PROG",
    "SUBS",
    "check_sites",
    "diagrams_of",
    "numerically_different",
    "products",
    "proved",
    "run",
    "simplified",
    "text",
]
