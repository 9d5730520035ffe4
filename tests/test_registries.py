"""The registries: rules (:mod:`diagalg.rules`) and bubbles (:mod:`diagalg.bubbles`).

Each extension point has one registry, and everything else reads it: these tests
pin the rule sets computed from the rule classes to what they were when they were
hand-kept tuples, tie the registries to the grammar and to the property tests, check
that every bubble's exported code computes the oracle's function (real and complex
input), and check the model primitives that rebuild nested operations.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

import diagalg
from diagalg.bubbles import BUBBLES, get_bubble, keyword_kinds
from diagalg.bubbles.spec import EXPORT_BACKENDS, SHIFT_FACTS
from diagalg.engine import Engine, simplify, unfold
from diagalg.export import export_program
from diagalg.model import BoxOp, BubbleOp, DerivOp, Expr, Term, map_nested, walk_nodes, walk_terms, with_inner
from diagalg.numeric import evaluate, sample_instance
from diagalg.rules import DEFAULT_RULES, DERIVATIVE_INNER_RULES, SUM_RULES, all_rules, get_rule, implemented_rules
from diagalg.rules.base import RULE_ATTRIBUTES
from diagalg.rules.user import UserRuleRewriter
from diagalg.vocabulary import grammar_bubble_tokens, grammar_keywords

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#: The modules whose random or hand-made cases test the rules' soundness.
PROPERTY_TEST_MODULES = (
    "test_rules.py",
    "test_rules_structural.py",
    "test_bubble_rules.py",
    "test_derivative.py",
    "test_soundness.py",
    "test_power_algebra.py",
    "test_elementwise_algebra.py",
    "test_everyday_algebra.py",
    "test_matrix_functions.py",
    "test_inverse_cancel.py",
    "test_softmax_blocks.py",
)


# --------------------------------------------------------------------------- rules


def test_rule_sets_are_those_once_kept_by_hand():
    assert DEFAULT_RULES == (
        "delta",
        "isometry",
        "inverse",
        "inverse_expr",
        "inverse_product",
        "det_product",
        "det_inverse",
        "unitary_inverse",
        "inverse_transposed",
        "inverse_cancel",
        "distribute",
        "shift",
        "symmetry",
        "reshape",
        "elementwise_reshape",
        "pow_expand",
        "pow_split",
        "pow_nest",
        "pow_collect",
        "softmax_reshape",
        "softmax_shift",
        "softmax_sum",
        "distribution_sum",
        "logsumexp_shift",
        "layernorm_shift",
        "softmax_fold",
        "exp_product",
        "log_exp",
        "log_softmax",
        "derivative",
        "pow_sum",
        "collect",
    )
    assert SUM_RULES == ("pow_sum", "collect")
    # the engine filters its own rule list by this set, so only membership matters
    assert set(DERIVATIVE_INNER_RULES) == {
        "derivative",
        "delta",
        "distribute",
        "inverse",
        "shift",
        "reshape",
        "softmax_shift",
        "logsumexp_shift",
        "layernorm_shift",
        "pow_expand",
        "elementwise_reshape",
        "pow_collect",
        "exp_product",
        "softmax_sum",
        "pow_sum",
        "inverse_expr",
        "det_product",
        "det_inverse",
        "softmax_reshape",
    }
    assert set(implemented_rules()) == set(DEFAULT_RULES) | {"cyclic", "gauge"}


@pytest.mark.parametrize("name", sorted(all_rules()))
def test_every_rule_declares_its_attributes_and_is_property_tested(name):
    rule = all_rules()[name]
    for attr, typ in RULE_ATTRIBUTES.items():
        assert attr in vars(type(rule)), f"{name} does not declare {attr}"
        assert isinstance(getattr(rule, attr), typ)
    if getattr(rule, "uses_declared_properties", False):
        assert not rule.inside_derivative
    if rule.on_sums:
        assert callable(getattr(rule, "apply", None))
    else:
        assert callable(getattr(rule, "match", None)) and callable(getattr(rule, "rewrite", None))
    word = re.compile(rf"\b{re.escape(name)}\b")
    assert any(word.search((TESTS / m).read_text(encoding="utf-8")) for m in PROPERTY_TEST_MODULES), (
        f"no property test module mentions {name}"
    )


def _renamed_user_rule(name: str) -> UserRuleRewriter:
    prog = diagalg.parse("dim n\ntensor A[i: n, j: n]\ntensor C[i: n, j: n]\nrule ab: A[i, j] A[j, k] -> C[i, k]\n")
    return UserRuleRewriter(dataclasses.replace(prog.rules["ab"], name=name))


@pytest.mark.parametrize("name", ["softmax_shift", "delta", "collect"])
def test_a_user_rule_named_like_a_builtin_is_refused(name):
    with pytest.raises(ValueError, match="built-in"):
        Engine(DEFAULT_RULES, extra_rules={name: _renamed_user_rule(name)})


def test_passing_a_builtin_itself_is_no_replacement_and_other_user_rules_work():
    Engine(("shift", "delta", "collect"), extra_rules={"shift": get_rule("shift")})
    prog = diagalg.parse("dim n\ntensor A[i: n, j: n]\ntensor C[i: n, j: n]\n")
    out = simplify(
        prog.expr("A[i, j] A[j, k]"), rules=("mine", "collect"), extra_rules={"mine": _renamed_user_rule("mine")}
    )
    assert diagalg.to_text(out.result) == "C[i, k]"


# --------------------------------------------------------------------------- bubbles and the grammar


def test_every_grammar_bubble_token_has_a_registry_module_and_back():
    assert set(grammar_bubble_tokens()) == set(keyword_kinds())
    for kind in keyword_kinds():
        assert kind in grammar_keywords()
    modules = {p.stem for p in (ROOT / "diagalg" / "bubbles").glob("*.py")} - {"__init__", "spec", "pieces", "matrix"}
    assert modules == set(BUBBLES)


def test_printing_and_repl_words_come_from_the_grammar():
    from diagalg.printing import _reserved
    from diagalg.repl import EXPRESSION_WORDS, STATEMENT_KEYWORDS

    assert _reserved() == set(grammar_keywords())
    assert set(EXPRESSION_WORDS) >= set(grammar_keywords()) - set(STATEMENT_KEYWORDS)
    assert set(keyword_kinds()) <= set(EXPRESSION_WORDS)
    # a keyword used as a name is printed with a suffix, so the text parses back
    prog = diagalg.parse("dim n\ntensor x[i: n]\n")
    text = diagalg.to_text(prog.expr("x[i] x[i]"))
    assert diagalg.to_text(prog.expr(text)) == text


@pytest.mark.parametrize("kind", sorted(BUBBLES))
def test_every_bubble_states_what_its_readers_need(kind):
    b = get_bubble(kind)
    assert b.kind == kind and b.description and b.drawing_label()
    assert b.axes in (0, 1, 2) or (b.axes == -1 and kind in ("inv", "det"))  # -1: every label has a role
    assert b.shift is None or b.shift in SHIFT_FACTS
    if kind == "pow":
        assert b.exact_obstacle(sympy.Integer(3)) is None
    elif b.exact is not None:  # inv, det: rational maps, computed over the prime field
        assert b.exact_obstacle() is None
    else:
        assert b.exact_obstacle()  # transcendental, piecewise or opaque: a reason
    if b.export:
        assert set(b.export) == set(EXPORT_BACKENDS)
    else:
        assert b.no_export
    assert b.derivative is not None  # every bubble differentiates (a user function through f')


def test_pow_is_exact_only_for_non_negative_integer_exponents():
    pow_ = get_bubble("pow")
    assert pow_.exact_obstacle(sympy.Integer(0)) is None and pow_.exact_obstacle(sympy.Integer(5)) is None
    for p in (sympy.Integer(-1), sympy.Rational(1, 2), None):
        assert pow_.exact_obstacle(p)


def test_the_shift_rules_read_the_facts_of_their_bubbles():
    assert get_bubble(get_rule("softmax_shift").bubble).shift == "drop"
    assert get_bubble(get_rule("layernorm_shift").bubble).shift == "drop"
    assert get_bubble(get_rule("logsumexp_shift").bubble).shift == "pull_real"
    assert [k for k, b in BUBBLES.items() if b.shift == "mask"] == ["causal"]


def _draw(shape, rng, complex_):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("kind", sorted(k for k, b in BUBBLES.items() if "numpy" in b.export))
def test_exported_numpy_code_is_the_oracles_function(kind, complex_):
    """The helper text export writes computes what the oracle computes, entry by entry."""
    b = get_bubble(kind)
    code = b.export["numpy"]
    namespace: dict = {}
    exec("import math\nimport numpy as np\n" + code.helper, namespace)
    rng = np.random.default_rng(7)
    x = _draw((3, 4, 4), rng, complex_)
    if kind == "pow" or kind == "log":
        x = x + 3.0  # away from the branch cut for the comparison
    if b.axes == -1:  # inv, det: a square map from axis 0 to axes (1, 2)
        x = _draw((4, 2, 2), rng, complex_)
    axes = {0: (), 1: (1,), 2: (1, 2), -1: (0, 1, 2)}[b.axes]
    param = 3.0 if kind == "pow" else 1.0 if b.axes == -1 else None
    want = b.apply(x, axes, param)
    call = code.call.format(
        x="x", param="3.0" if kind == "pow" else "1", axes="(0, 1, 2)", **{f"axis{k}": a for k, a in enumerate(axes)}
    )
    with np.errstate(all="ignore"):
        got = eval(call, {**namespace, "x": x})  # noqa: S307 - the registry's own code
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


LAYERNORM = """\
dim s = 3, e = 5
tensor Z[s: s, e: e] complex
tensor W[e: e, f: e] complex
let ln[s, e] = layernorm[e](Z[s, e])
let ln2[s, f] = layernorm[f](Z[s, e] W[e, f]) + Z[s, f]
"""


@pytest.mark.parametrize("name", ["ln", "ln2"])
def test_exported_layernorm_equals_the_oracle_on_complex_input(name):
    program = diagalg.parse(LAYERNORM, "ln.diag")
    exported = export_program(program, name)
    namespace: dict = {}
    exec(compile(exported.code, f"<export {name}>", "exec"), namespace)
    expr = unfold(program[name])
    inst, _ = sample_instance([expr], program.env, 5)
    assert np.iscomplexobj(inst.arrays["Z"])
    want = evaluate(expr, inst, exported.labels).array
    got = np.asarray(namespace[exported.entry](*[inst.arrays[a] for a in exported.args]))
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12)
    assert export_program(program, name, check=True).check.startswith("checked against")


# --------------------------------------------------------------------------- model primitives


PROG = diagalg.parse("""\
dim n
tensor A[i: n, j: n]
tensor x[i: n]
let f[i] = A[i, j] x[j]
""")


def test_with_inner_keeps_every_other_field():
    e = PROG.expr("softmax[i](A[i, j] x[j])")
    (node,) = e.terms[0].diagram.nodes
    op = node.op
    new = with_inner(op, op.inner.scaled(3))
    assert isinstance(new, BubbleOp) and (new.kind, new.axes, new.param, new.func) == (
        op.kind,
        op.axes,
        op.param,
        op.func,
    )
    assert new.inner == op.inner.scaled(3)
    box = BoxOp(op.inner, op.inner.labels, "f")
    assert with_inner(box, op.inner.scaled(2)) == BoxOp(op.inner.scaled(2), box.ports, "f")
    d = DerivOp(op.inner, PROG.expr("x[i]").terms[0].diagram.nodes[0].op)
    assert with_inner(d, op.inner.scaled(2)).wrt == d.wrt
    with pytest.raises(TypeError):
        with_inner(PROG.expr("x[i]").terms[0].diagram.nodes[0].op, op.inner)


def test_map_nested_keeps_the_diagram_when_nothing_changes():
    d = PROG.expr("exp(x[i]) (A[i, j] x[j] + x[i])").terms[0].diagram
    assert map_nested(d, lambda op: op.inner) is d
    doubled = map_nested(d, lambda op: op.inner.scaled(2))
    assert [n.op.inner for n in doubled.nodes] == [n.op.inner.scaled(2) for n in d.nodes]


def test_walk_terms_reaches_every_depth_and_keeps_unchanged_objects():
    e = PROG.expr("tanh(exp(f[i]) + x[i])")
    assert walk_terms(e, lambda t: t) is e
    tagged = walk_terms(e, lambda t: Term(t.coeff, t.diagram, t.tags + ("seen",)))
    depths = [tagged]
    while depths:
        cur = depths.pop()
        for t in cur.terms:
            assert t.tags[-1:] == ("seen",)
            depths.extend(n.op.inner for n in t.diagram.nodes if hasattr(n.op, "inner"))
    # unfold (built on walk_terms) leaves no folded let anywhere
    assert not any(isinstance(n.op, BoxOp) and n.op.name for n in walk_nodes(unfold(e)))
    assert isinstance(Expr.of(unfold(e).terms, e.free_dims), Expr)
