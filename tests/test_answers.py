"""alloca_bench.analysis.crossover and present.answers: crossover() says where one strategy
stops beating another, in numbers, and str() of a Crossover in sentences taken from the result
(summary(): test_summary.py)."""
import re

import numpy as np
import pytest

from alloca_bench.present.answers import crossover_sentences, crossover_table


def test_crossover_finds_where_alloca_stops_beating_malloc(crossing_result):
    x = crossing_result().crossover("alloca", "malloc")
    assert x.speedup.shape == (4,) == x.low.shape
    assert list(x.winner) == ["alloca", "alloca", "tie", "malloc"]
    assert np.allclose(x.speedup, [10, 3, 1, 0.5], rtol=0.05)
    assert x.crossings == [(4096, 65536, "alloca", "tie"), (65536, 1 << 20, "tie", "malloc")]
    text = " ".join(crossover_sentences(x))
    assert "alloca stops beating malloc after 4 KiB" in text
    assert "malloc starts beating alloca at 1 MiB" in text
    assert "alloca" in crossover_table(x) and "speed-up" in crossover_table(x)


def test_crossover_errors_name_the_strategy_and_iterations(crossing_result, make_result, noisy):
    r = crossing_result()
    with pytest.raises(KeyError, match="'vla' is not in this result"):
        r.crossover("vla", "malloc")
    with pytest.raises(ValueError, match="two different strategies"):
        r.crossover("malloc", "malloc")
    two = make_result(noisy([2, 3, 20], shape=(3, 2, 2, 5)), iterations=(1, 100))
    with pytest.raises(KeyError, match="several iteration counts"):
        two.crossover()
    assert two.crossover(iterations=100).iterations == 100


def test_crossover_sentence_quotes_the_faster_column(make_result, noisy):
    """jemalloc 2-4x faster than glibc: the sentence and the table's "faster" column give the
    same factors, and the speed-up column (b/a ns) is their inverse."""
    ns = noisy([1, 100, 100], shape=(3, 3, 1, 15))
    ns[2] /= np.array([2, 3, 4])[:, None, None]
    r = make_result(ns, strategies=("baseline", "malloc@glibc", "malloc@jemalloc"),
                    sizes=(64, 4096, 65536))
    x = r.crossover("malloc@glibc", "malloc@jemalloc")
    assert list(x.winner) == ["malloc@jemalloc"] * 3
    assert np.allclose(x.speedup, [1 / 2, 1 / 3, 1 / 4], rtol=0.05)
    sentence = " ".join(crossover_sentences(x))
    low, high = re.search(r"malloc@jemalloc is (\S+)x\.\.(\S+)x faster", sentence).groups()
    faster = [line.split()[-3] for line in crossover_table(x).splitlines()[1:]]
    assert faster[0] == f"{low}x" and faster[-1] == f"{high}x"
    assert float(low) > 1 and float(high) > float(low)


def test_a_file_not_run_interleaved_is_not_paired_by_round(crossing_result):
    r = crossing_result()
    assert r.crossover().paired
    loose = r.__class__(**{**r.__dict__, "params": {"interleaved": False}})
    x = loose.crossover()
    assert not x.paired and list(x.winner) == ["alloca", "alloca", "tie", "malloc"]


def test_a_size_whose_interval_holds_the_tolerance_bar_is_called_borderline(make_result,
                                                                              noisy):
    """malloc 5% slower than alloca with 2% noise: its interval reaches across the 1.05 bar
    between "alloca faster" and a tie, so the sentences and the table say borderline (a rerun
    may flip it); 3x is clear of it."""
    ns = noisy([1, 10, 10], shape=(3, 2, 1, 15), spread=0.02, seed=4)
    ns[2, 0] *= 1.05
    ns[2, 1] *= 3
    r = make_result(ns, sizes=(64, 4096))
    x = r.crossover("alloca", "malloc")
    assert x.low[0] < 1.05 < x.high[0] and x.low[1] > 1.05
    assert "Borderline at 64 B: the interval reaches across the 5% bar" in \
        " ".join(crossover_sentences(x))
    rows = crossover_table(x).splitlines()[1:]
    assert "(borderline)" in rows[0] and "(borderline)" not in rows[1]


def test_two_rounds_per_cell_say_too_few_rounds_not_not_measured(make_result, noisy):
    """Cells measured twice have no interval (at least MIN_SAMPLES = 3 rounds): the sizes say
    so, with the rounds and the minimum, instead of "Not measured (sweep incomplete or
    failed)"; a size with no sample at all still says not measured."""
    ns = noisy((1.0, 1.5, 9.0), shape=(3, 3, 1, 2))
    ns[1, 2] = np.nan  # alloca at the third size: nothing measured
    x = make_result(ns, sizes=(64, 4096, 65536)).crossover("alloca", "malloc")
    assert list(x.rounds) == [2, 2, 0]
    text = " ".join(crossover_sentences(x))
    assert ("No interval at 64 B, 4 KiB: 2 rounds per cell measured there, an interval "
            "needs at least 3 (repeats=3 or more)." in text)
    assert "Not measured (sweep incomplete or failed): 64 KiB." in text
    rows = crossover_table(x).splitlines()
    assert "no interval (2 rounds)" in rows[1] and "missing" in rows[3]
