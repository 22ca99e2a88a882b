"""Seeded size distributions: `size=` of measure/sweep may be one of these instead of a byte
count, and every op then takes its size from a fixed table drawn from the seed.

The table is drawn in C by the runner (csrc/patterns.c) and here, value for value, with integer
arithmetic only (splitmix64, modulo), so a seed gives the same sizes on every machine:
    uniform(low, high):    low + r mod (high - low + 1)
    loguniform(low, high): K octaves [low << k, (low << (k + 1)) - 1] (the last one ending at
                           high; K the least with low << K >= high), one chosen uniformly (r mod
                           K), then a size uniformly inside it (a second r): every octave gets the
                           same share of ops, as with a 1/size density sampled by octave.
Op i of every thread takes table[i mod TABLE_SIZE]; stack strategies take the same sequence, so
their comparison with the heap stays paired.  The stack guard checks `high`."""
from __future__ import annotations

from dataclasses import dataclass

TABLE_SIZE = 4096  # AB_SIZE_TABLE of csrc/patterns.h
KINDS = ("uniform", "loguniform")
_MASK = (1 << 64) - 1


def _splitmix64(state: int) -> tuple[int, int]:
    """(new state, value): csrc/runner_cell.c's ab_next_random()."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


@dataclass(frozen=True)
class SizeDistribution:
    """Op sizes from `low` to `high` bytes (both included), drawn from `seed`."""

    kind: str
    low: int
    high: int
    seed: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"size distribution kind must be one of {', '.join(KINDS)}, "
                             f"not {self.kind!r}")
        for name in ("low", "high", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{self.kind}(): {name} must be an int, not "
                                f"{type(value).__name__} ({value!r})")
            if value < 0:
                raise ValueError(f"{self.kind}(): {name} must be a non-negative int, "
                                 f"got {value!r}")
        if not 1 <= self.low <= self.high:
            raise ValueError(f"{self.kind}({self.low}, {self.high}): need 1 <= low <= high bytes")
        if self.seed >= 1 << 64:
            raise ValueError(f"{self.kind}(): seed must be below 2**64, got {self.seed}")

    def sequence(self, count: int = TABLE_SIZE) -> list[int]:
        """The first `count` sizes of the table (it repeats after TABLE_SIZE), in bytes."""
        state, out = self.seed, []
        octaves = 0
        while (self.low << octaves) < self.high:
            octaves += 1
        for _ in range(min(count, TABLE_SIZE)):
            if self.kind == "uniform":
                state, r = _splitmix64(state)
                out.append(self.low + r % (self.high - self.low + 1))
            elif octaves == 0:
                out.append(self.low)
            else:
                state, r = _splitmix64(state)
                k = r % octaves
                a = self.low << k
                b = self.high if k + 1 == octaves else (self.low << (k + 1)) - 1
                state, r = _splitmix64(state)
                out.append(a + r % (b - a + 1))
        return (out * (count // TABLE_SIZE + 1))[:count] if count > TABLE_SIZE else out

    def fingerprint(self) -> dict:
        """{"count", "sum", "head"}: what the runner reports of the table it drew."""
        table = self.sequence()
        return {"count": TABLE_SIZE, "sum": sum(table), "head": table[:8]}

    def mean(self) -> float:
        """Mean bytes per op over the table."""
        return sum(self.sequence()) / TABLE_SIZE

    def plan_fields(self) -> dict:
        """The runner's plan fields of this distribution (the cell's size= is `high`)."""
        return {"dist": self.kind, "low": self.low, "seed": self.seed}

    def __str__(self) -> str:
        return f"{self.kind}({self.low}, {self.high}, seed={self.seed})"


def uniform(low: int, high: int, seed: int = 1) -> SizeDistribution:
    """Sizes uniform from `low` to `high` bytes."""
    return SizeDistribution("uniform", low, high, seed)


def loguniform(low: int, high: int, seed: int = 1) -> SizeDistribution:
    """Sizes log-uniform by octave from `low` to `high` bytes (as many 16-31 B ops as 32-63 B)."""
    return SizeDistribution("loguniform", low, high, seed)

