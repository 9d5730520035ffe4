"""The Python API: ``diagalg.parse``/``load``, ``program["M"]``,
``program.expr``, ``diagalg.simplify`` and ``diagalg.equal`` on the
consequences of spec section 4 (equality is diagram isomorphism):

* contracted label names do not matter;
* factor order does not matter (trace cyclicity);
* free labels matter (``A[i, j] != A[j, i]`` unless A is symmetric).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import diagalg
from diagalg.numeric.check import compare

DECLS = """\
dim n, m
tensor A[i: n, j: n]
tensor B[i: n, j: n]
tensor C[i: n, j: n]
tensor S[i: n, j: n] symmetric(i, j)
tensor T[i: n, j: n] antisymmetric(i, j)
tensor X[i: n, j: n] invertible
tensor x[i: n]
tensor Q[i: n, j: m]
let M[i, k] = A[i, j] B[j, k]
let s = x[i] A[i, j] x[j]
"""


@pytest.fixture(scope="module")
def prog() -> diagalg.Program:
    return diagalg.parse(DECLS)


def eq(prog, a: str, b: str) -> bool:
    return diagalg.equal(prog.expr(a), prog.expr(b), prog)


def numerically_equal(prog, a: str, b: str) -> bool:
    return compare(prog.expr(a), prog.expr(b), prog.env).status == "equal"


# =========================================================================== parse, load, lookup


def test_parse_returns_a_program(prog):
    assert isinstance(prog, diagalg.Program)
    assert set(prog.tensors) == {"A", "B", "C", "S", "T", "X", "x", "Q"}
    assert set(prog.lets) == {"M", "s"}
    assert prog.statements == []


def test_load_a_file(tmp_path):
    f = tmp_path / "model.diag"
    f.write_text(DECLS + "assert M[i, k] == A[i, j] B[j, k]\n")
    p = diagalg.load(f)
    assert len(p.assertions) == 1
    assert p.assertions[0].source.path == str(f) and p.assertions[0].source.line == 12


def test_load_a_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(tmp_path / "nope.diag")
    assert "no such file" in info.value.message


def test_getitem_of_a_let_is_its_definition(prog):
    m = prog["M"]
    assert isinstance(m, diagalg.Expr)
    assert m.labels == ("i", "k")
    assert diagalg.equal(m, prog.expr("A[i, j] B[j, k]"), prog)
    assert not diagalg.equal(m, prog.expr("B[i, j] A[j, k]"), prog)


def test_getitem_of_a_scalar_let(prog):
    s = prog["s"]
    assert s.labels == ()
    assert diagalg.equal(s, prog.expr("x[a] A[a, b] x[b]"), prog)


def test_getitem_of_a_tensor_is_the_tensor_on_its_own_legs(prog):
    q = prog["Q"]
    assert set(q.labels) == {"i", "j"}
    assert diagalg.equal(q, prog.expr("Q[i, j]"), prog)


def test_getitem_of_an_unknown_name(prog):
    with pytest.raises(KeyError):
        prog["Nope"]


def test_a_let_reference_equals_its_unfolded_body(prog):
    assert eq(prog, "M[i, k] C[k, i]", "A[i, j] B[j, k] C[k, i]")
    assert eq(prog, "M[p, q]", "A[p, r] B[r, q]")
    assert eq(prog, "s * x[i]", "x[a] A[a, b] x[b] x[i]")


def test_let_inner_labels_do_not_clash_with_the_callers(prog):
    # M's inner summed label is j; the caller's j is a different label
    assert eq(prog, "M[i, k] x[j] x[j]", "A[i, a] B[a, k] x[b] x[b]")


def test_expr_errors_are_positioned_in_the_expression_text(prog):
    with pytest.raises(diagalg.SourceError) as info:
        prog.expr("A[i, j] D[j, k]")
    assert (info.value.line, info.value.col) == (1, 9)
    assert "undeclared name 'D'" in info.value.message


def test_expr_syntax_errors_are_positioned_in_the_expression_text(prog):
    with pytest.raises(diagalg.SourceError) as info:
        prog.expr("A[i, j")
    err = info.value
    assert (err.line, err.col) == (1, 2)
    assert "unclosed '['" in err.message
    assert "show" not in err.render()  # the user never wrote `show`
    assert err.render().splitlines()[1].strip() == "A[i, j"


def test_expr_with_different_free_labels_in_a_sum(prog):
    with pytest.raises(diagalg.SourceError) as info:
        prog.expr("A[i, j] + A[i, k]")
    assert (info.value.line, info.value.col) == (1, 11)


def test_simplify_returns_a_derivation(prog):
    d = diagalg.simplify(prog.expr("A[i, j] delta[j, k]"), program=prog)
    assert diagalg.to_text(d.result) == "A[i, k]"
    assert d.steps  # at least one rewrite was recorded
    assert d.steps[0].rule == "delta"


def test_simplify_with_named_rules(prog):
    e = prog.expr("X[i, j] inv(X)[j, k] B[k, l]")
    untouched = diagalg.simplify(e, rules=["delta"], program=prog).result
    assert diagalg.to_text(untouched) == "X[i, j] inv(X)[j, k] B[k, l]"
    done = diagalg.simplify(e, rules=["inverse", "delta"], program=prog).result
    assert diagalg.to_text(done) == "B[i, l]"


def test_equal_does_not_modify_its_arguments(prog):
    a = prog.expr("A[i, j] delta[j, k]")
    before = diagalg.to_text(a)
    diagalg.equal(a, prog.expr("A[i, k]"), prog)
    assert diagalg.to_text(a) == before


# =========================================================================== section 4 consequences


def test_contracted_label_names_do_not_matter(prog):
    assert eq(prog, "A[i, j] B[j, k]", "A[i, l] B[l, k]")
    assert eq(prog, "x[i] A[i, j] x[j]", "x[p] A[p, q] x[q]")
    assert eq(prog, "A[i, i]", "A[z, z]")


def test_factor_order_does_not_matter(prog):
    assert eq(prog, "A[i, j] B[j, k]", "B[j, k] A[i, j]")
    assert eq(prog, "A[i, j] x[j]", "x[j] A[i, j]")


def test_trace_cyclicity_with_three_matrices(prog):
    abc = "A[i, j] B[j, k] C[k, i]"
    assert eq(prog, abc, "C[k, i] A[i, j] B[j, k]")
    assert eq(prog, abc, "B[j, k] C[k, i] A[i, j]")
    assert eq(prog, abc, "B[a, b] C[b, c] A[c, a]")  # rotated and relabelled
    # tr(ABC) is not tr(ACB)
    assert not eq(prog, abc, "A[i, j] C[j, k] B[k, i]")
    assert not numerically_equal(prog, abc, "A[i, j] C[j, k] B[k, i]")


def test_free_labels_matter(prog):
    assert not eq(prog, "A[i, j]", "A[j, i]")
    assert not eq(prog, "A[i, j] B[j, k]", "A[k, j] B[j, i]")
    assert not eq(prog, "A[i, j] x[j]", "A[j, i] x[j]")


def test_free_labels_do_not_matter_for_a_symmetric_tensor(prog):
    assert eq(prog, "S[i, j]", "S[j, i]")
    assert eq(prog, "S[i, j] x[j]", "x[j] S[j, i]")


def test_antisymmetric_tensor(prog):
    assert eq(prog, "T[i, j]", "-T[j, i]")
    assert not eq(prog, "T[i, j]", "T[j, i]")
    # a term with an automorphism swapping T's legs once is zero
    assert eq(prog, "x[i] T[i, j] x[j]", "0")
    assert eq(prog, "T[i, j] S[i, j]", "0")
    assert not eq(prog, "T[i, j] A[i, j]", "0")


def test_binding_by_leg_name(prog):
    assert eq(prog, "A[j=b, i=a]", "A[a, b]")
    assert not eq(prog, "A[j=b, i=a]", "A[b, a]")


def test_equal_respects_coefficients(prog):
    assert eq(prog, "2 * A[i, j]", "A[i, j] + A[i, j]")
    assert eq(prog, "A[i, j] (x[j] + x[j])", "2 * A[i, j] x[j]")
    assert not eq(prog, "2 * A[i, j]", "A[i, j]")
    assert eq(prog, "A[i, j] - A[i, j]", "0 * A[i, j]")


# =========================================================================== einsum labels in parsed expressions


def test_a_label_summed_inside_one_summand_of_a_parenthesised_factor_stays_summed(prog):
    # distributing gives x[i] x[j] + x[i] A[j, l] x[l]: both terms have free labels i, j
    e = prog.expr("x[i] (x[j] + A[j, l] x[l])")
    assert set(e.labels) == {"i", "j"}
    assert diagalg.equal(e, prog.expr("x[i] x[j] + x[i] A[j, l] x[l]"), prog)


def test_matrix_times_a_sum_with_an_inner_contraction(prog):
    # A (A + A A) = A A + A A A
    e = prog.expr("A[i, k] (A[k, j] + A[k, l] A[l, j])")
    assert set(e.labels) == {"i", "j"}
    assert diagalg.equal(e, prog.expr("A[i, k] A[k, j] + A[i, k] A[k, l] A[l, j]"), prog)


def test_expr_does_not_change_the_program(prog):
    # program.expr is a query: parsing tagged summands twice is fine
    first = prog.expr("u: A[i, j] + v: B[i, j]")
    second = prog.expr("u: A[i, j] + v: B[i, j]")
    assert diagalg.equal(first, second, prog)
    assert prog.statements == []


# =========================================================================== properties


NONSYM = ["A", "B", "C"]
POOL = [f"c{k}" for k in range(12)]


@st.composite
def matrix_word(draw):
    """A ring (closed trace) or a chain (free ends i, j) of 2..5 matrices."""
    ring = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(NONSYM), min_size=2, max_size=5))
    return ring, names


def render(
    ring: bool,
    names: list[str],
    labels: list[str],
    order: list[int],
    transpose: int | None = None,
    by_name: set[int] = frozenset(),
) -> str:
    k = len(names)
    factors = []
    for t in range(k):
        a = labels[t]
        b = labels[(t + 1) % k] if ring else labels[t + 1]
        if t == transpose:
            a, b = b, a
        if t in by_name:
            factors.append(f"{names[t]}[j={b}, i={a}]")
        else:
            factors.append(f"{names[t]}[{a}, {b}]")
    return " ".join(factors[t] for t in order)


@settings(max_examples=60, deadline=None)
@given(matrix_word(), st.randoms(use_true_random=False))
def test_relabelling_and_reordering_keep_equality(prog, word, rnd):
    ring, names = word
    k = len(names)
    if ring:
        base_labels = [f"l{t}" for t in range(k)]
        new_labels = rnd.sample(POOL, k)
    else:
        inner = [f"l{t}" for t in range(1, k)]
        base_labels = ["i"] + inner + ["j"]
        new_labels = ["i"] + rnd.sample(POOL, k - 1) + ["j"]
    order = list(range(k))
    rnd.shuffle(order)
    by_name = {t for t in range(k) if rnd.random() < 0.3}
    left = render(ring, names, base_labels, list(range(k)))
    right = render(ring, names, new_labels, order, by_name=by_name)
    assert eq(prog, left, right), f"{left}  vs  {right}"


@settings(max_examples=40, deadline=None)
@given(matrix_word(), st.randoms(use_true_random=False))
def test_swapping_the_legs_of_one_nonsymmetric_tensor_breaks_equality(prog, word, rnd):
    ring, names = word
    k = len(names)
    labels = [f"l{t}" for t in range(k)] if ring else ["i"] + [f"l{t}" for t in range(1, k)] + ["j"]
    t = rnd.randrange(k)
    order = list(range(k))
    rnd.shuffle(order)
    left = render(ring, names, labels, list(range(k)))
    right = render(ring, names, labels, order, transpose=t)
    assert not eq(prog, left, right), f"{left}  vs  {right}"
    # the oracle agrees: the two really differ
    assert compare(prog.expr(left), prog.expr(right), prog.env, size_draws=1, tensor_draws=1).status == "different"


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5), st.randoms(use_true_random=False))
def test_swapping_the_legs_of_a_symmetric_tensor_keeps_equality(prog, k, rnd):
    names = [rnd.choice(NONSYM) for _ in range(k)]
    s_at = rnd.randrange(k)
    names[s_at] = "S"
    labels = [f"l{t}" for t in range(k)]
    left = render(True, names, labels, list(range(k)))
    right = render(True, names, labels, list(range(k)), transpose=s_at)
    assert eq(prog, left, right), f"{left}  vs  {right}"
