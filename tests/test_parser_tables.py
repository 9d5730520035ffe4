"""The parser as shipped: LALR tables loaded from data, a hand path for plain
declarations, and start-up that imports only what a command needs.

Start-up is guarded by counting imported modules in a fresh interpreter, never by
timing (see the figures in bench/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagalg import parser as P
from diagalg import parser_tables
from diagalg.errors import SourceError

ROOT = Path(__file__).resolve().parent.parent
CORPORA = [ROOT / "examples", ROOT / "tests" / "corpus", ROOT / "docs"]


def test_the_shipped_tables_were_built_from_this_grammar() -> None:
    """Edit grammar/diag.lark, then run `make parser-tables`: until then every start
    pays the half-second build, and this test says so."""
    assert parser_tables.tables_are_fresh(["start", *P.FRAGMENTS]), (
        "grammar/diag.tables.json is stale: run `make parser-tables`"
    )


def test_tables_and_a_fresh_build_parse_every_file_alike() -> None:
    built = parser_tables.build_parser(["start", *P.FRAGMENTS], postlex=P._StatementNewlines(), transformer=P._ToAst())
    files = [f for d in CORPORA for f in sorted(d.rglob("*.diag"))]
    assert len(files) > 40
    for f in files:
        text = f.read_bytes().decode("utf-8", "replace")
        try:
            want = built.parse(text, start="start")
        except Exception as e:  # noqa: BLE001 - compared as outcomes
            want = type(e).__name__
        try:
            got = P._lark().parse(text, start="start")
        except Exception as e:  # noqa: BLE001
            got = type(e).__name__
        assert got == want, f


def test_a_stale_table_is_never_used(tmp_path, monkeypatch) -> None:
    """A table from another grammar (or lark version) is ignored: the parser is built
    from the grammar instead, so staleness costs time, never a wrong parse."""
    stale = json.loads(parser_tables.tables_path().read_text())
    stale["header"]["grammar_sha256"] = "0" * 64
    path = tmp_path / "diag.tables.json"
    path.write_text(json.dumps(stale))
    monkeypatch.setattr(parser_tables, "tables_path", lambda: path)
    assert not parser_tables.tables_are_fresh(["start", *P.FRAGMENTS])
    fresh = parser_tables.load_parser(["start", *P.FRAGMENTS], postlex=P._StatementNewlines(), transformer=P._ToAst())
    assert fresh.source_path != "<deserialized>"
    assert fresh.parse("dim n\ntensor A[i: n]\n", start="start") == P.parse_text("dim n\ntensor A[i: n]\n").stmts


def test_the_hand_path_gives_the_grammars_statements_for_every_file() -> None:
    for f in (f for d in CORPORA for f in sorted(d.rglob("*.diag"))):
        text = f.read_bytes().decode("utf-8", "replace")
        outcomes = []
        for hand in (True, False):
            try:
                outcomes.append(P.parse_text(text, str(f), hand_path=hand))
            except SourceError as e:
                outcomes.append(e.render())
        assert outcomes[0] == outcomes[1], f


_line = st.one_of(
    st.sampled_from(
        [
            "",
            "   ",
            "# a comment",
            "\t# indented",
            "dim n",
            "dim n, m",
            "dim n,m  # sizes",
            "tensor A[i: n, j: n]",
            "tensor B  [ i : 4 ,j:m ]",
            "tensor C[k: n]   # vec",
            "tensor x'[i: n]",
            "tensor T[a: n, b: n, c: 2]",
            # lines the hand path must leave to the grammar
            "tensor S[i: n, j: n] symmetric(i, j)",
            "tensor D[i: 2*n]",
            "tensor delta[i: n]",
            "tensor E[dim: n]",
            "dim n = 3",
            "tensor F[i: n] \\",
            "assert A[i, j] == A[i, j]",
            "tensor G[i: n,",
            "  j: n]",
            "tensor H[i: n] +",
            "let y = A[i, j]",
            "tensor K[i: 1e3]",
            "tensor L[]",
            "tensor M",
        ]
    )
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, max_size=8), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_the_hand_path_agrees_with_the_grammar_on_any_opening(lines, newline, final_newline) -> None:
    """Same statements, or the same error at the same place, whatever the opening
    lines are: continuations, open brackets, reserved words and missing final
    newlines included."""
    text = newline.join(lines) + (newline if final_newline and lines else "")
    outcomes = []
    for hand in (True, False):
        try:
            outcomes.append(P.parse_text(text, "t.diag", hand_path=hand))
        except SourceError as e:
            outcomes.append(e.render())
    assert outcomes[0] == outcomes[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["check", "--help"]])
def test_version_and_help_import_neither_numpy_nor_sympy_nor_lark(argv) -> None:
    mods = _modules_after(
        "import contextlib, io\nfrom diagalg.cli import _main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): _main({argv!r})"
    )
    heavy = {m.split(".")[0] for m in mods} & {"numpy", "sympy", "lark", "opt_einsum", "igraph", "networkx"}
    assert not heavy
    # the package, its errors, the collector policy and the CLI's six modules: nothing more
    assert len([m for m in mods if m.startswith("diagalg")]) <= 9
    assert "dataclasses" not in mods and "pathlib" not in mods


def test_a_check_loads_the_parser_without_building_it(tmp_path) -> None:
    """A check loads the shipped tables (lark marks a parser loaded from data as
    ``<deserialized>``) and imports no more of diagalg than checking needs."""
    f = tmp_path / "one.diag"
    f.write_text("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == A[i, j]\n")
    mods = _modules_after(
        "import contextlib, io\nfrom diagalg.cli import _main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): _main(['check', {str(f)!r}])\n"
        "from diagalg import parser\n"
        "assert parser._lark().source_path == '<deserialized>', parser._lark().source_path"
    )
    assert "diagalg.checker" in mods
    assert not {
        m for m in mods if m.startswith(("diagalg.render", "diagalg.report", "diagalg.export", "prompt_toolkit"))
    }
