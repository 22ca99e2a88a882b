"""alloca_bench.analysis.crossover_model: the numbers of a crossover (CrossoverData), the runs
of equal labels, and the public Crossover as that data with its words."""
import numpy as np

from alloca_bench.analysis.crossover import Crossover
from alloca_bench.analysis.crossover_model import TIE, CrossoverData, label_runs


def _data(winner: list[str], speedup: list[float]) -> CrossoverData:
    n = len(winner)
    x = np.array(speedup)
    return CrossoverData(a="alloca", b="malloc", iterations="auto",
                         sizes=np.array([64 << k for k in range(n)]), ns_a=np.ones(n),
                         ns_b=x, speedup=x, low=x * 0.9, high=x * 1.1,
                         winner=np.array(winner, dtype=object), faults_a=np.zeros(n),
                         faults_b=np.zeros(n), rounds=np.full(n, 5), confidence=0.95,
                         tolerance=0.05)


def test_label_runs_joins_consecutive_equal_labels_and_skips_blanks():
    assert label_runs(["a", "a", "", "a", "b", "b"]) == [(0, 1, "a"), (3, 3, "a"), (4, 5, "b")]
    assert label_runs([]) == []


def test_factor_quotes_the_winner_and_inverts_when_b_wins():
    c = _data(["alloca", TIE, "malloc"], [4.0, 1.0, 0.5])
    assert c.factor(0) == (4.0, 3.6, 4.4)
    assert np.allclose(c.factor(2), (2.0, 1 / 0.55, 1 / 0.45))
    assert c.segments() == [(0, 0, "alloca"), (1, 1, TIE), (2, 2, "malloc")]
    assert c.crossings == [(64, 128, "alloca", TIE), (128, 256, TIE, "malloc")]


def test_a_crossover_is_its_data_with_words(crossing_result):
    """present/ reads CrossoverData; str() of the Crossover that crossover() returns words it."""
    x = crossing_result().crossover()
    assert isinstance(x, CrossoverData) and type(x) is Crossover
    assert "__str__" not in vars(CrossoverData)
    assert "alloca stops beating malloc" in str(x) and str(x) == repr(x)
