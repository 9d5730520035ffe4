"""`diagalg export FILE NAME --to numpy|torch|einsum`: a verified diagram becomes code.

Each test runs the exported code the way a user would (exec of the printed
module) on the very arrays diagalg draws for its own numeric check, and
compares with diagalg's evaluation of the same let.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opt_einsum as oe
import pytest

import diagalg
from diagalg.engine import unfold
from diagalg.export import export_program
from diagalg.numeric import evaluate, sample_instance

ROOT = Path(__file__).resolve().parent.parent

PAPER = """\
# the paper's cast: an SVD-like chain, a trace, a matrix product state, attention
dim n, r <= n
dim seq, d = 4
tensor V[a: n, b: r] isometry(b -> a)
tensor A[b: r, c: r]
tensor X[i: n, j: n] invertible
tensor x[i: n]
tensor M1[p: n, b: r]
tensor M2[b: r, p: n, c: r]
tensor M3[c: r, p: n]
tensor Q[s: seq, e: d]
tensor K[s: seq, e: d]
tensor Vv[s: seq, e: d]

let chain[b, e] = V[a, b] V[a, c] A[c, d] V[f, d] V[f, e]
let trace = X[i, j] X[j, k] X[k, i]
let mps[p, q, t] = M1[p, b] M2[b, q, c] M3[c, t]
let quad = x[i] X[i, j] x[j] + 2 * x[i] x[i] / n
let diag[i] = keep[i](X[i, i])
let ident[i, k] = X[i, j] (X[j, k] + delta[j, k])
let inverse[i, k] = inv(X)[i, j] X[j, k] + delta[i, k]
let attn[q, e] = softmax[k](causal[q, k](Q[q, f] K[k, f] / sqrt(d))) Vv[k, e]
let grad[p] = diff(x[i] X[i, j] x[j], x[p])
let prev[q, e] = shift(1)[q, k] Q[k, e]          # the previous token's row
let back2[q, k] = shift(-2)[q: seq, k]
"""


def run_export(program, name: str, target: str = "numpy", seed: int = 3):
    """Exec the exported module, call it on diagalg's own random draw, and return
    (exported value, diagalg's value)."""
    exported = export_program(program, name, target)
    namespace: dict = {}
    exec(compile(exported.code, f"<export {name}>", "exec"), namespace)
    expr = unfold(program[name])
    inst, _ = sample_instance([expr], program.env, seed)
    want = evaluate(expr, inst, exported.labels).array
    sizes = {k: inst.size(program.env.symbols[d]) for k, d in exported.size_args.items()}
    if target == "torch":
        import torch

        args = [torch.from_numpy(inst.arrays[a]) for a in exported.args]
        got = namespace[exported.entry](*args, **sizes).numpy()
    else:
        got = namespace[exported.entry](*[inst.arrays[a] for a in exported.args], **sizes)
    return np.asarray(got), want


@pytest.fixture(scope="module")
def paper():
    return diagalg.parse(PAPER, "paper.diag")


@pytest.mark.parametrize(
    "name", ["chain", "trace", "mps", "quad", "diag", "ident", "inverse", "attn", "grad", "prev", "back2"]
)
def test_exported_numpy_code_computes_what_diagalg_evaluates(paper, name):
    got, want = run_export(paper, name)
    assert got.shape == want.shape
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_the_function_takes_the_declared_tensors_and_includes_the_path(paper):
    code = export_program(paper, "chain").code
    assert "def chain(V, A):" in code
    assert "_PATH_1 = [(" in code  # the contraction path, precomputed
    assert "oe.contract('ab,ac,cd,fd,fe->be', V, V, A, V, V, optimize=_PATH_1)" in code
    # dimensions come from the arguments' shapes
    assert "def attn(Q, K, Vv):" in export_program(paper, "attn").code


def test_a_derivative_is_exported_after_diagalg_takes_it(paper):
    code = export_program(paper, "grad").code
    assert "derivatives taken by diagalg's rules" in code
    assert "diff" not in code.split('"""')[2]  # the body computes the closed form


@pytest.mark.parametrize(
    "path",
    [
        "examples/kronecker.diag",
        "examples/shift_and_reshape.diag",
        "examples/copy_tensor.diag",
        "examples/transformers/two_layer_paths.diag",
    ],
)
def test_every_let_of_an_example_exports_and_agrees(path):
    program = diagalg.load(ROOT / path)
    assert program.lets
    for name in program.lets:
        got, want = run_export(program, name)
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12), name


def test_einsum_form_works_with_numpy_einsum_and_opt_einsum(paper, cli, tmp_path):
    f = tmp_path / "paper.diag"
    f.write_text(PAPER)
    res = cli("export", f, "mps", "--to", "einsum")
    assert res.returncode == 0, res.stderr
    namespace: dict = {}
    exec(res.stdout, namespace)
    terms = namespace["mps_TERMS"]
    expr = unfold(paper["mps"])
    inst, _ = sample_instance([expr], paper.env, 5)
    want = evaluate(expr, inst, ("p", "q", "t")).array
    for coeff, eq, names, path in terms:
        ops = [inst.arrays[n] for n in names]
        assert np.allclose(coeff * np.einsum(eq, *ops, optimize=["einsum_path", *path]), want)
        assert np.allclose(coeff * oe.contract(eq, *ops, optimize=path), want)


def test_cli_prints_runnable_code(cli, tmp_path):
    f = tmp_path / "paper.diag"
    f.write_text(PAPER)
    res = cli("export", f, "trace", "--sizes", "n=100")
    assert res.returncode == 0, res.stderr
    assert "optimised for sizes n=100" in res.stdout
    namespace: dict = {}
    exec(res.stdout, namespace)
    X = np.arange(9.0).reshape(3, 3)
    assert np.isclose(namespace["trace"](X), np.trace(X @ X @ X))
    out = tmp_path / "trace.py"
    assert cli("export", f, "trace", "--sizes", "n=100", "-o", out).returncode == 0
    assert out.read_text() == res.stdout


def test_what_cannot_be_exported_is_refused_with_a_positioned_error(cli, tmp_path):
    f = tmp_path / "f.diag"
    f.write_text("dim n\ntensor x[i: n]\nfunc g[a: n -> b: n]\nlet y[b] = g[i -> b](x[i])\n")
    res = cli("export", f, "y")
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"{f}:4:5: error: cannot export y to numpy: the user function g is opaque (declared by `func`, "
        "it has no definition)",
        "    let y[b] = g[i -> b](x[i])",
        "        ^",
    ]
    g = tmp_path / "paper.diag"
    g.write_text(PAPER)
    res = cli("export", g, "attn", "--to", "einsum")
    assert res.returncode == 2 and "a bubble is not a plain contraction" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli("export", g, "nothing")
    assert res.returncode == 2 and "no let or tensor named nothing" in res.stderr


def test_torch_export_agrees(paper):
    pytest.importorskip("torch", reason="torch is not installed (it is not a dependency of diagalg)")
    for name in ("chain", "mps", "attn", "inverse", "ident", "prev", "back2"):
        got, want = run_export(paper, name, "torch")
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), name
    # constant arrays (here the identity of `+ delta`) follow the arguments' float type
    import torch

    namespace: dict = {}
    exec(export_program(paper, "ident", "torch").code, namespace)
    X = torch.arange(9, dtype=torch.float32).reshape(3, 3)
    out = namespace["ident"](X)
    assert out.dtype == torch.float32 and torch.allclose(out, X @ X + X)
    shifts = diagalg.load(ROOT / "examples/shift_and_reshape.diag")
    for name in shifts.lets:
        got, want = run_export(shifts, name, "torch")
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), name


def test_export_checks_its_own_code_and_says_so(paper):
    exported = export_program(paper, "attn", check=True)
    assert exported.check.startswith("checked against diagalg's evaluation at ")
    assert f"# {exported.check}" in exported.code.splitlines()[:4]
    # the same check catches code that computes something else
    from diagalg.export import verify

    exported.code = exported.code.replace("    return t", "    return 2 * t")
    assert verify(exported, paper, unfold(paper["attn"]), "numpy").startswith("CHECK FAILED against diagalg's")


def test_einsum_form_distributes_parenthesised_sums(paper):
    exported = export_program(paper, "ident", "einsum", check=True)
    namespace: dict = {}
    exec(exported.code, namespace)
    assert [eq for _, eq, _, _ in namespace["ident_TERMS"]] == ["ij,jk->ik", "ik->ik"]
    assert exported.check.startswith("checked against")


ISOMETRY = """dim n, r <= n
tensor V[a: n, b: r] isometry(b -> a)
tensor M[c: r, d: r]
let P[b, d] = V[a, b] V[a, c] M[c, d]
"""


def test_generated_module_imports_only_what_it_uses(paper):
    for name in ("trace", "attn"):
        code = export_program(paper, name).code
        assert ("import math" in code) == ("math." in code.replace("import math", ""))


def test_export_simplify_uses_the_cheaper_form_and_checks_the_isometry(cli, tmp_path):
    f = tmp_path / "iso.diag"
    f.write_text(ISOMETRY)
    res = cli("export", f, "P", "--simplify")
    assert res.returncode == 0, res.stderr
    head = [line for line in res.stdout.splitlines() if line.startswith("#")]
    flops = next(line for line in head if line.startswith("# FLOPs at n=64, r=64: "))
    assert "as written 2*n*r**2 + 2*r**3 = 1,048,576" in flops and "simplified r**2 = 4,096" in flops
    assert "# relies on the declared properties: V isometry" in head
    assert any(line.startswith("# checked against diagalg's evaluation") for line in head)
    assert "oe.contract" not in res.stdout  # the simplified form is M itself
    namespace: dict = {}
    exec(res.stdout, namespace)
    fn = namespace["P"]
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.standard_normal((6, 3)))[0]
    M = rng.standard_normal((3, 3))
    assert np.allclose(fn(V, M), np.einsum("ab,ac,cd->bd", V, V, M))
    W = rng.standard_normal((6, 3))
    with pytest.raises(ValueError, match="V is not an isometry"):
        fn(W, M)
    assert np.allclose(fn(W, M, check_properties=False), M)  # the check is what guards the shortcut


def test_export_simplify_from_python_and_without_properties(paper):
    plain = export_program(paper, "trace", check=True, simplify=True)
    assert "# relies on no declared property" in plain.code
    assert "check_properties" not in plain.code
    assert plain.check.startswith("checked against")
    program = diagalg.parse(ISOMETRY)
    exported = export_program(program, "P", "einsum", simplify=True)
    assert "# relies on the declared properties: V isometry" in exported.code
