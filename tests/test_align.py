"""Lining results up for compare(): what it accepts as the results to compare."""
import numpy as np
import pytest

import alloca_bench as ab


def test_compare_takes_a_list_of_files_as_well_as_the_files(tmp_path, make_result, noisy):
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"r{k}.json")
        make_result(noisy([2, 3, 20], seed=k + 1)).save(paths[-1])
    listed, spread = ab.compare(paths), ab.compare(*paths)
    assert listed.labels == spread.labels == ("r0", "r1")
    np.testing.assert_array_equal(listed.ratio, spread.ratio)


def test_compare_of_one_result_still_asks_for_two(make_result, noisy):
    with pytest.raises(ValueError, match="at least two results, got 1"):
        ab.compare([make_result(noisy([2, 3, 20]))])
