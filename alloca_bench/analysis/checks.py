"""Why the figures of a Result may be unstable or misleading (as pyperf's "the benchmark result
may be unstable" and nanobench's unstable rows do): each finding is a kind, the cells it
concerns and the figures behind it; present.warnings words them, each with what to do."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alloca_bench.results._stats import UNSTABLE_ERR_PCT
from alloca_bench.results.cell_stats import clock_step_ns, net_bound, within_resolution
from alloca_bench.results.model import ResultData

MIN_CLOCK_STEPS = 1000  # a batch shorter than this many clock steps measures mostly the clock
MIN_PROCESSES = 5  # fewer processes than this: the interval misses what differs between runs
LOADED = 0.5  # CPUs other programs kept busy during the run (per CPU) above which they shared
# the CPUs; a file without that figure: the load average per CPU
# In the order findings() reports them.
KINDS = ("unstable", "short batches", "net within resolution", "few processes",
         "loaded machine", "cpu governor", "cpu turbo", "vm")

Cell = tuple[int, int, int]  # indices into (strategy, size, iterations)


@dataclass(frozen=True)
class Finding:
    """One reason to doubt figures of a result: its kind (one of KINDS), the cells it concerns
    and the figures a warning quotes (e.g. "bound": ns per op per cell, "processes": a count)."""

    kind: str
    cells: tuple[Cell, ...] = ()
    figures: dict = field(default_factory=dict)


def findings(result: ResultData) -> list[Finding]:
    """Every finding that applies to `result` (an empty list for a clean one)."""
    stats = result.stats()
    found = [_unstable(stats), _short_batches(result, stats), _net_within_resolution(stats),
             _few_processes(stats)]
    found += [_loaded(result.machine, result.params)] + _machine(result.machine)
    return [f for f in found if f is not None]


def _where(mask: np.ndarray) -> tuple[Cell, ...]:
    return tuple(tuple(int(v) for v in c) for c in zip(*np.nonzero(mask)))


def _unstable(stats: dict) -> Finding | None:
    with np.errstate(invalid="ignore"):
        bad = (stats["err_pct"] >= UNSTABLE_ERR_PCT) | stats["bimodal"]
    cells = _where(bad)
    return Finding("unstable", cells, {"err_pct": UNSTABLE_ERR_PCT}) if cells else None


def _short_batches(result: ResultData, stats: dict) -> Finding | None:
    step = clock_step_ns(result.machine)
    if step is None:
        return None
    batch_ns = stats["median"] * result.batch_iterations
    with np.errstate(invalid="ignore"):
        cells = _where(batch_ns < MIN_CLOCK_STEPS * step)
    if not cells:
        return None
    return Finding("short batches", cells, {"step_ns": step, "batch_ns": batch_ns,
                                            "clock_steps": MIN_CLOCK_STEPS})


def _net_within_resolution(stats: dict) -> Finding | None:
    cells = _where(within_resolution(stats))
    return Finding("net within resolution", cells, {"bound": net_bound(stats)}) if cells \
        else None


def _few_processes(stats: dict) -> Finding | None:
    procs = stats["processes"][np.isfinite(stats["processes"]) & (stats["n"] > 0)]
    if not procs.size or procs.min() >= MIN_PROCESSES:
        return None
    return Finding("few processes", (), {"processes": int(procs.min()),
                                         "wanted": MIN_PROCESSES})


def _loaded(m: dict, params: dict) -> Finding | None:
    """Other programs' CPU use over the run (a file without it: the load average), and the
    batches they preempted: the runner retakes a preempted batch up to 3 times, and
    `preempted_batches` were still preempted after that."""
    cpus, others, load = m.get("cpu_count"), m.get("other_cpus_busy"), m.get("loadavg_1min")
    retaken, preempted = params.get("retaken_batches", 0), params.get("preempted_batches", 0)
    if not isinstance(cpus, int) or cpus < 1:
        return None
    if isinstance(others, (int, float)):
        busy, figures = others > LOADED * cpus, {"others": float(others)}
    elif isinstance(load, (int, float)):
        busy, figures = load > LOADED * cpus, {"load": float(load)}
    else:
        busy, figures = False, {}
    if not busy and not preempted:
        return None
    return Finding("loaded machine", (), {**figures, "cpus": cpus, "retaken": retaken,
                                          "preempted": preempted})


def _machine(m: dict) -> list[Finding]:
    found = []
    governor = m.get("cpu_governor")
    if governor and governor != "performance":
        found.append(Finding("cpu governor", (), {"governor": governor}))
    if m.get("cpu_turbo") is True:
        found.append(Finding("cpu turbo"))
    if m.get("virtualized") is True:
        found.append(Finding("vm"))
    return found
