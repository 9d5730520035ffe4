"""`weights "file.npz"` and `diagalg check --weights`: declared tensors bound to arrays,
shapes and declared properties checked with positioned errors."""

from __future__ import annotations

import numpy as np
import pytest

import diagalg
from diagalg.weights import WeightsError, bind, load_arrays

RNG = np.random.default_rng(0)


def qr(rows: int, cols: int) -> np.ndarray:
    q, _ = np.linalg.qr(RNG.normal(size=(rows, cols)))
    return q


HEAD = """\
dim n, m = 4
dim r <= n
tensor A[i: n, j: m]
tensor x[j: m]
tensor y[j: m]
tensor V[a: n, b: r] isometry(b -> a)
tensor z[b: r]
"""


@pytest.fixture
def files(tmp_path):
    np.savez(tmp_path / "good.npz", A=RNG.normal(size=(3, 4)), x=RNG.normal(size=4), V=qr(3, 2))
    np.savez(tmp_path / "badshape.npz", A=RNG.normal(size=(3, 5)))
    np.savez(tmp_path / "extra.npz", A=RNG.normal(size=(3, 4)), Z=np.ones(2))
    np.savez(tmp_path / "notiso.npz", V=RNG.normal(size=(3, 2)))
    np.savez(tmp_path / "conflict.npz", A=RNG.normal(size=(3, 4)), V=qr(5, 2))
    np.save(tmp_path / "x.npy", RNG.normal(size=4))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    return tmp_path


def test_bound_arrays_are_used_and_sizes_fixed(files, cli):
    f = files / "m.diag"
    f.write_text(
        HEAD + 'weights "good.npz"\n'
        "assert V[a, b] V[a, c] z[c] == z[b]\n"
        "assert A[i, j] (x[j] + y[j]) == A[i, j] x[j] + A[i, j] y[j]\n"
    )
    prog = diagalg.load(f)
    assert set(prog.binding.arrays) == {"A", "x", "V"}
    assert {str(s): v for s, v in prog.binding.sizes.items()} == {"n": 3, "r": 2}
    res = cli("check", f)
    assert res.returncode == 0, res.stdout + res.stderr


def test_numeric_checks_evaluate_the_bound_arrays(files):
    # with A and x bound, A x is a fixed vector: compare against numpy directly
    from diagalg.numeric.check import collect, compare, draw_instance
    from diagalg.numeric.evaluate import evaluate
    from diagalg.numeric.sizes import sample_sizes

    prog = diagalg.parse(HEAD)
    arrays = load_arrays(files / "good.npz")
    binding = bind(arrays, prog.tensors, prog.env, "good.npz")
    e = prog.expr("A[i, j] x[j]")
    decls, funcs, syms = collect([e])
    draw = sample_sizes(syms, prog.env, decls.values(), np.random.default_rng(0), exact=binding.sizes)
    inst = draw_instance(decls, funcs, draw, np.random.default_rng(0), bound=binding.arrays)
    got = evaluate(e, inst, ["i"]).array
    assert np.allclose(got, arrays["A"] @ arrays["x"])
    # a claim that is false for these particular arrays but would need them: A x == 0
    assert compare(e, prog.expr("zero[i: n]"), prog.env, binding=binding).status == "different"


@pytest.mark.parametrize(
    "name, message",
    [
        ("badshape.npz", "array 'A' has shape (3, 5), but leg j of A has dimension m = 4, not 5"),
        ("extra.npz", "array 'Z' matches no declared tensor"),
        ("notiso.npz", "array 'V' is not an isometry as declared"),
        ("conflict.npz", "leg a of V has dimension n = 3, not 5"),
        ("missing.npz", "no such weights file"),
        ("junk.npz", "not a readable .npz/.npy file"),
        ("obj.npy", "cannot be read without pickles"),
    ],
)
def test_bad_weights_are_positioned_errors(files, cli, name, message):
    f = files / "m.diag"
    f.write_text(HEAD + f'weights "{name}"\nassert A[i, j] == A[i, j]\n')
    res = cli("check", f)
    assert res.returncode == 2
    assert f"m.diag:8:9: error: {name}: " in res.stderr or "m.diag:8:9: error: no such" in res.stderr
    assert message in res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr


def test_pickled_arrays_are_refused(files):
    with pytest.raises(WeightsError, match="cannot be read without pickles"):
        load_arrays(files / "obj.npy")


def test_npy_binds_by_stem_and_cli_flag(files, cli):
    f = files / "m.diag"
    f.write_text(HEAD + "assert numeric A[i, j] x[j] == A[i, j] x[j]\n")
    res = cli("check", "--weights", files / "x.npy", f)
    assert res.returncode == 0, res.stderr
    res = cli("check", "--weights", files / "badshape.npz", f)
    assert res.returncode == 2
    assert "array 'A' has shape (3, 5)" in res.stderr


def test_dims_override_names_the_standin(files, cli):
    f = files / "big.diag"
    f.write_text("dim seq = 1024\ntensor x[s: seq]\nassert numeric x[s] + x[s] == 2 * x[s]\n")
    res = cli("check", "--dims", "seq=9", f)
    assert res.returncode == 0
    res = cli("check", "--dims", "nope=3", f)
    assert res.returncode == 2 and "--dims: nope is not a dimension" in res.stderr
    res = cli("check", "--dims", "seq=x", f)
    assert res.returncode == 2
