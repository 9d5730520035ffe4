"""The pytest plugin (.diag files as tests) and diagalg.testing's assertions.

The plugin is tested with pytest's own ``pytester``: a scratch project with a
.diag file, run the way a user runs pytest, and its outcomes and failure text
inspected.
"""

from __future__ import annotations

import pytest

import diagalg
import diagalg.canonical  # noqa: F401  (imported once here: pytester runs in this process)
import diagalg.checker  # noqa: F401
import diagalg.lower  # noqa: F401
import diagalg.pytest_plugin  # noqa: F401
from diagalg.testing import assert_equal, assert_numeric_equal

pytest_plugins = ("pytester",)

ISOMETRY = """\
dim n, r <= n
tensor V[a: n, b: r] isometry(b -> a)
tensor A[i: n, j: n]
tensor B[i: n, j: n]

# V† V is the identity on the small space
assert V[a, b] V[a, c] == delta[b, c]
# V V† is only a projector
assert V[a, b] V[c, b] == delta[a, c]
assert A[i, j] != A[j, i]
calc A[i, j] V[j, b] V[k, b]
  = A[i, j] V[j, b] V[k, b]    by delta
"""


def check_lines(pytester, name: str) -> list[str]:
    """What `diagalg check NAME` prints in the scratch project (result lines, no summary)."""
    import contextlib
    import io
    import os

    from diagalg.cli import main

    out = io.StringIO()
    old = os.getcwd()
    os.chdir(pytester.path)
    try:
        with contextlib.redirect_stdout(out):
            main(["check", name])
    finally:
        os.chdir(old)
    return [line for line in out.getvalue().splitlines() if not line.startswith("checked ")]


def test_diag_files_are_collected_when_the_ini_option_is_set(pytester):
    pytester.makeini("[pytest]\ndiagalg_files = true\n")
    pytester.makefile(".diag", isometry=ISOMETRY)
    result = pytester.runpytest("-v")
    # one item per assertion and calc block
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*isometry.diag::line 7: assert V[[]a, b] V[[]a, c] == delta[[]b, c] PASSED*",
            "*isometry.diag::line 9: assert V[[]a, b] V[[]c, b] == delta[[]a, c] FAILED*",
        ]
    )
    # the failure message is exactly diagalg check's line for that assertion
    failing = [line for line in check_lines(pytester, "isometry.diag") if "FAIL" in line]
    assert len(failing) == 1
    assert failing[0].startswith("isometry.diag:9: FAIL  assert V[a, b] V[c, b] == delta[a, c] not equal")
    assert failing[0] in result.stdout.str().splitlines()


def test_nothing_is_collected_without_the_option(pytester):
    pytester.makefile(".diag", isometry=ISOMETRY)
    result = pytester.runpytest()
    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_dash_p_enables_collection(pytester):
    pytester.makefile(".diag", isometry=ISOMETRY)
    result = pytester.runpytest("-p", "diagalg.pytest_plugin")
    result.assert_outcomes(passed=3, failed=1)


def test_a_static_error_is_a_collection_error_with_caret(pytester):
    pytester.makeini("[pytest]\ndiagalg_files = true\n")
    pytester.makefile(".diag", broken="dim n\ntensor A[i: n, j: n]\nassert A[i, j] == B[i, j]\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["broken.diag:3:19: error: undeclared name 'B'*", "    assert A[i, j] == B[i, j]", "                      ^"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_failing_calc_step_reports_the_step(pytester):
    pytester.makeini("[pytest]\ndiagalg_files = true\n")
    pytester.makefile(
        ".diag",
        calc="""\
        dim n, r <= n
        tensor V[a: n, b: r] isometry(b -> a)
        tensor A[b: r, c: r]
        calc V[a, b] V[a, c] A[c, d]
          = delta[b, c] A[c, d]   by isometry
          = A[d, b]               by delta
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*calc.diag:5: ok    = delta[[]b, c] A[[]c, d] by isometry [[]step 1 by isometry*",
            "*calc.diag:6: FAIL  = A[[]d, b] by delta step 2: numerically false*",
        ]
    )


def test_python_identities_with_assert_equal():
    prog = diagalg.parse(
        "dim n, r <= n\ntensor V[a: n, b: r] isometry(b -> a)\ntensor A[i: n, j: n]\ntensor B[i: n, j: n]\n"
    )
    assert_equal("V[a, b] V[a, c]", "delta[b, c]", prog)
    assert_equal(prog.expr("A[i, j] B[j, k]"), "A[i, l] B[l, k]", prog)
    assert_numeric_equal("exp(A[i, j] + B[i, j])", "keep[i, j](exp(A[i, j]) exp(B[i, j]))", prog)
    with pytest.raises(AssertionError) as info:
        assert_equal("V[a, b] V[c, b]", "delta[a, c]", prog)
    assert str(info.value).splitlines() == [
        "FAIL: not equal: exact difference at n=5, r=3 (seed 0)",
        "  left:  V[a, b] V[c, b]",
        "  right: delta[a: n, c]",
        "  decided exactly over prime fields (seed 0)",
    ]
    assert_equal("exp(A[i, j] + B[i, j])", "keep[i, j](exp(A[i, j]) exp(B[i, j]))", prog)  # exp_product
    with pytest.raises(AssertionError) as info:  # true, but no rule proves it
        assert_equal("tanh(A[i, j])", "2 * sigmoid(2 * A[i, j]) - delta[i] delta[j]", prog)
    message = str(info.value)
    assert "not proved symbolically; numerically equal" in message
    assert "left simplifies to:  tanh(A[i, j])" in message
    assert "numeric error: " in message and "relative (seed 0)" in message
    with pytest.raises(AssertionError, match="not equal: exact difference at n="):
        assert_numeric_equal("A[i, j]", "A[j, i]", prog)
    with pytest.raises(AssertionError, match="not equal: max error"):
        assert_numeric_equal("exp(A[i, j])", "exp(A[j, i])", prog)


def test_assert_equal_in_a_users_test_file(pytester):
    pytester.makepyfile(
        test_ids="""
        import diagalg
        from diagalg.testing import assert_equal

        PROG = diagalg.parse("dim n\\ntensor A[i: n, j: n]\\ntensor B[i: n, j: n]\\n")

        def test_trace_cyclicity():
            assert_equal("A[i, j] B[j, i]", "B[i, j] A[j, i]", PROG)

        def test_transpose_is_not_free():
            assert_equal("A[i, j] B[j, k]", "A[i, j] B[k, j]", PROG)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: FAIL: not equal: exact difference at n=*",
            "*left:  A[[]i, j] B[[]j, k]*",
            "*right: A[[]i, j] B[[]k, j]*",
        ]
    )
