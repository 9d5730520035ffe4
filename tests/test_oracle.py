"""The numeric oracle cannot be fooled by the sizes it checks at.

Each failure class of the oracle issue, written from its description: a claim that
is false only at sizes the old draws never reached (a ``shift(8)``, an antisymmetric
tensor with more legs than the drawn size), a stand-in for a large concrete
dimension that changed the value of a statement counting that dimension, a
derivative by a tensor with no legs, an output too large to hold, and the summary
and figures a user reads. The exact prime-field path has its own tests
(tests/test_exact.py); the leg-symmetry sampler its own (tests/test_leg_symmetry.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.checker import INTERNAL, OK, Checker, Options
from diagalg.engine import unfold
from diagalg.numeric.check import collect, compare
from diagalg.numeric.needs import size_needs
from diagalg.numeric.sizes import sample_sizes


def results(text: str, **options) -> list:
    program = diagalg.parse(text)
    return Checker(program, Options(**options)).run()


def statuses(text: str, **options) -> list[str]:
    return [r.status for r in results(text, **options)]


def details(text: str, **options) -> list[str]:
    return [r.detail for r in results(text, **options)]


# --------------------------------------------------------------------------- sizes that can see the claim


@pytest.mark.parametrize("path", ["auto", "float"])
@pytest.mark.parametrize("offset", [8, 11, 30])
def test_a_large_shift_is_not_the_zero_matrix(offset: int, path: str) -> None:
    """At a drawn size of 2..7, shift(8) is all zeros: every claim about it held."""
    text = f"""
dim n
tensor x[i: n]
assert numeric shift({offset})[a, b] x[b] == zero[a: n]
assert shift({offset})[a, b] x[b] != zero[a: n]
"""
    assert statuses(text, path=path) == ["FAIL", OK]


@pytest.mark.parametrize("path", ["auto", "float"])
def test_an_antisymmetric_tensor_with_many_legs_is_seen_nonzero(path: str) -> None:
    """Five antisymmetric legs on a dimension drawn below 5 make the tensor zero: whether
    a false claim about it was caught depended on the seed. Now one draw reaches 5."""
    text = """
dim n
tensor E[a: n, b: n, c: n, d: n, e: n] antisymmetric(a, b, c, d, e)
assert numeric E[a, b, c, d, e] E[a, b, c, d, e] == 0
assert E[a, b, c, d, e] != zero[a: n, b: n, c: n, d: n, e: n]
"""
    for seed in range(4):
        assert statuses(text, path=path, seed=seed) == ["FAIL", OK], seed


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(-40, 40), min_size=1, max_size=3),
    legs=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_draw_exceeds_the_structural_constants(offsets: list[int], legs: int, seed: int) -> None:
    """Every size draw lies above each shift offset on its dimension; the last draw reaches
    the antisymmetric group's leg count and is clearly above every constant."""
    names = [f"l{k}" for k in range(legs)]
    shifts = " ".join(f"shift({o})[p{k}: n, q{k}]" for k, o in enumerate(offsets))
    text = f"""
dim n, m
tensor T[{", ".join(f"{l}: m" for l in names)}] antisymmetric({", ".join(names)})
let S[{", ".join(f"p{k}, q{k}" for k in range(len(offsets)))}] = {shifts}
assert numeric S == S
"""
    program = diagalg.parse(text)
    exprs = [unfold(program.expr("S")), program.expr(f"T[{', '.join(names)}]")]
    decls, _, syms = collect(exprs)
    needs = size_needs(exprs, decls)
    n, m = program.env.symbols["n"], program.env.symbols["m"]
    top = max(abs(o) for o in offsets)
    rng = np.random.default_rng(seed)
    every = sample_sizes(syms, program.env, decls.values(), rng, at_least=needs.every_draw())
    large = sample_sizes(syms, program.env, decls.values(), rng, at_least=needs.large_draw())
    for draw in (every, large):
        assert draw.sizes[n] > top or top == 0
    assert large.sizes[m] >= legs + 2
    if top:
        assert large.sizes[n] >= top + 3


def test_onehot_values_fit_every_draw() -> None:
    """``expand … over h`` fixes h to each of its 80 values by onehot vectors; a stand-in of 8
    for h had no entry 79 (the check used to be refused)."""
    text = """
dim heads = 80, d
tensor W[h: heads, e: d]
tensor v[h: heads]
expand W[h, e] v[h] over h
"""
    (r,) = results(text)
    assert r.status == OK and "80 terms" in r.detail and "inconclusive" not in r.detail


# --------------------------------------------------------------------------- stand-ins that cannot change the answer


def test_a_closed_loop_of_a_large_dimension_is_its_real_size() -> None:
    text = """
dim big = 100
tensor A[i: big, j: big]
assert delta[i: big, i] == 100
assert numeric delta[i: big, i] == 8
assert numeric delta[i: big, i] == 9
assert A[i, i] delta[j: big, j] == 100 * A[i, i]
assert A[i, i] delta[j: big, j] != 8 * A[i, i]
"""
    assert statuses(text) == [OK, "FAIL", "FAIL", OK, OK]
    assert statuses(text, path="float") == [OK, "FAIL", "FAIL", OK, OK]


def test_a_trace_of_the_identity_in_disguise_is_not_fooled_by_a_stand_in() -> None:
    """U U† = I on a 100-dimensional space: its trace is 100 whatever the stand-in is. No loop
    is visible in the statement; the two draws use different stand-ins, and a difference
    seen with stand-ins is confirmed at the declared size before it is reported."""
    text = """
dim big = 100, n
tensor U[a: big, b: big] unitary(b -> a)
tensor x[i: n]
assert U[a, b] conj(U)[a, b] == 100
assert numeric U[a, b] conj(U)[a, b] x[i] x[i] == 100 * x[i] x[i]
assert numeric U[a, b] conj(U)[a, b] x[i] x[i] == 8 * x[i] x[i]
assert U[a, b] conj(U)[a, b] x[i] x[i] != 8 * x[i] x[i]
"""
    for path in ("auto", "float"):
        rs = results(text, path=path)
        assert [r.status for r in rs] == [OK, OK, "FAIL", OK], [r.line() for r in rs]
        assert "checked as" not in rs[2].detail  # the failure is the declared size's, not a stand-in's


def test_stand_ins_differ_between_draws_and_are_reported() -> None:
    rs = results(
        """
dim seq = 1024
tensor A[i: seq, j: seq]
tensor B[i: seq, j: seq]
assert numeric A[i, j] B[j, k] == A[i, l] B[l, k]
""",
        path="float",
    )
    assert rs[0].status == OK
    assert "seq=1024 checked as " in rs[0].detail and " and " in rs[0].detail


def test_a_symbolic_proof_never_ends_numerically_different_because_of_a_stand_in() -> None:
    text = """
dim big = 300
tensor V[a: big, b: big] isometry(b -> a)
tensor A[i: big, j: big]
assert V[a, b] conj(V)[a, c] A[b, c] == A[b, b]
assert V[a, b] conj(V)[a, b] A[i, i] == 300 * A[i, i]
"""
    for path in ("auto", "float"):
        assert INTERNAL not in statuses(text, path=path)
        assert statuses(text, path=path) == [OK, OK]


# --------------------------------------------------------------------------- derivatives by a scalar


@pytest.mark.parametrize("path", ["auto", "float"])
def test_derivatives_by_a_tensor_with_no_legs(path: str) -> None:
    """They evaluated to 0: true claims were internal errors blaming the derivative rule,
    false ones passed."""
    text = """
dim n
tensor s[]
tensor x[i: n]
assert diff(s[] s[], s[]) == 2 * s[]
assert diff(s[] x[i], s[]) == x[i]
assert diff(exp(s[] x[i]), s[]) == keep[i](x[i] exp(s[] x[i]))
assert numeric diff(s[] s[], s[]) == 3 * s[]
assert numeric diff(s[] x[i], s[]) == zero[i: n]
"""
    assert statuses(text, path=path) == [OK, OK, OK, "FAIL", "FAIL"]


def test_a_scalar_derivative_matches_finite_differences() -> None:
    program = diagalg.parse("""
dim n
tensor s[]
tensor A[i: n, j: n]
""")
    expr = program.expr("diff(exp(s[] A[i, j] A[j, k]) A[k, i], s[])")
    from diagalg.numeric.check import sample_instance
    from diagalg.numeric.evaluate import evaluate

    inst, _ = sample_instance([expr], program.env, 3)
    value = float(evaluate(expr, inst).array)
    f = program.expr("exp(s[] A[i, j] A[j, k]) A[k, i]")
    h = 1e-6
    s0 = float(inst.arrays["s"])
    up = float(evaluate(f, inst.with_array("s", np.array(s0 + h))).array)
    down = float(evaluate(f, inst.with_array("s", np.array(s0 - h))).array)
    assert value == pytest.approx((up - down) / (2 * h), rel=1e-6)
    assert value != 0


# --------------------------------------------------------------------------- large outputs (Freivalds)


def test_an_output_too_large_to_hold_is_still_decided() -> None:
    """Six free legs of size 40: 4.1e9 entries, 30 GiB for one side. The sides are compared
    after contracting every free leg with random vectors."""
    text = """
dim n = 40
tensor A[i: n, j: n, k: n]
tensor B[i: n, j: n, k: n]
assert A[i, j, k] B[l, m, o] == B[l, m, o] A[i, j, k]
assert A[i, j, k] B[l, m, o] != B[i, j, k] A[l, m, o]
assert numeric A[i, j, k] B[l, m, o] == B[l, m, o] A[i, j, k] + 1e-6 * A[i, j, k] B[l, m, o]
"""
    assert statuses(text) == [OK, OK, "FAIL"]
    assert statuses(text, path="float") == [OK, OK, "FAIL"]


def test_a_bubble_of_a_huge_array_is_refused_naming_the_cap() -> None:
    text = """
dim n = 40
tensor A[i: n, j: n, k: n]
assert numeric exp(A[i, j, k] A[l, m, o]) == exp(A[l, m, o] A[i, j, k])
"""
    (r,) = results(text)
    assert r.status == "INCONCLUSIVE" and "memory cap" in r.detail


# --------------------------------------------------------------------------- summaries and figures


def test_a_symbolic_ok_without_numeric_confirmation_is_counted_apart(write_diag, cli, tmp_path) -> None:
    write_diag(
        "u.diag",
        """\
        dim n = 40
        tensor A[i: n, j: n, k: n]
        assert exp(A[i, j, k] A[l, m, o]) == exp(A[l, m, o] A[i, j, k])
        assert A[i, j, k] == A[i, j, k]
        """,
    )
    r = cli("check", "u.diag", cwd=tmp_path)
    assert r.returncode == 0  # unconfirmed is not a failure (docs/language.md)
    assert r.stdout.splitlines()[-1] == "checked 1 file (seed 0): 1 ok, 1 ok unconfirmed, 0 failed"
    rec = json.loads(cli("check", "--json", "u.diag", cwd=tmp_path).stdout.splitlines()[0])
    assert rec["status"] == "ok" and rec["unconfirmed"] is True


def test_path_option_forces_how_a_check_is_decided(write_diag, cli, tmp_path) -> None:
    write_diag(
        "p.diag",
        """\
        dim n
        tensor A[i: n, j: n]
        assert numeric A[i, j] A[j, k] == A[i, l] A[l, k]
        assert numeric exp(A[i, j]) == exp(A[i, j])
        """,
    )
    auto = cli("check", "p.diag", cwd=tmp_path).stdout.splitlines()
    assert auto[0].endswith("[exact]") and "[numeric " in auto[1]
    floated = cli("check", "--path", "float", "p.diag", cwd=tmp_path).stdout.splitlines()
    assert "[numeric " in floated[0]
    forced = cli("check", "--path", "exact", "p.diag", cwd=tmp_path)
    assert forced.stdout.splitlines()[0].endswith("[exact]")
    assert "INCONCLUSIVE" in forced.stdout.splitlines()[1] and "not decidable exactly" in forced.stdout
    assert forced.returncode == 4


def test_compare_reports_its_path() -> None:
    program = diagalg.parse("dim n\ntensor A[i: n, j: n]\n")
    e = program.expr("A[i, j] A[j, k]")
    assert compare(e, e, program.env).path == "exact"
    assert compare(e, e, program.env, path="float").path == "float"


def test_a_size_forced_past_the_memory_cap_names_its_constant() -> None:
    """An 8-leg antisymmetric tensor needs n >= 8 in one draw: 8^8 entries, 128 MiB. Under a
    100 MiB cap the check is refused and says which constant forced the size."""
    text = """
dim n
tensor E[a: n, b: n, c: n, d: n, e: n, f: n, g: n, h: n] antisymmetric(a, b, c, d, e, f, g, h)
assert numeric E[a, b, c, d, e, f, g, h] == -E[b, a, c, d, e, f, g, h]
"""
    (capped,) = results(text, memory_cap=100 * 2**20)
    assert capped.status == "INCONCLUSIVE"
    assert "n=8 forced by the antisymmetric legs (a, b, c, d, e, f, g, h) of E" in capped.detail
    (fits,) = results(text)
    assert fits.status == OK


def test_a_refusal_before_the_forced_size_says_the_size_a_draw_must_reach() -> None:
    """A 12-leg antisymmetric tensor is zero below n = 12, and already the ordinary draw
    (n = 5: 5^12 entries, 1.8 GiB) passes the memory cap. The refusal says that a draw must
    also reach n = 12, so nobody lowers n hoping the check will run."""
    legs = ", ".join(f"a{i}" for i in range(12))
    swapped = ", ".join(["a1", "a0"] + [f"a{i}" for i in range(2, 12)])
    text = f"""
dim n
tensor E[{", ".join(f"a{i}: n" for i in range(12))}] antisymmetric({legs})
assert numeric E[{legs}] == -E[{swapped}]
"""
    (capped,) = results(text)
    assert capped.status == "INCONCLUSIVE" and "memory cap" in capped.detail
    assert f"a draw must also reach n=12, for the antisymmetric legs ({legs}) of E" in capped.detail


def test_a_count_too_large_to_evaluate_is_unconfirmed_not_an_internal_error() -> None:
    """The trace of U U† on a 100000-dimensional space is 100000: the proof says so, a
    stand-in cannot, and the real size does not fit. The coefficient 100000 marks the
    dimension as counted, so the check runs at the real size and is refused there: the
    proof is ok, unconfirmed, never an internal error."""
    rs = results("""
dim big = 100000, n
tensor U[a: big, b: big] unitary(b -> a)
tensor x[i: n]
assert U[a, b] conj(U)[a, b] x[i] x[i] == 100000 * x[i] x[i]
tensor A[i: big, j: big]
assert A[i, j] != A[j, i]
""")
    assert [r.status for r in rs] == [OK, OK]
    assert rs[0].unconfirmed and "memory cap" in rs[0].detail
    assert "checked as" in rs[1].detail  # a difference of index ranges only: the stand-ins' stands


def test_what_a_statement_counts_as_a_number() -> None:
    """A closed loop and a traced shift count their dimension; a chain of shifts or reshapes
    between tensors only ranges over it (so a stand-in may replace it)."""
    program = diagalg.parse("""
dim big = 100, d = 80
tensor A[i: big, j: big]
tensor x[i: big]
tensor K[r: big * d]
""")
    big = program.env.symbols["big"]

    def counted(text: str) -> set:
        e = unfold(program.expr(text))
        decls, _, _ = collect([e])
        return set(size_needs([e], decls).numbers)

    assert counted("delta[i: big, i] x[j]") == {big}
    assert counted("shift(1)[i: big, i] x[j]") == {big}
    assert counted("x[i] shift(1)[i, j] shift(2)[j, k] A[k, l]") == set()
    assert counted("group[(i, e) -> r](A[i, j] delta[e: d]) K[r]") == set()
    assert counted("3 * x[i]") == set()
    e = program.expr("200 * x[i]")
    decls, _, _ = collect([e])
    assert set(size_needs([e], decls, {big: 100}).numbers) == {big}  # 200 = 2 x big
