"""Answers from one Result in words: where one strategy stops beating another (the sentences
and table of a Crossover), and a summary in plain sentences (speed-up per size with its
interval, page faults, stack headroom, the cells that are not ok)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloca_bench.analysis.crossover import TIE, Crossover, crossover, label_runs, largest_safe
from alloca_bench.present._format import (format_interval, format_number, format_rows,
                                          format_size, format_size_approx, format_size_span)
from alloca_bench.results.model import Result
from alloca_bench.results.status import by_status, cells
from alloca_bench.strategies import heap_strategies, is_stack


def crossover_sentences(cross: Crossover) -> list[str]:
    """The verdict per run of sizes, in words a design review can quote."""
    out = []
    for first, last, w in cross.segments():
        span = format_size_span(cross.sizes, first, last)
        span = span[0].upper() + span[1:]  # it opens a sentence
        if w == TIE:
            out.append(f"{span}, {cross.a} and {cross.b} are within {cross.tolerance:.0%} or "
                       f"within noise of each other ({cross.b}/{cross.a} = "
                       f"{_spread(cross, first, last)}).")
        elif w == cross.a:
            out.append(f"{span}, {cross.a} is {_spread(cross, first, last)} faster than "
                       f"{cross.b}.")
        else:
            out.append(f"{span}, {cross.b} is {_spread(cross, first, last, invert=True)} "
                       f"faster than {cross.a}.")
    edge = borderline(cross)
    if edge.any():
        spans = [format_size_span(cross.sizes, a, b) for a, b, _ in
                 label_runs(["x" if e else "" for e in edge])]
        out.append(f"Borderline {' and '.join(spans)}: the interval reaches across the "
                   f"{cross.tolerance:.0%} bar, so a rerun may call it the other way.")
    missing = [format_size(int(s)) for s, w in zip(cross.sizes, cross.winner) if not w]
    if missing:
        out.append(f"Not measured (sweep incomplete or failed): {', '.join(missing)}.")
    segments = cross.segments()
    for (p0, p1, old), (q0, _, new) in zip(segments, segments[1:]):
        if old == new:  # the same verdict on both sides of an unmeasured size
            continue
        last, first = int(cross.sizes[p1]), int(cross.sizes[q0])
        if old == TIE:
            tied = format_size_span(cross.sizes, p0, p1)
            out.append(f"{new} starts beating {_other(cross, new)} at {format_size(first)} "
                       f"({tied}: no practical difference).")
        else:
            then = f"{new} is faster" if new != TIE else "the two are within noise"
            out.append(f"{old} stops beating {_other(cross, old)} after {format_size(last)}: "
                       f"from {format_size(first)} on {then}.")
    return out


def borderline(cross: Crossover) -> np.ndarray:
    """Per size, whether its interval holds the bar between a verdict and a tie (1 +
    tolerance either way), so that a rerun may give the other verdict: bool, shape (size,)."""
    bars = (1 + cross.tolerance, 1 / (1 + cross.tolerance))
    with np.errstate(invalid="ignore"):
        return np.array([cross.winner[z] != "" and any(cross.low[z] < bar < cross.high[z]
                                                       for bar in bars)
                         for z in range(len(cross.sizes))], dtype=bool)


def _spread(cross: Crossover, first: int, last: int, invert: bool = False) -> str:
    """The winner's factor over sizes first..last (the table's "faster" column): one value
    with its interval, or the range; for a tie, the speed-up itcross."""
    if invert or cross.winner[first] != TIE:
        got = [cross.factor(z) for z in range(first, last + 1)]
    else:
        got = [(cross.speedup[z], cross.low[z], cross.high[z]) for z in range(first, last + 1)]
    if first == last:
        return format_interval(*got[0])
    x = [g[0] for g in got]
    return f"{format_number(float(np.nanmin(x)), 3)}x..{format_number(float(np.nanmax(x)), 3)}x"


def _other(cross: Crossover, name: str) -> str:
    return cross.b if name == cross.a else cross.a


def faults_sentence(cross: Crossover) -> str:
    """Page faults per op of each side, at the sizes where they were largest."""
    parts = []
    for name, faults in ((cross.a, cross.faults_a), (cross.b, cross.faults_b)):
        if not np.isfinite(faults).any():
            parts.append(f"{name} was not measured")
            continue
        z = int(np.nanargmax(faults))
        if faults[z] == 0:
            parts.append(f"{name} 0 at every size")
        else:
            parts.append(f"{name} up to {format_number(faults[z], 3)} "
                         f"(at {format_size(int(cross.sizes[z]))})")
    return "Page faults per op (median over rounds, warm): " + "; ".join(parts) + "."


def crossover_table(cross: Crossover) -> str:
    """A row per size: both medians, the speed-up (b/a) with its interval, the winner and
    by how much (the numbers the sentences quote; "(borderline)" where the interval holds the
    tolerance's bar), faults."""
    headers = ["size", f"{cross.a} ns/op", f"{cross.b} ns/op",
               f"speed-up {cross.b}/{cross.a} [{cross.confidence:.0%}]", "faster",
               f"{cross.a} faults/op", f"{cross.b} faults/op"]
    rows, edge = [], borderline(cross)
    for z, size in enumerate(cross.sizes):
        w = str(cross.winner[z])
        faster = {"": "missing", TIE: TIE}.get(w) or f"{w} {format_number(cross.factor(z)[0], 3)}x"
        faster += " (borderline)" if edge[z] else ""
        rows.append([format_size(int(size)), format_number(cross.ns_a[z]),
                     format_number(cross.ns_b[z]),
                     format_interval(cross.speedup[z], cross.low[z], cross.high[z]), faster,
                     format_number(cross.faults_a[z], 3), format_number(cross.faults_b[z], 3)])
    return format_rows(headers, rows, left=1)


def crossover_text(cross: Crossover) -> str:
    """The sentences, then the table."""
    return " ".join(crossover_sentences(cross)) + "\n\n" + crossover_table(cross)


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
        lines.append(f"{a} vs {b}{where}: " + " ".join(crossover_sentences(cross)))
        lines.append("  " + faults_sentence(cross))
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
        ratio = format_interval(cross.speedup[z], cross.low[z], cross.high[z])
        if not w:
            verdict = "not measured"
        elif w == TIE:
            verdict = f"no practical difference ({b}/{a} = {ratio})"
        elif w == a:
            verdict = f"{a} is faster: {ratio}"
        else:
            verdict = f"{b} is faster: {format_interval(*cross.factor(z))}"
        lines.append(f"For {format_size(size)}{note}{where}: {a} "
                     f"{format_number(cross.ns_a[z])} ns/op, "
                     f"{b} {format_number(cross.ns_b[z])} ns/op: {verdict}."
                     + (f" That is {size / safe:.2%} of the largest safe stack allocation "
                        f"({format_size_approx(safe)})." if safe else ""))
    return lines


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
