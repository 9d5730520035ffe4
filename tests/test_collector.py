"""The cyclic collector runs in batches during bulk work and is put back afterwards:
diagalg is a library too, and a user's process keeps the thresholds it chose."""

from __future__ import annotations

import gc

import pytest

import diagalg
from diagalg.collector import BATCH_THRESHOLDS, collected_in_batches
from diagalg.numeric import check


@pytest.fixture
def user_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(500, 7, 3)  # a user's own choice, distinct from CPython's default
    yield (500, 7, 3)
    gc.set_threshold(*before)


def test_batches_inside_and_the_users_thresholds_after(user_thresholds) -> None:
    with collected_in_batches():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        with collected_in_batches():  # nested: still batched, and the outer one restores
            assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == user_thresholds


def test_an_error_inside_still_restores(user_thresholds) -> None:
    with pytest.raises(diagalg.SourceError):
        diagalg.parse("dim n\ntensor A[i: n, j: n]\nassert A[i, j] == \n")
    assert gc.get_threshold() == user_thresholds


def test_parse_compare_and_the_command_line_leave_the_thresholds_alone(
    user_thresholds, write_diag, cli, monkeypatch
) -> None:
    prog = diagalg.parse("dim n\ntensor A[i: n, j: n]\n")
    assert diagalg.equal(prog.expr("A[i, j] A[j, i]"), prog.expr("A[k, l] A[l, k]"), prog)
    assert gc.get_threshold() == user_thresholds
    seen = []  # the thresholds while the numeric comparison works
    needs = check.size_needs
    monkeypatch.setattr(check, "size_needs", lambda *a, **k: seen.append(gc.get_threshold()) or needs(*a, **k))
    result = check.compare(prog.expr("A[i, j] A[j, i]"), prog.expr("A[k, l] A[l, k]"), prog.env)
    assert result.status == "equal" and seen == [BATCH_THRESHOLDS]
    assert gc.get_threshold() == user_thresholds
    path = write_diag("t.diag", "dim n\ntensor A[i: n, j: n]\nassert numeric A[i, i] == A[j, j]\n")
    assert cli("check", path).returncode == 0
    assert gc.get_threshold() == user_thresholds
