"""The numbers of a crossover (CrossoverData): strategy `a` against `b` at every size of one
iterations count, the speed-up with its interval, the winner per size and the faults of each
side.  analysis.crossover computes them and returns a Crossover (this data with its words);
present reads crossovers through this class."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from alloca_bench.results._stats import MIN_SAMPLES
from alloca_bench.results.status import Iterations

TIE = "tie"


def label_runs(labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Runs of consecutive equal, non-empty labels: (first index, last index, label)."""
    runs: list[tuple[int, int, str]] = []
    for z, label in enumerate(labels):
        if not label:
            continue
        if runs and runs[-1][2] == label and runs[-1][1] == z - 1:
            runs[-1] = (runs[-1][0], z, label)
        else:
            runs.append((z, z, label))
    return runs


def too_few_rounds(rounds: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Bool per cell: both sides measured, but in fewer than MIN_SAMPLES `rounds`, too few for
    an interval, so no verdict (`winner` "": not the same as not measured)."""
    return (rounds > 0) & (rounds < MIN_SAMPLES) & (winner == "")


@dataclass(frozen=True, eq=False)
class CrossoverData:
    """Strategy `a` against `b` at every size of one iterations count.

    speedup = b's median ns/op / a's (2.0: a takes half the time), with a `confidence`
    interval [low, high] (processes, then rounds; paired when interleaved).  winner per size: a
    or b when the interval excludes 1 and the speed-up is beyond `tolerance` (5%: smaller gaps
    are no reason to pick one), else "tie"; NaN cells (not measured, or fewer than
    results._stats.MIN_SAMPLES `rounds`: no interval) have winner "".  The
    winner's factor (`factor`: how many times faster the winner is) is what the sentences and
    the table's "faster" column both quote.  Arrays have shape (size,)."""

    a: str
    b: str
    iterations: Iterations
    sizes: np.ndarray  # bytes
    ns_a: np.ndarray  # median ns per op
    ns_b: np.ndarray
    speedup: np.ndarray
    low: np.ndarray
    high: np.ndarray
    winner: np.ndarray  # str per size: a, b, "tie" or "" (missing)
    faults_a: np.ndarray  # median page faults per op
    faults_b: np.ndarray
    rounds: np.ndarray  # int per size: rounds the interval could use (both sides measured)
    confidence: float
    tolerance: float
    paired: bool = True

    def factor(self, z: int) -> tuple[float, float, float]:
        """How many times faster the winner at size index z is, with its interval: the
        speed-up when a wins, its inverse when b wins (1/speed-up, 1/high, 1/low)."""
        x, low, high = self.speedup[z], self.low[z], self.high[z]
        if self.winner[z] == self.b:
            return 1 / x, 1 / high, 1 / low
        return x, low, high

    @property
    def crossings(self) -> list[tuple[int, int, str, str]]:
        """(last size of the old verdict, first size of the new one, old winner, new winner)
        for each place the verdict changes between consecutive measured sizes."""
        measured = [z for z in range(len(self.sizes)) if self.winner[z]]
        return [(int(self.sizes[p]), int(self.sizes[q]), str(self.winner[p]), str(self.winner[q]))
                for p, q in zip(measured, measured[1:]) if self.winner[p] != self.winner[q]]

    def too_few_rounds(self) -> np.ndarray:
        """Bool per size: both sides measured, but in too few rounds for a verdict."""
        return too_few_rounds(self.rounds, self.winner)

    def segments(self) -> list[tuple[int, int, str]]:
        """Runs of consecutive measured sizes with one verdict: (first, last index, winner)."""
        return label_runs([str(w) for w in self.winner])
