"""One look per file (series_style, series_pattern) and evenly stepping log ticks."""
import numpy as np
import pytest

from alloca_bench.present._styles import even_log_ticks, series_pattern, series_style


def test_series_styles_differ_for_256_series():
    assert len({series_style(k) for k in range(256)}) == 256


def test_series_patterns_differ_without_colour_for_32_series():
    assert len({series_pattern(k) for k in range(32)}) == 32


def test_the_first_eight_series_differ_in_colour():
    assert len({series_style(k).color for k in range(8)}) == 8


@pytest.mark.parametrize("low, high, ticks", [
    (0.4, 2.5, [0.5, 1 / 2 ** 0.5, 1, 2 ** 0.5, 2]),
    (0.05, 30, [1 / 16, 0.25, 1, 4, 16]),
    (0.5, 64, [0.5, 1, 2, 4, 8, 16, 32, 64]),
    (1.0, 5000, [1, 4, 16, 64, 256, 1024, 4096]),
])
def test_even_log_ticks_step_by_one_factor_through_one(low, high, ticks):
    assert even_log_ticks(low, high) == pytest.approx(ticks)


@pytest.mark.parametrize("low, high", [(0.87, 1.15), (0.9, 40.0), (0.01, 0.2), (3.0, 3.5)])
def test_even_log_ticks_keep_one_step_and_stay_in_the_range(low, high):
    ticks = even_log_ticks(low, high)
    assert all(low <= t <= high for t in ticks) and 3 <= len(ticks) <= 8
    steps = np.diff(np.log2(ticks))
    assert np.allclose(steps, steps[0])


@pytest.mark.parametrize("low, high", [(0, 1), (-1, 2), (2, 1), (1, float("inf"))])
def test_even_log_ticks_refuse_a_range_a_log_axis_cannot_hold(low, high):
    with pytest.raises(ValueError, match="0 < low <= high"):
        even_log_ticks(low, high)


def test_the_first_eight_patterns_each_have_a_marker_of_their_own():
    assert len({series_pattern(k)[1] for k in range(8)}) == 8


@pytest.mark.parametrize("low, high, ticks", [(5.0, 40.0, [8, 16, 32]), (5.0, 9.0, [5.66, 8]),
                                              (0.7, 3.0, [1, 2])])
def test_whole_ticks_are_powers_of_two_unless_fewer_than_two_fit(low, high, ticks):
    assert even_log_ticks(low, high, whole=True) == pytest.approx(ticks, rel=1e-3)
