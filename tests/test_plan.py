"""alloca_bench.measuring.plan: a plan spreads its rounds over processes; options are frozen."""
import dataclasses

import pytest

from alloca_bench.measuring.plan import Cell, Options, Plan


def test_rounds_are_spread_in_contiguous_blocks():
    def spread(repeats, processes):
        return Plan((), Options(repeats=repeats, processes=processes)).spread()

    assert spread(21, 3) == [range(0, 7), range(7, 14), range(14, 21)]
    assert spread(5, 2) == [range(0, 2), range(2, 5)]
    assert spread(2, 5) == [range(0, 1), range(1, 2)]  # never an empty process


def test_options_and_cells_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Options().repeats = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        Cell("malloc", "none", 64).size = 3
