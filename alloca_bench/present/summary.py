"""A summary of one Result in plain sentences (what Result.summary() returns): the stack against
each heap strategy per size with its interval, page faults, stack headroom and the cells that
are not ok, drawn from the crossovers (analysis.crossover) worded by present.answers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloca_bench.analysis.crossover import crossover, largest_safe
from alloca_bench.analysis.crossover_model import TIE
from alloca_bench.present._format import (format_interval, format_number, format_size,
                                          format_size_approx)
from alloca_bench.present.answers import crossover_sentences, faults_sentence, rounds_text
from alloca_bench.present.warnings import result_warnings
from alloca_bench.results._stats import MIN_SAMPLES
from alloca_bench.results.model import ResultData
from alloca_bench.results.status import by_status, cells
from alloca_bench.strategies import heap_strategies, is_stack


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


def summary(result: ResultData, size: int | None = None, stack: str | None = None) -> Summary:
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
    warned = result_warnings(result)
    if warned:
        kinds = ", ".join(dict.fromkeys(w.split(":", 1)[0] for w in warned))
        lines.append(f"Caveats: {kinds} (result.warnings says why and what to do).")
    if not result.complete:
        lines.append("This result is incomplete (" + _status_note(result)
                     + "); missing cells are left out above.")
    return Summary(lines=tuple(lines), crossovers=pairs)


def _status_note(result: ResultData) -> str:
    """The cells that are not ok, counted per status, with the first reason of each."""
    keys = cells(result.strategies, result.sizes, result.iterations)
    words = []
    for word, found in by_status(result.status, result.reasons, keys).items():
        (s, z, _), why = found[0]
        words.append(f"{len(found)} {word.replace('_', ' ')}, e.g. {s} at {format_size(z)}: "
                     f"{why}")
    return "; ".join(words)


def _context(result: ResultData) -> str:
    m = result.machine
    its = ", ".join(str(i) for i in result.iterations)
    return (f"Measured on {m.get('cpu_model') or 'an unknown CPU'} ({m.get('cpu_count', '?')} "
            f"CPUs), kernel {m.get('kernel_release') or '?'}, {m.get('libc_name') or 'libc'} "
            f"{m.get('libc_version') or '?'}"
            + (f", LD_PRELOAD={m['ld_preload']}" if m.get("ld_preload") else "")
            + f"; touch={result.touch}, {result.repeats} rounds per cell, iterations {its}.")


def _for_size(result: ResultData, pairs: dict, size: int) -> list[str]:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int (bytes), not {type(size).__name__} ({size!r})")
    if size < 1:
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
        if cross.too_few_rounds()[z]:
            verdict = (f"no interval ({rounds_text(int(cross.rounds[z]))} per cell measured, an "
                       f"interval needs at least {MIN_SAMPLES})")
        elif not w:
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
