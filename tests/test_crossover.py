"""alloca_bench.analysis.crossover: its arguments, checked before anything is resampled."""
import numpy as np
import pytest

from alloca_bench.analysis.crossover import crossover


@pytest.mark.parametrize("tolerance", ["x", None, float("nan"), 1.5, -0.1])
def test_a_tolerance_that_is_no_fraction_is_refused_by_name(crossing_result, tolerance):
    with pytest.raises(ValueError, match=r"tolerance must be a fraction from 0 to 1 "
                                         r"\(0\.05 = 5%\), got "):
        crossover(crossing_result(), tolerance=tolerance)


def test_numpy_numbers_are_numbers(crossing_result):
    """A tolerance, confidence or resample count computed with numpy is taken as its value."""
    got = crossover(crossing_result(), tolerance=np.float32(0.05), confidence=np.float64(0.9),
                    resamples=np.int64(200))
    expected = crossover(crossing_result(), tolerance=0.05, confidence=0.9, resamples=200)
    np.testing.assert_array_equal(got.winner, expected.winner)
    assert got.tolerance == pytest.approx(0.05) and type(got.tolerance) is float


@pytest.mark.parametrize("seed, error", [("x", TypeError), (1.5, TypeError), (-1, ValueError)])
def test_a_seed_that_is_no_int_from_0_is_refused_by_name(crossing_result, seed, error):
    with pytest.raises(error, match=r"seed must be None or an int"):
        crossover(crossing_result(), seed=seed)
