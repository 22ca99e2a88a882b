"""alloca_bench.present.verdicts: a speed verdict over sizes never contradicts its rows."""
import numpy as np
import pytest

from alloca_bench.present.verdicts import speed_classes, speed_verdict

SIZES = np.array([64, 1024, 4096, 65536, 1 << 18])
M, F, T = "much faster", "faster, under 2x", "no practical difference"
B = "borderline: 2x inside the interval"


@pytest.mark.parametrize("classes, verdict", [
    ([M, M, M, M, M], "holds at every measured size"),
    ([M, M, F, F, F], "holds up to 1 KiB, not above"),
    ([F, T, M, M, M], "holds from 4 KiB on, not below"),
    ([M, F, F, F, M], "holds only at 64 B and at 256 KiB, not from 1 KiB to 64 KiB: not "
                      "monotone in size"),
    ([M, "", M, F, ""], "holds up to 4 KiB, not above"),  # an unmeasured size breaks nothing
    ([T, F, T, F, T], "does not hold here"),
    (["", "", "", "", ""], "not tested (no size was measured)"),
    # A size whose interval holds the bar is borderline: it neither flips nor breaks the verdict.
    ([M, M, B, M, M], "holds at every other measured size; borderline at 4 KiB (the bar lies "
                      "inside the interval)"),
    ([M, B, M, F, F], "holds up to 4 KiB, not above; borderline at 1 KiB (the bar lies inside "
                      "the interval)"),
    ([B, B, "", B, B], "borderline at every measured size (the bar lies inside each interval)"),
])
def test_speed_verdict(classes, verdict):
    assert speed_verdict(classes, SIZES) == verdict


def test_much_faster_needs_the_whole_interval_over_the_bar(crossing_result):
    cross = crossing_result().crossover("alloca", "malloc")  # 10x, 3x, tie, 0.5x
    assert speed_classes(cross, 2.0) == [M, M, T, "slower"]
    assert speed_classes(cross, 5.0) == [M, "faster, under 5x", T, "slower"]


def test_a_span_of_sizes_reads_at_or_from_to():
    from alloca_bench.present._format import format_size_span

    sizes = np.array([64, 4096, 65536])
    assert format_size_span(sizes, 1, 1) == "at 4 KiB"
    assert format_size_span(sizes, 0, 2) == "from 64 B to 64 KiB"


def test_an_interval_under_the_bar_says_under_and_one_across_it_says_borderline(
        crossing_result):
    """1.86x [1.84, 1.9] rules 2x out: "faster, under 2x", never "2x not certain"; 3x whose
    interval reaches under 3.05 is borderline for a 3.05x bar."""
    cross = crossing_result().crossover("alloca", "malloc")
    assert cross.high[1] < 3.5 and cross.low[1] > 2.5  # 3x at 4 KiB
    assert speed_classes(cross, 3.5)[1] == "faster, under 3.5x"
    bar = float(cross.low[1] + cross.high[1]) / 2
    assert speed_classes(cross, bar)[1] == f"borderline: {bar:g}x inside the interval"
