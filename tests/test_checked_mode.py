"""Checked mode: every rewrite is verified numerically on its own site, so a wrong
rule is caught where it fires (internal error, exit 3), not trusted."""

from __future__ import annotations

from typing import Iterator

import pytest

import diagalg
from diagalg.engine import UnsoundRewrite, simplify
from diagalg.model import Diagram, TensorOp
from diagalg.rules.base import Edit, Site, cancel_pair

DECLS = """
dim n, r <= n
tensor V[a: n, b: r] isometry(b -> a)
tensor X[i: n, j: n] invertible
tensor A[i: n, j: n]
"""


class WrongIsometry:
    """A deliberately unsound rule: it also cancels V V† (a projector, not I)."""

    name = "wrong_isometry"
    description = "cancels V V† too (false for a non-square isometry)"

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, n in enumerate(diagram.nodes):
            for j, m in enumerate(diagram.nodes):
                if (
                    i < j
                    and isinstance(n.op, TensorOp)
                    and isinstance(m.op, TensorOp)
                    and n.op.decl.name == m.op.decl.name == "V"
                    and n.edges[1] == m.edges[1]
                ):
                    yield Site((i, j), data=("a",))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        return cancel_pair(diagram, *site.nodes, site.data)


def test_a_wrong_rule_is_caught_at_its_site():
    prog = diagalg.parse(DECLS)
    # V V† inside a longer chain: only the site V[a, b] V[c, b] is checked
    expr = prog.expr("A[i, a] V[a, b] V[c, b] A[c, k]")
    with pytest.raises(UnsoundRewrite) as info:
        simplify(
            expr, rules=("wrong_isometry",), extra_rules={"wrong_isometry": WrongIsometry()}, checked=True, env=prog.env
        )
    assert info.value.rule == "wrong_isometry"
    assert "V[a, b] V[c, b]" in info.value.site  # the site, not the whole term


def test_unchecked_mode_would_have_accepted_it():
    prog = diagalg.parse(DECLS)
    expr = prog.expr("A[i, a] V[a, b] V[c, b] A[c, k]")
    out = simplify(
        expr, rules=("wrong_isometry",), extra_rules={"wrong_isometry": WrongIsometry()}, checked=False
    ).result
    assert diagalg.to_text(out) == "A[i, a] A[a, k]"


def test_sound_rules_pass_and_checks_are_cached_per_site_shape():
    prog = diagalg.parse(DECLS)
    chain = " ".join(f"A[l{k}, m{k}] X[m{k}, p{k}] inv(X)[p{k}, l{k + 1}]" for k in range(50))
    d = simplify(prog.expr(chain), checked=True, env=prog.env)
    assert len(d.result.terms[0].diagram.nodes) == 50
    assert 1 <= d.checks <= 3  # 50 identical X inv(X) sites and 50 deltas: one check per shape
    assert all(s.check_error is not None and s.check_error < 1e-9 for s in d.steps)


def test_check_reports_an_unsound_rewrite_as_internal_error(tmp_path, monkeypatch):
    from diagalg.rules import base

    monkeypatch.setitem(base._REGISTRY, "isometry", WrongIsometry())
    f = tmp_path / "p.diag"
    f.write_text(DECLS + "show A[i, a] V[a, b] V[c, b] A[c, k]\nassert A[i, j] == A[i, j]\n")
    from diagalg.cli import main

    assert main(["check", str(f)]) == 3
