"""Answers from one Result: where one strategy stops beating another (crossover), and a summary
in plain sentences (speed-up per size with its interval, page faults, stack headroom).

The speed-up is the ratio of the two medians the tables show (b ns/op / a ns/op).  When both
ran interleaved in the same rounds its interval resamples those rounds together (paired, so
drift cancels), processes first and then rounds within them; a result whose strategies did not
run interleaved (a pytest-benchmark file) resamples each side on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from alloca_bench.analysis._stats import (
    bootstrap_medians,
    check_confidence,
    check_resamples,
    interval,
    median_of,
)
from alloca_bench.present._format import format_interval as _interval
from alloca_bench.present._format import format_number as _num
from alloca_bench.present._format import (format_rows, format_size, format_size_approx,
                                          format_size_span)
from alloca_bench.results.model import Iterations, Result
from alloca_bench.results.status import by_status, cells
from alloca_bench.strategies import heap_strategies, is_stack

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


@dataclass(frozen=True, eq=False)
class Crossover:
    """Strategy `a` against `b` at every size of one iterations count.

    speedup = b's median ns/op / a's (2.0: a takes half the time), with a `confidence`
    interval [low, high] (processes, then rounds; paired when interleaved).  winner per size: a
    or b when the interval excludes 1 and the speed-up is beyond `tolerance` (5%: smaller gaps
    are no reason to pick one), else "tie"; NaN cells (not measured) have winner "".  The
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

    def segments(self) -> list[tuple[int, int, str]]:
        """Runs of consecutive measured sizes with one verdict: (first, last index, winner)."""
        return label_runs([str(w) for w in self.winner])

    def sentences(self) -> list[str]:
        """The verdict per run of sizes, in words a design review can quote."""
        out = []
        for first, last, w in self.segments():
            span = format_size_span(self.sizes, first, last)
            span = span[0].upper() + span[1:]  # it opens a sentence
            if w == TIE:
                out.append(f"{span}, {self.a} and {self.b} are within {self.tolerance:.0%} or "
                           f"within noise of each other ({self.b}/{self.a} = "
                           f"{self._spread(first, last)}).")
            elif w == self.a:
                out.append(f"{span}, {self.a} is {self._spread(first, last)} faster than "
                           f"{self.b}.")
            else:
                out.append(f"{span}, {self.b} is {self._spread(first, last, invert=True)} "
                           f"faster than {self.a}.")
        missing = [format_size(int(s)) for s, w in zip(self.sizes, self.winner) if not w]
        if missing:
            out.append(f"Not measured (sweep incomplete or failed): {', '.join(missing)}.")
        segments = self.segments()
        for (p0, p1, old), (q0, _, new) in zip(segments, segments[1:]):
            if old == new:  # the same verdict on both sides of an unmeasured size
                continue
            last, first = int(self.sizes[p1]), int(self.sizes[q0])
            if old == TIE:
                tied = format_size_span(self.sizes, p0, p1)
                out.append(f"{new} starts beating {self._other(new)} at {format_size(first)} "
                           f"({tied}: no practical difference).")
            else:
                then = f"{new} is faster" if new != TIE else "the two are within noise"
                out.append(f"{old} stops beating {self._other(old)} after {format_size(last)}: "
                           f"from {format_size(first)} on {then}.")
        return out

    def _spread(self, first: int, last: int, invert: bool = False) -> str:
        """The winner's factor over sizes first..last (the table's "faster" column): one value
        with its interval, or the range; for a tie, the speed-up itself."""
        if invert or self.winner[first] != TIE:
            got = [self.factor(z) for z in range(first, last + 1)]
        else:
            got = [(self.speedup[z], self.low[z], self.high[z]) for z in range(first, last + 1)]
        if first == last:
            return _interval(*got[0])
        x = [g[0] for g in got]
        return f"{_num(float(np.nanmin(x)), 3)}x..{_num(float(np.nanmax(x)), 3)}x"

    def _other(self, name: str) -> str:
        return self.b if name == self.a else self.a

    def faults_sentence(self) -> str:
        """Page faults per op of each side, at the sizes where they were largest."""
        parts = []
        for name, faults in ((self.a, self.faults_a), (self.b, self.faults_b)):
            if not np.isfinite(faults).any():
                parts.append(f"{name} was not measured")
                continue
            z = int(np.nanargmax(faults))
            if faults[z] == 0:
                parts.append(f"{name} 0 at every size")
            else:
                parts.append(f"{name} up to {_num(faults[z], 3)} "
                             f"(at {format_size(int(self.sizes[z]))})")
        return "Page faults per op (median over rounds, warm): " + "; ".join(parts) + "."

    def table(self) -> str:
        """A row per size: both medians, the speed-up (b/a) with its interval, the winner and
        by how much (the numbers the sentences quote), faults."""
        headers = ["size", f"{self.a} ns/op", f"{self.b} ns/op",
                   f"speed-up {self.b}/{self.a} [{self.confidence:.0%}]", "faster",
                   f"{self.a} faults/op", f"{self.b} faults/op"]
        rows = []
        for z, size in enumerate(self.sizes):
            w = str(self.winner[z])
            faster = {"": "missing", TIE: TIE}.get(w) or f"{w} {_num(self.factor(z)[0], 3)}x"
            rows.append([format_size(int(size)), _num(self.ns_a[z]), _num(self.ns_b[z]),
                         _interval(self.speedup[z], self.low[z], self.high[z]), faster,
                         _num(self.faults_a[z], 3), _num(self.faults_b[z], 3)])
        return format_rows(headers, rows, left=1)

    def __str__(self) -> str:
        return " ".join(self.sentences()) + "\n\n" + self.table()

    __repr__ = __str__


def crossover(result: Result, a: str = "alloca", b: str = "malloc",
              iterations: Iterations | None = None, confidence: float = 0.95,
              tolerance: float = 0.05, resamples: int = 2000, seed: int | None = 0) -> Crossover:
    """Where `a` stops beating `b` in `result` (see Crossover).  `iterations` may be omitted
    when the result has one iterations count."""
    confidence = check_confidence(confidence)
    resamples = check_resamples(resamples)
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a fraction from 0 to 1 (0.05 = 5%), got {tolerance}")
    if a == b:
        raise ValueError(f"crossover needs two different strategies, got {a!r} twice")
    sa, sb = (result._strategy_index(name) for name in (a, b))
    i = result._iteration_index(iterations)
    rng = np.random.default_rng(seed)
    # A file whose strategies ran one after another (pytest-benchmark) has no shared rounds.
    paired = result.interleaved
    n = len(result.sizes)
    speedup, low, high = (np.full(n, np.nan) for _ in range(3))
    winner = np.full(n, "", dtype=object)
    for z in range(n):
        xa, xb = result.ns_per_op[sa, z, i], result.ns_per_op[sb, z, i]
        pa, pb = result.process[sa, z, i], result.process[sb, z, i]
        with np.errstate(invalid="ignore", divide="ignore"):
            speedup[z] = median_of(xb) / median_of(xa)
        if not np.isfinite(speedup[z]) or speedup[z] <= 0:
            speedup[z] = np.nan
            continue
        boot = bootstrap_medians([xa, xb], [pa] if paired else [pa, pb], paired=paired,
                                 resamples=resamples, rng=rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            lo, hi = interval(boot[1] / boot[0], confidence)
        low[z], high[z] = float(lo), float(hi)
        if not np.isfinite(low[z]):
            speedup[z] = np.nan
        elif low[z] > 1 and speedup[z] > 1 + tolerance:
            winner[z] = a
        elif high[z] < 1 and speedup[z] < 1 / (1 + tolerance):
            winner[z] = b
        else:
            winner[z] = TIE
    med = result.median()
    faults = result.median("faults_per_op")
    return Crossover(a=a, b=b, iterations=result.iterations[i], sizes=result.sizes.copy(),
                     ns_a=med[sa, :, i], ns_b=med[sb, :, i], speedup=speedup, low=low,
                     high=high, winner=winner, faults_a=faults[sa, :, i],
                     faults_b=faults[sb, :, i], confidence=confidence, tolerance=tolerance,
                     paired=paired)


@dataclass(frozen=True, eq=False)
class Summary:
    """Plain sentences answering "stack or heap for N bytes here, and where does the stack stop
    being safe?", and the crossovers they were drawn from ({(stack, heap, iterations): ...})."""

    lines: tuple[str, ...]
    crossovers: dict

    def __str__(self) -> str:
        return "\n".join(self.lines)

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines)


def summary(result: Result, size: int | None = None, stack: str | None = None) -> Summary:
    """Summarize `result`: the stack strategy `stack` (default: alloca, else the first stack
    strategy measured) against each heap strategy, per iterations count; with `size`, first the
    answer for that many bytes (the nearest measured size when it was not measured)."""
    stacks = [s for s in result.strategies if is_stack(s)]
    heaps = heap_strategies(result.strategies)
    if stack is None:
        stack = "alloca" if "alloca" in stacks else (stacks[0] if stacks else None)
    elif stack not in stacks:
        raise ValueError(f"stack={stack!r} is not a stack strategy of this result: {stacks}")
    if stack is None or not heaps:
        raise ValueError(f"a summary needs a stack and a heap strategy; this result has "
                         f"{list(result.strategies)}")
    m = result.machine
    lines = [_context(result)]
    pairs = {}
    for it in result.iterations:
        for heap in heaps:
            pairs[(stack, heap, it)] = crossover(result, stack, heap, iterations=it)
    if size is not None:
        lines += _for_size(result, pairs, size)
    for (a, b, it), cross in pairs.items():
        where = f" (iterations={it})" if len(result.iterations) > 1 else ""
        lines.append(f"{a} vs {b}{where}: " + " ".join(cross.sentences()))
        lines.append("  " + cross.faults_sentence())
    lines.append(_headroom_sentence(m, result.params.get("stack_size") or 0))
    if result.warnings:
        kinds = ", ".join(dict.fromkeys(w.split(":", 1)[0] for w in result.warnings))
        lines.append(f"Caveats: {kinds} (result.warnings says why and what to do).")
    if not result.complete:
        lines.append("This result is incomplete (" + _status_note(result)
                     + "); missing cells are left out above.")
    return Summary(lines=tuple(lines), crossovers=pairs)


def _status_note(result: Result) -> str:
    """The cells that are not ok, counted per status, with the first reason of each."""
    keys = cells(result.strategies, result.sizes, result.iterations)
    words = []
    for word, found in by_status(result.status, result.reasons, keys).items():
        (s, z, _), why = found[0]
        words.append(f"{len(found)} {word.replace('_', ' ')}, e.g. {s} at {format_size(z)}: "
                     f"{why}")
    return "; ".join(words)


def _context(result: Result) -> str:
    m = result.machine
    its = ", ".join(str(i) for i in result.iterations)
    return (f"Measured on {m.get('cpu_model') or 'an unknown CPU'} ({m.get('cpu_count', '?')} "
            f"CPUs), kernel {m.get('kernel_release') or '?'}, {m.get('libc_name') or 'libc'} "
            f"{m.get('libc_version') or '?'}"
            + (f", LD_PRELOAD={m['ld_preload']}" if m.get("ld_preload") else "")
            + f"; touch={result.touch}, {result.repeats} rounds per cell, iterations {its}.")


def _for_size(result: Result, pairs: dict, size: int) -> list[str]:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int (bytes), got {size!r}")
    z = int(np.argmin(np.abs(np.log(result.sizes / size))))
    measured = int(result.sizes[z])
    note = "" if measured == size else (f" (not measured; nearest measured size "
                                        f"{format_size(measured)})")
    lines = []
    safe = largest_safe(result.machine)
    if safe is not None and size > safe:
        lines.append(f"For {format_size(size)}{note}: too big for the stack here, whose largest "
                     f"safe allocation is {format_size_approx(safe)}; use the heap.")
        return lines
    for (a, b, it), cross in pairs.items():
        where = f" with {it} ops per batch" if len(result.iterations) > 1 else ""
        w = cross.winner[z]
        ratio = _interval(cross.speedup[z], cross.low[z], cross.high[z])
        if not w:
            verdict = "not measured"
        elif w == TIE:
            verdict = f"no practical difference ({b}/{a} = {ratio})"
        elif w == a:
            verdict = f"{a} is faster: {ratio}"
        else:
            verdict = f"{b} is faster: {_interval(*cross.factor(z))}"
        lines.append(f"For {format_size(size)}{note}{where}: {a} {_num(cross.ns_a[z])} ns/op, "
                     f"{b} {_num(cross.ns_b[z])} ns/op: {verdict}."
                     + (f" That is {size / safe:.2%} of the largest safe stack allocation "
                        f"({format_size_approx(safe)})." if safe else ""))
    return lines


def largest_safe(machine: dict) -> int | None:
    """About the largest one alloca/VLA the stack guard lets through, in bytes: the recorded
    headroom minus the margin kept free (the guard also counts the compiler's rounding, a few
    bytes, and quotes a size 16 KiB lower still); None when the machine did not record them."""
    headroom, margin = machine.get("stack_headroom"), machine.get("stack_margin")
    if not isinstance(headroom, int) or not isinstance(margin, int):
        return None
    return max(headroom - margin, 0)


def _headroom_sentence(machine: dict, stack_size: int) -> str:
    safe = largest_safe(machine)
    if safe is None:
        return "Stack headroom: not recorded in this result."
    where = (f"a worker thread with stack_size={format_size(stack_size)}" if stack_size
             else "the measuring thread")
    rlimit = machine.get("rlimit_stack_soft")
    limit = f"RLIMIT_STACK {format_size(rlimit)}" if isinstance(rlimit, int) else \
        "RLIMIT_STACK unlimited"
    headroom = format_size_approx(machine["stack_headroom"])
    margin = format_size_approx(machine["stack_margin"])
    return (f"Where the stack stops being safe: {where} had {headroom} "
            f"of stack left ({limit}); alloca_bench keeps {margin} "
            f"free, so one alloca/VLA above {format_size_approx(safe)} ({safe} bytes) raises "
            f"StackLimitError instead of running. Your code's limit is the headroom left at the "
            f"deepest call that allocates, on the thread that runs it.")
