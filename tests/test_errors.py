"""Static errors (spec sections 1-3 and 7): every class of mistake is reported as
``file:line:col: error: message`` with the caret under the culprit, through
``diagalg.parse`` (a :class:`diagalg.SourceError`) and through the CLI (exit 2,
nothing runs, no traceback).

Every test states the exact line and column. Line 5 is the first line after
the four declarations of ``H``.
"""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
from conftest import expect_error

H = "dim n, m\ntensor A[i: n, j: n]\ntensor B[i: n, j: m]\ntensor x[i: n]\n"


def located(text: str, line: int, col: int, fragment: str, **kw) -> diagalg.SourceError:
    err = expect_error(text, **kw)
    assert (err.line, err.col, fragment in err.message) == (line, col, True), (
        f"got {err.line}:{err.col}: {err.message!r}; expected {line}:{col} containing {fragment!r}"
    )
    return err


def caret_column(rendered: str) -> int:
    """1-based column of the caret in a rendered error (the source is indented by 4)."""
    caret = rendered.splitlines()[-1]
    assert caret.strip() == "^", rendered
    return len(caret) - 4


# =========================================================================== syntax


def test_syntax_error():
    err = located(H + "assert A[i, j] == == A[i, j]\n", 5, 19, "unexpected '=='")
    r = err.render()
    assert r.splitlines()[0] == "<input>:5:19: error: " + err.message
    assert r.splitlines()[1].strip() == "assert A[i, j] == == A[i, j]"
    assert caret_column(r) == 19


def test_unexpected_character():
    located(H + "assert A[i, j] == A[i, j] @ 2\n", 5, 27, "unexpected character '@'")


def test_unclosed_bracket_at_end_of_file_is_reported_at_the_opening_bracket():
    located(H + "assert A[i, j] == (A[i, j]\n\n\n", 5, 19, "unclosed '('")
    located(H + "assert A[i, j] == A[i, j\n", 5, 20, "unclosed '['")


def test_unclosed_bracket_followed_by_more_statements_is_reported_at_the_opening_bracket():
    # the usual case: a missing ')' in the middle of a file, not at its end
    located(H + "assert A[i, j] == (A[i, j]\nassert x[i] == x[i]\n", 5, 19, "unclosed '('")
    located(H + "let M[i, k] = A[i, j] (B[j, k] + A[j, k]\nshow M[i, k]\n", 5, 23, "unclosed '('")


def test_unclosed_bracket_over_several_lines():
    located(H + "let M[i, k] = A[i, j] (B[j, k] +\n   A[j, k]\n\n", 5, 23, "unclosed '('")


def test_mismatched_bracket():
    located(H + "assert A[i, j) == A[i, j]\n", 5, 14, "')' does not match '['")


def test_unmatched_closing_bracket():
    located(H + "assert A[i, j] == A[i, j])\n", 5, 26, "unmatched ')'")


def test_statement_that_is_not_a_statement():
    located(H + "A[i, j] == A[i, j]\n", 5, 1, "unexpected")


def test_calc_step_without_calc():
    located(H + "assert x[i] == x[i]\n  = x[i]\n", 6, 3, "unexpected '='")


# =========================================================================== names


def test_undeclared_name():
    located(H + "assert A[i, j] == C[i, j]\n", 5, 19, "undeclared name 'C'")


def test_undeclared_name_suggests_a_close_declared_name():
    # a tensor, a dimension, a function and a rule after `by`, each misspelt
    located(
        "dim n\ntensor Weight[a: n, b: n]\nlet W2[a, c] = Wieght[a, b] Weight[b, c]\n",
        3,
        16,
        "undeclared name 'Wieght' (did you mean 'Weight'?)",
    )
    located("dim width\ntensor A[i: widht]\n", 2, 13, "undeclared name 'widht' (did you mean 'width'?)")
    located(
        "dim n\ntensor x[i: n]\nfunc gelu2[p: n -> q: n]\nlet y[q] = gleu2[i -> q](x[i])\n",
        4,
        12,
        "undeclared function 'gleu2' (did you mean 'gelu2'?)",
    )
    located(H + "assert A[i, j] == A[i, j] by dleta\n", 5, 30, "unknown rule 'dleta' (did you mean 'delta'?)")


def test_undeclared_name_without_a_close_name_has_no_suggestion():
    err = located(H + "assert A[i, j] == Zzz[i, j]\n", 5, 19, "undeclared name 'Zzz'")
    assert "did you mean" not in err.message


def test_name_used_before_its_declaration():
    located("dim n\nassert A[i, j] == A[i, j]\ntensor A[i: n, j: n]\n", 2, 8, "undeclared name 'A'")


def test_undeclared_dimension_in_a_leg():
    located("dim n\ntensor A[i: n, j: k]\n", 2, 19, "undeclared name 'k'")


def test_duplicate_declaration():
    err = located(H + "tensor A[i: n]\n", 5, 8, "'A' is already declared")
    assert "line 2" in err.message


@pytest.mark.parametrize(
    "stmt, col", [("dim n", 5), ("let x = A[i, i]", 5), ("func A[p: n -> q: n]", 6), ("dim p, q, p", 11)]
)
def test_duplicate_declaration_of_any_kind(stmt, col):
    located(H + stmt + "\n", 5, col, "already declared")


def test_duplicate_let():
    located(H + "let s = x[i] x[i]\nlet s = x[i] x[i]\n", 6, 5, "'s' is already declared (as a let, line 5)")


@pytest.mark.parametrize(
    "word", ["delta", "softmax", "exp", "pow", "numeric", "unfold", "to", "over", "keep", "inv", "causal", "diff"]
)
def test_reserved_word_used_as_a_name(word):
    err = located(H + f"tensor {word}[i: n]\n", 5, 8, "reserved word")
    assert f"'{word}'" in err.message


def test_reserved_word_as_a_let_name():
    located(H + "let exp = x[i] x[i]\n", 5, 5, "'exp' is a reserved word")


def test_reserved_word_as_a_rule_name():
    located(H + "rule delta: A[i, j] -> A[i, j]\n", 5, 6, "reserved word")


def test_dimension_used_as_a_tensor():
    located(H + "assert n[i] == x[i]\n", 5, 8, "'n' is a dimension")


# =========================================================================== labels and dimensions


def test_dimension_mismatch_label_bound_to_legs_of_different_dims():
    # j binds A's second leg (n) and B's second leg (m)
    err = located(H + "assert A[i, j] B[i, j] == A[i, j] B[i, j]\n", 5, 21, "label 'j'")
    assert "n" in err.message and "m" in err.message


def test_dimension_mismatch_between_the_two_sides():
    located(H + "assert B[i, j] x[i] == A[i, j] x[i]\n", 5, 29, "label 'j'")


def test_written_dimension_that_disagrees_with_the_leg():
    located(H + "assert A[i: m, j] == A[i, j]\n", 5, 10, "label 'i' is written with dimension m")


def test_sums_with_different_free_labels():
    err = located(H + "assert A[i, j] + A[i, k] x[k] == A[i, j]\n", 5, 18, "summands have different free labels")
    assert "j" in err.message


def test_assertion_sides_with_different_free_labels():
    err = located(H + "assert A[i, j] == A[i, k]\n", 5, 19, "the two sides have different free labels")
    assert "j only on the left" in err.message and "k only on the right" in err.message


def test_calc_step_with_different_free_labels():
    located(H + "calc A[i, j] x[j]\n  = A[i, j]\n", 6, 5, "different free labels")


def test_wrong_number_of_legs():
    located(H + "assert A[i, j, k] == A[i, j, k]\n", 5, 10, "A has 2 legs (i, j) but 3 were bound")


def test_binding_by_an_unknown_leg_name():
    located(H + "assert A[i=p, q=r] == A[p, r]\n", 5, 15, "A has no leg 'q'")


def test_binding_some_legs_by_name_and_some_by_position():
    located(H + "assert A[i=p, r] == A[p, r]\n", 5, 10, "bind all legs by name or none")


def test_let_listing_a_label_its_expression_does_not_use():
    # the caret goes under the listed label `k`, not under the expression
    located(H + "let M[i, k] = A[i, j]\n", 5, 10, "label 'k' is listed but not used")


def test_bubble_leg_not_free_in_its_argument():
    located(H + "assert softmax[k](A[i, j]) == A[i, j]\n", 5, 16, "label 'k' is not free in its argument")


def test_bubble_leg_summed_in_its_argument():
    # j is used twice inside the bubble: it is summed there, not free
    located(H + "assert softmax[j](A[i, j] x[j]) == x[i]\n", 5, 16, "label 'j' is not free")


def test_label_whose_dimension_cannot_be_inferred():
    located(H + "assert delta[i, j] == delta[j, i]\n", 5, 14, "cannot infer the dimension of label 'i'")


def test_split_with_a_wrong_size():
    text = H + "tensor K[g: 6]\nassert split[g -> (a: 2, b: 2)](K[g]) == split[g -> (a: 2, b: 2)](K[g])\n"
    located(text, 6, 14, "split: |g| = 6 is not 2 * 2")


def test_duplicate_summand_tag():
    located(H + "let y[i, j] = t1: A[i, j] + t1: A[j, i]\n", 5, 29, "summand tag 't1' is already used")


def test_dimension_must_be_a_positive_integer():
    located(H + "dim d = 0\n", 5, 9, "positive integer")


def test_unknown_property():
    located(H + "tensor Q[i: n, j: n] hermitian\n", 5, 22, "unknown property 'hermitian'")


def test_power_of_a_tensor():
    located(H + "assert A[i, j] ** 2 == A[i, j]\n", 5, 8, "pow(E, k)")


def test_division_by_a_tensor():
    located(H + "assert A[i, j] / x[j] == A[i, j]\n", 5, 18, "divide by a scalar")


def test_diff_label_must_be_new():
    located(H + "assert diff(A[i, j] x[j], x[j]) == A[i, j]\n", 5, 29, "label 'j' must be new")


# =========================================================================== rules, tensors, imports


def test_unknown_rule_name_after_by():
    located(H + "assert A[i, j] == A[i, j] by nosuch\n", 5, 30, "unknown rule 'nosuch'")


def test_unknown_rule_in_a_calc_step():
    located(H + "calc A[i, j] delta[j, k]\n  = A[i, k]   by delta, nosuch\n", 6, 25, "unknown rule 'nosuch'")


def test_inv_of_a_non_invertible_tensor():
    located(H + "assert inv(A)[i, j] == A[i, j]\n", 5, 8, "'A' is not declared invertible")


def test_missing_import_is_reported_at_the_import(tmp_path):
    main = tmp_path / "main.diag"
    main.write_text('dim n\n\nimport "nowhere.diag"\n')
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(main)
    err = info.value
    assert (err.line, err.col) == (3, 8)
    assert 'cannot import "nowhere.diag"' in err.message
    assert err.path == str(main)


def test_missing_import_through_parse_resolves_against_base_dir(tmp_path):
    (tmp_path / "lib.diag").write_text("dim n\n")
    p = diagalg.parse('import "lib.diag"\ntensor A[i: n]\n', base_dir=tmp_path)
    assert "A" in p.tensors
    located('import "other.diag"\n', 1, 8, "cannot import", base_dir=tmp_path)


def test_cyclic_import_is_reported_at_the_import(tmp_path):
    (tmp_path / "a.diag").write_text('dim n\nimport "b.diag"\ntensor A[i: n]\n')
    (tmp_path / "b.diag").write_text('# b needs a\nimport "a.diag"\n')
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(tmp_path / "a.diag")
    err = info.value
    assert (err.line, err.col) == (2, 8)
    assert "cyclic import" in err.message
    assert err.path.endswith("b.diag")


def test_a_file_importing_itself(tmp_path):
    (tmp_path / "self.diag").write_text('dim n\nimport "self.diag"\n')
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(tmp_path / "self.diag")
    assert (info.value.line, info.value.col) == (2, 8)
    assert "cyclic import" in info.value.message


def test_error_inside_an_imported_file_is_reported_in_that_file(tmp_path):
    (tmp_path / "lib.diag").write_text("dim n\ntensor A[i: n, j: q]\n")
    (tmp_path / "main.diag").write_text('import "lib.diag"\n')
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(tmp_path / "main.diag")
    err = info.value
    assert err.path.endswith("lib.diag") and (err.line, err.col) == (2, 19)
    assert err.render().splitlines()[1].strip() == "tensor A[i: n, j: q]"


# =========================================================================== files


def test_empty_file_is_fine():
    p = diagalg.parse("")
    assert p.statements == [] and p.tensors == {}


def test_comment_only_file_is_fine():
    p = diagalg.parse("# nothing here\n\n   # still nothing\n")
    assert p.statements == []


def test_empty_and_comment_only_files_through_the_cli(write_diag, cli):
    a = write_diag("empty.diag", "")
    b = write_diag("comments.diag", "# a file of notes\n#\n")
    r = cli("check", a, b)
    assert r.returncode == 0, r.stderr
    assert "checked 2 files" in r.stdout and "0 failed" in r.stdout


def test_non_utf8_file(write_diag):
    f = write_diag("latin1.diag", b"dim n\ntensor A[i: n]\n# caf\xe9\n")
    with pytest.raises(diagalg.SourceError) as info:
        diagalg.load(f)
    err = info.value
    assert "UTF-8" in err.message
    assert err.path == str(f)
    assert err.line == 3  # where the bad byte is, not 1:1


def test_binary_file_through_the_cli(write_diag, run_cli):
    f = write_diag("blob.diag", bytes(range(256)) * 4)
    r = run_cli("check", f)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{f}:") and "error:" in r.stderr and "UTF-8" in r.stderr
    assert "Traceback" not in r.stderr


def test_file_of_unicode_junk():
    located("∑∀∃ 😀 ☃\n", 1, 1, "unexpected character '∑'")


def test_unicode_in_a_comment_is_fine():
    p = diagalg.parse("dim n  # the number of tokens ∑ → ∞\ntensor A[i: n]\nassert A[i] == A[i]  # é\n")
    assert len(p.statements) == 1


def test_unicode_lookalike_in_a_name():
    located("dim n\ntensor Aé[i: n]\n", 2, 9, "unexpected character 'é'")


def test_unicode_junk_through_the_cli(write_diag, run_cli):
    f = write_diag("junk.diag", "dim n\n  ∑∀∃ 😀 ☃\n")
    r = run_cli("check", f)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{f}:2:3: error: unexpected character")
    assert "∑∀∃" in lines[1]
    assert "Traceback" not in r.stderr


# =========================================================================== through the CLI


@pytest.mark.parametrize(
    "via, body, line, col, fragment",
    [
        ("subprocess", "assert A[i, j] == == A[i, j]\n", 5, 19, "unexpected '=='"),
        ("in-process", "assert A[i, j] == (A[i, j]\n", 5, 19, "unclosed '('"),
        ("in-process", "assert A[i, j] == C[i, j]\n", 5, 19, "undeclared name 'C'"),
        ("in-process", "assert A[i, j] B[i, j] == A[i, j] B[i, j]\n", 5, 21, "label 'j'"),
    ],
    ids=["syntax", "unclosed", "undeclared", "dimension"],
)
def test_static_errors_through_the_cli(write_diag, run_cli, cli, via, body, line, col, fragment):
    f = write_diag("bad.diag", H + "assert x[i] == x[i]\n\n" + body)
    line += 2  # the assertion and the blank line above
    r = (run_cli if via == "subprocess" else cli)("check", f)
    assert r.returncode == 2
    assert r.stdout == ""  # nothing ran
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{f}:{line}:{col}: error: ")
    assert fragment in lines[0]
    assert lines[1].strip() == body.strip()
    assert lines[2].strip() == "^" and len(lines[2]) - 4 == col
    assert "Traceback" not in r.stderr


def test_cyclic_import_through_the_cli(write_diag, cli, tmp_path):
    write_diag("a.diag", 'dim n\nimport "b.diag"\nassert n == n\n')
    write_diag("b.diag", 'import "a.diag"\n')
    r = cli("check", "a.diag", cwd=tmp_path)
    assert r.returncode == 2
    first = r.stderr.splitlines()[0]
    assert first.startswith("b.diag:1:8: error: cyclic import")
    assert 'import "a.diag"' in r.stderr
    assert "Traceback" not in r.stderr


# =========================================================================== fuzzing


VALID = (
    H
    + """\
tensor S[i: n, j: n] symmetric(i, j)
tensor X[i: n, j: n] invertible
tensor K[g: n * m]
func f[p: n -> q: m]
dim d = 4
let M[i, k] = A[i, j] S[j, k]   # a definition
let y[s, e] = skip: x[s] delta[e: n] + attn: M[s, t] A[t, e]
rule sym_slide: S[i, j] x[j] -> x[j] S[j, i]
assert S[i, j] x[j] == x[j] S[j, i]
assert numeric softmax[k](causal[q, k](A[q, k] / sqrt(d))) == softmax[k](causal[q, k](A[q, k] / sqrt(d)))
assert X[i, j] inv(X)[j, k] != 2 * delta[i, k]
assert keep[i](A[i, i]) + 1e-3 * x[i] == keep[i](A[i, i]) + .001 * x[i]
assert diff(x[i] A[i, j] x[j], x[k]) == A[k, j] x[j] + \\
    x[i] A[i, k]
assert group[(i, j) -> g](B[i, j]) == group[(i, j) -> g](B[i, j])
assert split[g -> (a: n, b: m)](K[g]) == split[g -> (a: n, b: m)](K[g])
assert f[i -> r](A[i, j]) + zero[j, r] == f[i -> r](A[i, j])
show unfold M[i, k] shift(1)[k, l]
calc X[i, j] inv(X)[j, k] x[k]
  # the gauge pair cancels
  = delta[i, k] x[k]   by inverse

  = x[i]
"""
)


def _only_source_errors(text: str) -> None:
    try:
        diagalg.parse(text)
    except diagalg.SourceError as err:
        assert isinstance(err.line, int) and isinstance(err.col, int)
        assert err.line >= 1 and err.col >= 1, err.render()
        rendered = err.render()
        assert rendered.startswith("<input>:") and ": error: " in rendered
    # anything else (IndexError, KeyError, RecursionError, lark errors...) fails the test


def test_the_fuzzing_seed_file_is_valid():
    p = diagalg.parse(VALID)
    assert len(p.statements) == 11


_MUTATION_CHARS = "()[]{},:=+-*/#\\\n \"'<>!._0123456789eEijkxnA" + "∑é\t\x00"


@st.composite
def mutated(draw):
    text = list(VALID)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        pos = draw(st.integers(0, len(text) - 1))
        if op == "delete":
            del text[pos : pos + draw(st.integers(1, 5))]
        elif op == "insert":
            text.insert(pos, draw(st.sampled_from(_MUTATION_CHARS)))
        elif op == "duplicate":
            start = draw(st.integers(0, len(text) - 1))
            text[pos:pos] = text[start : start + draw(st.integers(1, 60))]
        else:
            other = draw(st.integers(0, len(text) - 1))
            text[pos], text[other] = text[other], text[pos]
    return "".join(text)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_file_raise_only_source_errors(text):
    _only_source_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_random_text_raises_only_source_errors(text):
    _only_source_errors(text)


_TOKENS = (
    "dim tensor let rule assert numeric show unfold calc by import func diff delta shift zero "
    "conj inv keep group split sqrt exp log min softmax causal logsumexp pow n m A B x i j k "
    '[ ] ( ) , : = == != -> + - * / ** \\\n \n # 1 1e-3 .5 "a.diag" <= >= W\' _'
).split(" ")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=30), st.booleans())
def test_random_token_soup_raises_only_source_errors(tokens, with_prelude):
    text = " ".join(tokens)
    _only_source_errors((H if with_prelude else "") + text)


def test_many_seeded_mutations_raise_only_source_errors():
    # a larger, deterministic sweep (cheap: parsing only)
    rng = random.Random(1234)
    alphabet = string.punctuation + " \n" + "ijkxAn01e"
    for _ in range(400):
        text = list(VALID)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(text))
            if rng.random() < 0.5:
                del text[pos]
            else:
                text.insert(pos, rng.choice(alphabet))
        _only_source_errors("".join(text))


def test_calc_without_steps_at_end_of_file_says_what_is_expected():
    err = expect_error("dim n\ntensor A[i: n, j: n]\ncalc A[i, j] A[j, i]\n")
    assert (err.line, err.col) == (3, 21)
    assert err.message == "unexpected end of file; expected '='"
