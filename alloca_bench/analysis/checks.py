"""Why the figures of a Result may be unstable or misleading, in words, each with what to do
(as pyperf's "the benchmark result may be unstable" and nanobench's unstable rows do).

Each warning is one string that starts with its kind ("unstable:", "short batches:", "net
within resolution:", "loaded machine:", "cpu scaling:", "vm:", "few processes:")."""
from __future__ import annotations

import numpy as np

from alloca_bench.analysis._stats import UNSTABLE_ERR_PCT
from alloca_bench.analysis.cells import clock_step_ns, net_bound, within_resolution
from alloca_bench.present._format import format_number, size_label
from alloca_bench.results.model import Result

MIN_CLOCK_STEPS = 1000  # a batch shorter than this many clock steps measures mostly the clock
MIN_PROCESSES = 5  # fewer processes than this: the interval misses what differs between runs
LOADED = 0.5  # CPUs other programs kept busy during the run (per CPU) above which they shared
# the CPUs; a file without that figure: the load average per CPU
SHOWN = 4  # cells named in one warning; the others are counted
_QUIETER = ("rerun on a quieter machine, on a CPU other programs leave free (taskset -c N "
            "alloca-bench run ...), or spread it over more processes")


def result_warnings(result: Result) -> list[str]:
    """Every warning that applies to `result` (an empty list for a clean one)."""
    stats = result.stats()
    found = [_unstable(result, stats), _short_batches(result, stats),
             _net_within_resolution(result, stats), _few_processes(stats)]
    found += [_loaded(result.machine, result.params)] + _machine(result.machine)
    return [w for w in found if w]


def _cell(result: Result, index: tuple[int, int, int]) -> str:
    s, z, i = index
    where = f"{result.strategies[s]} {size_label(result, result.sizes[z])}"
    return where if len(result.iterations) == 1 else f"{where} iterations={result.iterations[i]}"


def _listed(result: Result, cells: list[tuple[int, int, int]], detail) -> str:
    shown = "; ".join(f"{_cell(result, c)}: {detail(c)}" for c in cells[:SHOWN])
    more = f"; and {len(cells) - SHOWN} more" if len(cells) > SHOWN else ""
    return shown + more


def _unstable(result: Result, stats: dict) -> str:
    with np.errstate(invalid="ignore"):
        bad = (stats["err_pct"] >= UNSTABLE_ERR_PCT) | stats["bimodal"]
    cells = [tuple(int(v) for v in c) for c in zip(*np.nonzero(bad))]
    if not cells:
        return ""

    def detail(c: tuple[int, int, int]) -> str:
        text = f"err% {stats['err_pct'][c]:.1f}"
        if stats["bimodal"][c]:
            text += (f", two groups of samples from {format_number(stats['min'][c])} to "
                     f"{format_number(stats['max'][c])} ns")
        return text

    return (f"unstable: {len(cells)} cell(s) have err% >= {UNSTABLE_ERR_PCT:g}% or samples in "
            f"separated groups, so their medians may not repeat ({_listed(result, cells, detail)})"
            f": the result may be unstable; {_QUIETER}.")


def _short_batches(result: Result, stats: dict) -> str:
    step = clock_step_ns(result.machine)
    if step is None:
        return ""
    batch_ns = stats["median"] * result.batch_iterations
    with np.errstate(invalid="ignore"):
        short = batch_ns < MIN_CLOCK_STEPS * step
    cells = [tuple(int(v) for v in c) for c in zip(*np.nonzero(short))]
    if not cells:
        return ""
    return (f"short batches: {len(cells)} cell(s) ran batches shorter than {MIN_CLOCK_STEPS} "
            f"clock steps ({MIN_CLOCK_STEPS} x {format_number(step)} ns; "
            + _listed(result, cells, lambda c: f"{format_number(batch_ns[c])} ns per batch of "
                      f"{int(result.batch_iterations[c])} op(s)")
            + "): their figures are mostly the clock's steps and read cost; use more ops per "
              "batch (iterations='auto' calibrates to about 2 ms).")


def _net_within_resolution(result: Result, stats: dict) -> str:
    inside = within_resolution(stats)
    cells = [tuple(int(v) for v in c) for c in zip(*np.nonzero(inside))]
    if not cells:
        return ""
    bound = net_bound(stats)
    return (f"net within resolution: {len(cells)} cell(s) cost no more than the baseline "
            "within what this run can resolve, shown as \"< x ns\" ("
            + _listed(result, cells, lambda c: f"< {format_number(bound[c], 2)} ns")
            + "): read them as 'too small to measure here', not as a cost; more ops per batch "
              "and more rounds narrow the bound.")


def _few_processes(stats: dict) -> str:
    procs = stats["processes"][np.isfinite(stats["processes"]) & (stats["n"] > 0)]
    if not procs.size or procs.min() >= MIN_PROCESSES:
        return ""
    n = int(procs.min())
    return (f"few processes: the intervals come from {n} process(es), too few processes for "
            f"the interval claimed: a rerun of the same command can differ by more than they "
            f"show (heap layout, code placement and the VM's state differ per process); spread "
            f"the rounds over at least {MIN_PROCESSES} processes (sweep(processes=...)).")


def _loaded(m: dict, params: dict) -> str:
    """Other programs' CPU use over the run and the batches they preempted (the runner retakes
    a preempted batch up to 3 times; `preempted_batches` were still preempted after that)."""
    cpus, others, load = m.get("cpu_count"), m.get("other_cpus_busy"), m.get("loadavg_1min")
    retaken, preempted = params.get("retaken_batches", 0), params.get("preempted_batches", 0)
    if not isinstance(cpus, int) or cpus < 1:
        return ""
    if isinstance(others, (int, float)):
        busy, what = others > LOADED * cpus, (f"other programs kept {others:.2f} of {cpus} "
                                              f"CPU(s) busy during the run")
    elif isinstance(load, (int, float)):
        busy, what = load > LOADED * cpus, f"load average {load:.2f} on {cpus} CPU(s)"
    else:
        busy, what = False, ""
    if not busy and not preempted:
        return ""
    batches = (f"{retaken} batch(es) were preempted and taken again, {preempted} still "
               f"preempted after 3 tries" if retaken or preempted else "no batch was preempted")
    return (f"loaded machine: {'; '.join(filter(None, (what, batches)))}: other programs "
            f"shared the CPUs while this ran; {_QUIETER}.")


def _machine(m: dict) -> list[str]:
    found = []
    governor = m.get("cpu_governor")
    if governor and governor != "performance":
        found.append(f"cpu scaling: the CPU frequency governor is {governor!r}, so the clock "
                     "speed can change during the run; set 'performance' (cpupower "
                     "frequency-set -g performance, or python -m pyperf system tune).")
    if m.get("cpu_turbo") is True:
        found.append("cpu scaling: turbo boost is on, so the clock speed depends on heat and "
                     "load; turn it off for stable figures (python -m pyperf system tune).")
    if m.get("virtualized") is True:
        found.append("vm: this ran in a virtual machine, whose neighbours and hypervisor move "
                     "timings between runs; compare only what ran interleaved in one result, "
                     "spread rounds over more processes, and confirm a change by rerunning.")
    return found
