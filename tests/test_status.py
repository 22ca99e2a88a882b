"""alloca_bench.results.status: a status per cell, its defaults, its checks and the conversion
of the failures schema version 1 kept in params."""
import numpy as np
import pytest

from alloca_bench.results import status


def test_default_status_is_ok_where_a_cell_has_a_sample_and_not_run_where_none():
    ns = np.ones((1, 2, 1, 3))
    ns[0, 0, 0, :2] = np.nan  # one sample left: ok
    ns[0, 1] = np.nan
    assert status.default_status(ns).tolist() == [[["ok"], ["not_run"]]]


def test_check_status_names_an_unknown_word_and_a_wrong_shape():
    with pytest.raises(ValueError, match="status holds 'broken'; a status is one of ok"):
        status.check_status([["broken"]], (1, 1))
    with pytest.raises(ValueError, match=r"status has shape \(2,\), expected \(1, 1\)"):
        status.check_status(["ok", "ok"], (1, 1))


def test_every_cell_not_ok_gets_words_and_an_ok_cell_none():
    keys = status.cells(["a"], [8, 16], ["auto"])
    grid = np.array([[["ok"], ["failed"]]], dtype=status.DTYPE)
    assert status.complete_reasons(grid, {}, keys) == {("a", 16, "auto"): "failed"}
    with pytest.raises(ValueError, match="whose status is ok"):
        status.complete_reasons(grid, {("a", 8, "auto"): "why"}, keys)
    with pytest.raises(ValueError, match="not a cell of this result"):
        status.complete_reasons(grid, {("b", 8, "auto"): "why"}, keys)


def test_version_1_params_become_failed_unavailable_and_interrupted_cells():
    ns = np.ones((3, 1, 1, 2))
    ns[1, 0, 0, 1] = np.nan  # b lost its second round to Ctrl-C
    ns[2] = np.nan
    params = {"interrupted": True,
              "errors": [{"strategy": "a", "size": 8, "iterations": "auto", "reason": "oom"}],
              "unavailable": [{"strategy": "c", "size": 8, "iterations": "auto",
                               "reason": "not on the stack"}]}
    grid, reasons = status.from_legacy_params(["a", "b", "c"], [8], ["auto"], ns, params)
    assert grid.ravel().tolist() == ["failed", "interrupted", "unavailable"]
    assert reasons == {("a", 8, "auto"): "oom",
                       ("b", 8, "auto"): "interrupted (Ctrl-C) after 1 of 2 rounds",
                       ("c", 8, "auto"): "not on the stack"}


def test_by_status_groups_the_cells_not_ok_in_the_order_of_statuses():
    keys = status.cells(["a"], [8, 16, 32], [1])
    grid = np.array([[["not_run"], ["ok"], ["failed"]]], dtype=status.DTYPE)
    assert status.by_status(grid, {("a", 32, 1): "oom"}, keys) == {
        "failed": [(("a", 32, 1), "oom")], "not_run": [(("a", 8, 1), "not run")]}
