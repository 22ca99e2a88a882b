"""alloca_bench.present.verdicts: a speed verdict over sizes never contradicts its rows."""
import numpy as np
import pytest

from alloca_bench.present.verdicts import speed_classes, speed_verdict

SIZES = np.array([64, 1024, 4096, 65536, 1 << 18])
M, F, T = "much faster", "faster, 2x not certain", "no practical difference"


@pytest.mark.parametrize("classes, verdict", [
    ([M, M, M, M, M], "holds at every measured size"),
    ([M, M, F, F, F], "holds up to 1 KiB, not above"),
    ([F, T, M, M, M], "holds from 4 KiB on, not below"),
    ([M, F, F, F, M], "holds only at 64 B and at 256 KiB, not from 1 KiB to 64 KiB: not "
                      "monotone in size"),
    ([M, "", M, F, ""], "holds up to 4 KiB, not above"),  # an unmeasured size breaks nothing
    ([T, F, T, F, T], "does not hold here"),
    (["", "", "", "", ""], "not tested (no size was measured)"),
])
def test_speed_verdict(classes, verdict):
    assert speed_verdict(classes, SIZES) == verdict


def test_much_faster_needs_the_whole_interval_over_the_bar(crossing_result):
    cross = crossing_result().crossover("alloca", "malloc")  # 10x, 3x, tie, 0.5x
    assert speed_classes(cross, 2.0) == [M, M, T, "slower"]
    assert speed_classes(cross, 5.0) == [M, "faster, 5x not certain", T, "slower"]


def test_a_span_of_sizes_reads_at_or_from_to():
    from alloca_bench.present._format import format_size_span

    sizes = np.array([64, 4096, 65536])
    assert format_size_span(sizes, 1, 1) == "at 4 KiB"
    assert format_size_span(sizes, 0, 2) == "from 64 B to 64 KiB"
