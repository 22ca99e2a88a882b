"""The findings of analysis.checks in words, each with what to do.  Each warning is one string
that starts with its kind ("unstable:", "short batches:", "net within resolution:", "loaded
machine:", "cpu scaling:", "vm:", "few processes:")."""
from __future__ import annotations

from typing import Callable, Iterable

from alloca_bench.analysis.checks import KINDS, Cell, Finding, findings
from alloca_bench.present._format import format_number, size_label
from alloca_bench.results.model import ResultData

SHOWN = 4  # cells named in one warning; the others are counted
_QUIETER = ("rerun on a quieter machine, on a CPU other programs leave free (alloca-bench "
            "run --affinity N ...), or spread it over more processes")


def result_warnings(result: ResultData, ignore: Iterable[str] = ()) -> list[str]:
    """Every warning that applies to `result` (an empty list for a clean one), except the
    kinds named in `ignore` (analysis.checks.KINDS, e.g. "vm", "few processes")."""
    skipped = set(check_kinds(ignore))
    return [_words(result, f) for f in findings(result) if f.kind not in skipped]


def check_kinds(names: Iterable[str]) -> list[str]:
    """Kinds of warning by name, a hyphen standing for a space ("few-processes"); ValueError
    naming the known kinds for any other."""
    kinds = [name.strip().replace("-", " ") for name in names]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"no warning named {', '.join(map(repr, unknown))}: use "
                         f"{', '.join(k.replace(' ', '-') for k in KINDS)}")
    return kinds


def _cell(result: ResultData, index: Cell) -> str:
    s, z, i = index
    where = f"{result.strategies[s]} {size_label(result, result.sizes[z])}"
    return where if len(result.iterations) == 1 else f"{where} iterations={result.iterations[i]}"


def _listed(result: ResultData, cells: tuple[Cell, ...], detail: Callable[[Cell], str]) -> str:
    shown = "; ".join(f"{_cell(result, c)}: {detail(c)}" for c in cells[:SHOWN])
    more = f"; and {len(cells) - SHOWN} more" if len(cells) > SHOWN else ""
    return shown + more


def _words(result: ResultData, f: Finding) -> str:
    n, fig = len(f.cells), f.figures
    if f.kind == "unstable":
        stats = result.stats()

        def detail(c: Cell) -> str:
            text = f"err% {stats['err_pct'][c]:.1f}"
            if stats["bimodal"][c]:
                text += (f", two groups of samples from {format_number(stats['min'][c])} to "
                         f"{format_number(stats['max'][c])} ns")
            return text

        return (f"unstable: {n} cell(s) have err% >= {fig['err_pct']:g}% or samples in "
                f"separated groups, so their medians may not repeat "
                f"({_listed(result, f.cells, detail)}): the result may be unstable; "
                f"{_QUIETER}.")
    if f.kind == "short batches":
        steps, batch_ns = fig["clock_steps"], fig["batch_ns"]
        return (f"short batches: {n} cell(s) ran batches shorter than {steps} clock steps "
                f"({steps} x {format_number(fig['step_ns'])} ns; "
                + _listed(result, f.cells, lambda c: f"{format_number(batch_ns[c])} ns per "
                          f"batch of {int(result.batch_iterations[c])} op(s)")
                + "): their figures are mostly the clock's steps and read cost; use more ops "
                  "per batch (iterations='auto' calibrates to about 2 ms).")
    if f.kind == "net within resolution":
        bound = fig["bound"]
        return (f"net within resolution: {n} cell(s) cost no more than the baseline within "
                "what this run can resolve, shown as \"< x ns\" ("
                + _listed(result, f.cells, lambda c: f"< {format_number(bound[c], 2)} ns")
                + "): read them as 'too small to measure here', not as a cost; more ops per "
                  "batch and more rounds narrow the bound.")
    if f.kind == "few processes":
        return (f"few processes: the intervals come from {fig['processes']} process(es), too "
                f"few processes for the interval claimed: a rerun of the same command can "
                f"differ by more than they show (heap layout, code placement and the VM's "
                f"state differ per process); spread the rounds over at least {fig['wanted']} "
                f"processes (sweep(processes=...), run --processes, or processes= on the "
                f"alloca_bench_run fixture).")
    if f.kind == "loaded machine":
        if "others" in fig:
            load = f"other programs kept {fig['others']:.2f} of {fig['cpus']} CPU(s) busy during " \
                   f"the run"
        elif "load" in fig:
            load = f"load average {fig['load']:.2f} on {fig['cpus']} CPU(s)"
        else:
            load = ""
        retaken, preempted = fig.get("retaken", 0), fig.get("preempted", 0)
        batches = (f"{retaken} batch(es) were preempted and taken again, {preempted} still "
                   f"preempted after 3 tries" if retaken or preempted
                   else "no batch was preempted")
        return (f"loaded machine: {'; '.join(filter(None, (load, batches)))}: other programs "
                f"shared the CPUs while this ran; {_QUIETER}.")
    if f.kind == "cpu governor":
        return (f"cpu scaling: the CPU frequency governor is {fig['governor']!r}, so the clock "
                "speed can change during the run; set 'performance' (cpupower "
                "frequency-set -g performance, or python -m pyperf system tune).")
    if f.kind == "cpu turbo":
        return ("cpu scaling: turbo boost is on, so the clock speed depends on heat and load; "
                "turn it off for stable figures (python -m pyperf system tune).")
    if f.kind == "vm":
        return ("vm: this ran in a virtual machine, whose neighbours and hypervisor move "
                "timings between runs; compare only what ran interleaved in one result, "
                "spread rounds over more processes, and confirm a change by rerunning.")
    raise ValueError(f"no words for the finding {f.kind!r}")
