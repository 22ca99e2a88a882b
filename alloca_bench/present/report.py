"""`alloca-bench report`: test four claims people make about alloca against numbers measured on
this machine, and write them up as one self-contained Markdown or HTML file.

The claims: alloca is much faster than malloc; stack memory does not page-fault; alloca memory
is released automatically; the stack is small.  The evidence is a sweep (run now, or loaded),
first calls in fresh child processes (cold pages), the stack's size before and after many
allocas in a child process (read from /proc/self), and the stack guard refusing a size past the
headroom.  Every verdict is computed from those numbers; nothing below is a fixed conclusion.
"""
from __future__ import annotations

import io
import math
from typing import Optional

import numpy as np

from alloca_bench.analysis.crossover import crossover, largest_safe
from alloca_bench.analysis.crossover_model import label_runs
from alloca_bench.present.verdicts import speed_classes, speed_verdict
from alloca_bench.machine import differences
from alloca_bench.present._format import (format_interval, format_number, format_size,
                                          format_size_approx, format_size_arg,
                                          format_size_span, measured_rounds, status_counts)
from alloca_bench.present.document import Document
from alloca_bench.present.plot import plot_result
from alloca_bench.present.report_threads import threads_section
from alloca_bench.present.warnings import result_warnings
from alloca_bench.results.evidence import Evidence
from alloca_bench.results.model import ResultData

MUCH_FASTER = 2.0  # "much faster" means at least this speed-up, interval included
SMALL_FRACTION = 100  # "the stack is small": one alloca can take under 1/100 of RAM

# --- the claims ------------------------------------------------------------------------------

def _warm_iterations(result: ResultData) -> int:
    """The iterations index with the most ops per batch: the warm figure."""
    ops = [it if isinstance(it, int) else math.inf for it in result.iterations]
    return int(np.argmax(ops))


def _claim_speed(doc: Document, result: ResultData) -> str:
    doc.h(2, '1. "alloca is much faster than malloc"')
    missing = [s for s in ("alloca", "malloc") if s not in result.strategies]
    if missing:
        doc.p(f"**Verdict: not tested** — the sweep has no {' and no '.join(missing)}.")
        return "not tested (no " + " or ".join(missing) + " in the sweep)"
    it = result.iterations[_warm_iterations(result)]
    cross = crossover(result, "alloca", "malloc", iterations=it)
    others = [s for s in ("calloc", "mmap") if s in result.strategies]
    extra = {s: crossover(result, "alloca", s, iterations=it) for s in others}
    i = result.iterations.index(it)
    fixed = result.median()[result.strategies.index("fixed"), :, i] \
        if "fixed" in result.strategies else None
    classes = speed_classes(cross, MUCH_FASTER)
    runs = label_runs(classes)
    verdict = speed_verdict(classes, result.sizes)
    sentences = []
    for first, last, cls in runs:
        span = format_size_span(result.sizes, first, last)
        sentences.append(f"{span}: {cls} ({_range_text(cross, first, last)})")
    batches = ("batches calibrated to about 2 ms" if it == "auto" else f"{it} ops per batch")
    doc.p(f"**Verdict: {verdict}.** alloca against malloc ({batches}); speed-up = malloc's "
          f"median ns/op / alloca's over {measured_rounds(result)}; \"much faster\" = at "
          f"least {MUCH_FASTER:g}x with the whole 95% interval (processes, then rounds within "
          f"them), \"borderline\" where {MUCH_FASTER:g}x lies inside the interval: "
          + "; ".join(sentences) + ".")
    if fixed is not None:
        z = len(result.sizes) - 1
        net = result.net("fixed")[:, z, i]  # minus the touch-only kernel, paired by round
        net_a, net_b = (net[result.strategies.index(s)] for s in ("alloca", "malloc"))
        if all(np.isfinite(v) for v in (fixed[z], cross.ns_a[z], net_a, net_b)):
            dominated = max(abs(net_a), abs(net_b)) < 0.1 * fixed[z]
            doc.p(f"At {format_size(int(result.sizes[z]))}, touching the pages of a "
                  f"preallocated buffer alone (`fixed`) costs {format_number(fixed[z])} ns/op "
                  "against "
                  f"alloca's {format_number(cross.ns_a[z])}; minus `fixed`"
                  + (", round by round," if result.interleaved else " (its median)")
                  + " alloca costs "
                  f"{_beyond(net_a)} and malloc {_beyond(net_b)}"
                  + (", so at this size touching the memory, not getting it, is the cost."
                     if dominated else "."))
    headers = ["size", "alloca ns/op", "malloc ns/op", "speed-up [95%]", "verdict"]
    headers += [f"x {s}" for s in others]
    if fixed is not None:
        headers.append("fixed (touch only) ns/op")
    rows = []
    for z, size in enumerate(result.sizes):
        row = [format_size(int(size)), format_number(cross.ns_a[z]), format_number(cross.ns_b[z]),
               format_interval(cross.speedup[z], cross.low[z], cross.high[z]),
               classes[z] or "missing"]
        row += [format_interval(extra[s].speedup[z], extra[s].low[z], extra[s].high[z])
                for s in others]
        if fixed is not None:
            row.append(format_number(fixed[z]))
        rows.append(row)
    doc.table(headers, rows)
    return verdict


def _claim_faults(doc: Document, ev: Evidence) -> str:
    doc.h(2, '2. "Stack memory does not page-fault"')
    result = ev.result
    cold = {k: v for k, v in ev.cold.items() if "error" not in v}
    failed = {k: v["error"] for k, v in ev.cold.items() if "error" in v}
    i = _warm_iterations(result)
    faults = result.median("faults_per_op")[:, :, i]
    stack_names = [s for s in ("alloca", "vla") if s in result.strategies]
    heap_names = [s for s in ("malloc", "calloc", "mmap") if s in result.strategies]
    stack_rows = [faults[result.strategies.index(s)] for s in stack_names]
    warm_stack = max((float(np.nanmax(row)) for row in stack_rows if np.isfinite(row).any()),
                     default=math.nan)
    cold_alloca = {size: v for (s, size), v in cold.items() if s == "alloca"}
    if not cold_alloca or not math.isfinite(warm_stack):
        verdict = "not tested (the measurements failed)"
    elif max(v["first_faults"] for v in cold_alloca.values()) > 0:
        verdict = ("does not hold for first use; holds for reuse" if warm_stack < 0.01
                   else "does not hold")
    else:
        verdict = "holds at these sizes" if warm_stack < 0.01 else "does not hold when warm"
    sentences = _first_use_sentences(cold, cold_alloca, ev.machine_now.get("page_size"))
    if math.isfinite(warm_stack):
        heap_parts = []
        for s in heap_names:
            row = faults[result.strategies.index(s)]
            if np.isfinite(row).any():
                z = int(np.nanargmax(row))
                heap_parts.append(f"{s} 0" if row[z] == 0 else
                                  f"{s} up to {format_number(row[z], 3)} (at "
                                  f"{format_size(int(result.sizes[z]))})")
        sentences.append(f"In the sweep (warm, {measured_rounds(result)}), page faults per op "
                         f"were at most {format_number(warm_stack, 3)} for "
                         f"{' and '.join(stack_names)}"
                         + (f"; {', '.join(heap_parts)}" if heap_parts else "") + ".")
    doc.p(f"**Verdict: {verdict}.** " + " ".join(sentences))
    if cold:
        _first_use_table(doc, cold)
    for (s, size), message in failed.items():
        doc.p(f"The first-call measurement of {s} at {format_size(size)} failed: {message}")
    names = stack_names + heap_names
    if names:
        doc.p("Page faults per op in the sweep (median over rounds):")
        doc.table(["size"] + names,
                  [[format_size(int(size))]
                   + [format_number(faults[result.strategies.index(s), z], 3) for s in names]
                   for z, size in enumerate(result.sizes)])
    return verdict


def _first_use_sentences(cold: dict, cold_alloca: dict, page_size: int | None) -> list[str]:
    """What the first, second and warm allocas of a fresh process cost in faults and time."""
    if not cold_alloca:
        return []
    size, v = max(cold_alloca.items())
    pages = math.ceil(size / (page_size or 4096))
    others = sorted({s for s, z in cold if s != "alloca" and z == size})
    same = [f"{s} {format_number(cold[(s, size)]['first_faults'], 3)}" for s in others]
    sentences = [
        f"In a fresh process the first alloca of {format_size(size)} ({pages} pages) took "
        f"{v['first_faults']:.0f} page faults and {format_number(v['first_ns'] / 1000)} µs"
        + (f" (first call of {', '.join(same)} faults)" if same else "")
        + f"; the second call took {v['second_faults']:.0f} and warm calls "
          f"{format_number(v['warm_faults'], 3)} per op."]
    zero = [format_size(s) for s, v in sorted(cold_alloca.items()) if v["first_faults"] == 0]
    if zero:
        sentences.append(f"At {', '.join(zero)} even the first alloca took no fault: the "
                         "process had already used that much stack, so those pages were "
                         "mapped.")
    return sentences


def _first_use_table(doc: Document, cold: dict) -> None:
    """The first-call table: per strategy and size, faults and ns of the first and second
    call of a fresh process, and warm."""
    rows = [[s, format_size(size), f"{v['first_faults']:.0f}", format_number(v["first_ns"]),
             f"{v['second_faults']:.0f}", format_number(v["warm_faults"], 3),
             format_number(v["warm_ns"])]
            for (s, size), v in sorted(cold.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    doc.table(["strategy", "size", "faults, first call", "ns, first call",
               "faults, second call", "faults/op, warm", "ns/op, warm"], rows)


def _claim_release(doc: Document, ev: Evidence) -> str:
    doc.h(2, '3. "alloca memory is released automatically"')
    g = ev.growth
    if "error" in g or not g.get("before") or g["before"].get("size") is None \
            or g["after"].get("size") is None:
        why = g.get("error") or "/proc/self/status has no VmStk here"
        doc.p(f"**Verdict: not tested** — {why}.")
        return "not tested"
    size, count = g["size"], g["count"]
    total = size * count
    grew = g["after"]["size"] - g["before"]["size"]
    rss_b, rss_a = g["before"].get("rss"), g["after"].get("rss")
    rlimit = ev.machine_now.get("rlimit_stack_soft")
    scale = (f", {total / rlimit:.0f}x the {format_size(rlimit)} RLIMIT_STACK"
             if isinstance(rlimit, int) else "")
    # The stack mapping grows to the deepest point reached: one buffer's worth means every
    # call got the same memory back; anything near `total` would mean none was returned.
    released = grew <= 2 * size + (1 << 20)
    verdict = "holds, at every return" if released else "does not hold"
    if released and _alloca_accumulates(ev.loop):  # the section says what the summary says
        verdict = "holds at function return, not per loop iteration"
    text = (f"**Verdict: {verdict}.** A fresh process ran {count} allocas of "
            f"{format_size(size)} one after another, each in a call that returned "
            f"({format_size_approx(total)} in all{scale}): its stack mapping (VmStk) went "
            f"from {format_size_approx(g['before']['size'])} to "
            f"{format_size_approx(g['after']['size'])}, {format_size_approx(max(grew, 0))} "
            f"more, about {grew / size:.2g} buffer(s).")
    if rss_b is not None and rss_a is not None:
        text += (f" The memory goes back to the stack, not to the system: the stack's "
                 f"resident size was {format_size_approx(rss_b)} before and "
                 f"{format_size_approx(rss_a)} after the calls returned"
                 + (", which is why later allocas of that size do not fault."
                    if rss_a >= rss_b + size // 2 else "."))
    doc.p(text)
    doc.table(["", "VmStk (stack mapping)", "Rss of [stack]"],
              [["before", format_size_approx(g["before"]["size"]), _bytes(rss_b)],
               [f"after {count} x {format_size(size)}", format_size_approx(g["after"]["size"]),
                _bytes(rss_a)]])
    _loop_paragraph(doc, ev.loop)
    return verdict


def _loop_paragraph(doc: Document, loop: dict) -> None:
    """Returned, but when?  alloca in a loop keeps every buffer until the function returns; a
    VLA declared in the loop body is released at the end of each iteration."""
    if not loop.get("counts") or "error" in loop:
        doc.p(f"Not tested: alloca in a loop ({loop.get('error', 'no loop measurement')}).")
        return
    size, n = loop["size"], loop["counts"][-1]
    alloca, vla = loop["alloca"][-1], loop["vla"][-1]
    accumulates = _alloca_accumulates(loop)
    vla_released = vla < 2 * size
    doc.p(f"Released when? In one call, a loop of {n} iterations each taking "
          f"{format_size(size)}: the alloca buffers covered {format_size_approx(alloca)} of "
          f"stack together ({alloca / size:.3g} buffers live at once), "
          + ("so alloca memory is given back when the function returns, not at the end of the "
             "loop body; " if accumulates else "so alloca memory was reused within the loop; ")
          + f"a VLA declared in the loop body covered {format_size_approx(vla)} "
          f"({vla / size:.2g} buffer), "
          + ("released at the end of every iteration." if vla_released
             else "so it too was kept across iterations."))
    doc.table(["iterations", "alloca: stack spanned", "VLA: stack spanned"],
              [[str(c), _bytes(a), _bytes(v)]
               for c, a, v in zip(loop["counts"], loop["alloca"], loop["vla"])])


def _alloca_accumulates(loop: dict) -> bool:
    """True when the allocas of the loop's longest run were all live at once."""
    if not loop.get("counts") or "error" in loop:
        return False
    return loop["alloca"][-1] >= (loop["counts"][-1] - 0.5) * loop["size"]


def _claim_small(doc: Document, ev: Evidence) -> str:
    doc.h(2, '4. "The stack is small"')
    m = ev.machine_now
    safe = largest_safe(m)
    if safe is None:
        doc.p("**Verdict: not tested** — the stack headroom could not be read.")
        return "not tested"
    headroom, margin = m["stack_headroom"], m["stack_margin"]
    mem = m.get("mem_total_bytes")
    rlimit = m.get("rlimit_stack_soft")
    guard = ev.guard
    limit = format_size_approx(rlimit) if isinstance(rlimit, int) else "unlimited"
    parts = [f"This thread has {format_size_approx(headroom)} of stack left "
             f"(RLIMIT_STACK {limit}); with {format_size_approx(margin)} kept free, one "
             f"alloca can take about {format_size_approx(safe)}."]
    if ev.thread_headroom is not None:
        parts.append(f"A thread started by Python's `threading` module has "
                     f"{format_size_approx(ev.thread_headroom)}.")
    if isinstance(mem, int) and safe:
        parts.append(f"The heap can hand out up to the machine's "
                     f"{format_size_approx(mem)} of RAM, {mem / safe:.0f}x more (\"small\" = "
                     f"under 1/{SMALL_FRACTION} of RAM).")
    if isinstance(mem, int):
        verdict = "holds" if safe < mem / SMALL_FRACTION else "does not hold here"
    else:
        verdict = f"largest alloca {format_size_approx(safe)} (RAM unknown)"
    if "message" in guard:
        parts.append(f"Past it, alloca_bench refuses before allocating: asking for an alloca "
                     f"of {guard['size']} bytes raised `StackLimitError`:")
    else:
        parts.append(f"The guard did **not** refuse an alloca of {guard.get('size')} bytes: a "
                     "bug; please report it.")
    doc.p(f"**Verdict: {verdict}.** " + " ".join(parts))
    if "message" in guard:
        doc.code(guard["message"])
        if "worker_ns" in guard:
            doc.p(f"As the message says, the same alloca ran on a worker thread with "
                  f"`stack_size={guard['worker_stack']}`: "
                  f"{format_number(guard['worker_ns'] / 1000)} µs "
                  f"and {guard['worker_faults']:.0f} page faults, its pages all new. Without "
                  f"the guard a plain alloca of that size would have run past the end of the "
                  f"stack: a SIGSEGV, not an exception.")
        elif "worker_error" in guard:
            doc.p(f"On a worker thread with `stack_size={guard['worker_stack']}` it failed "
                  f"too: {guard['worker_error']}")
    return verdict


# --- assembling ------------------------------------------------------------------------------

def render(ev: Evidence, fmt: str = "md") -> str:
    """The report as Markdown ("md") or HTML ("html", with the figures embedded when
    matplotlib is installed)."""
    if fmt not in ("md", "html"):
        raise ValueError(f"format must be 'md' or 'html', not {fmt!r}")
    r, m = ev.result, ev.machine_now
    doc = Document()
    title = f"alloca vs malloc on {m.get('hostname') or 'this machine'}: four claims, tested"
    doc.h(1, title)
    if ev.interrupted:
        doc.p(f"**Interrupted (Ctrl-C) {ev.interrupted}**: this report holds what was measured "
              "before; the claims whose measurements did not run say \"not tested\".")
    doc.p(_machine_line(m))
    doc.p(_sweep_line(ev))
    diff = differences(r.machine, m)
    if ev.source != "measured now" and diff:
        doc.p("The sweep and the measurements taken now come from different machines or "
              "settings: " + "; ".join(f"{k}: {a!r} (sweep) vs {b!r} (now)"
                                       for k, (a, b) in diff.items()) + ".")
    summary = Document()
    body = Document()
    verdicts = [("alloca is much faster than malloc", _claim_speed(body, r)),
                ("stack memory does not page-fault", _claim_faults(body, ev)),
                ("alloca memory is released automatically", _claim_release(body, ev)),
                ("the stack is small", _claim_small(body, ev))]
    summary.table(["claim", "verdict on this machine"], [[f'"{c}"', v] for c, v in verdicts])
    warned = result_warnings(r)
    if warned:
        summary.p(f"**Warnings** ({len(warned)}): the sweep's figures may be less certain than "
                  "they look:")
        summary.items(warned)
    else:
        summary.p("No warnings: every cell was stable, its batches long enough for the clock, "
                  "and the machine showed no sign of load, frequency scaling or a VM.")
    doc.blocks += summary.blocks + body.blocks
    if ev.threads is not None or ev.threads_error:
        threads_section(doc, ev.threads, ev.threads_error)
    if fmt == "html":
        _figure(doc, r)
    doc.h(2, "Reproduce")
    doc.code(_reproduce(ev))
    return doc.markdown() if fmt == "md" else doc.html(title)


def _figure(doc: Document, result: ResultData) -> None:
    try:  # the caller's backend stays: savefig into a buffer works on any of them
        import matplotlib.pyplot as plt
    except ImportError:
        doc.p('Figures need matplotlib: pip install "alloca-bench[plot]".')
        return
    ax = plot_result(result)
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=100)
    plt.close(ax.figure)
    doc.h(2, "Figure")
    doc.image(buf.getvalue(), "ns per op and page faults per op against buffer size")


def _machine_line(m: dict) -> str:
    return (f"Machine: {m.get('cpu_model') or '?'} ({m.get('cpu_count') or '?'} CPUs"
            + (", virtualized" if m.get("virtualized") else "")
            + f"), Linux {m.get('kernel_release') or '?'}, {m.get('libc_name') or 'libc'} "
            f"{m.get('libc_version') or '?'}, page size {m.get('page_size') or '?'} B, "
            f"transparent huge pages `{m.get('thp_enabled') or '?'}`"
            + (f", LD_PRELOAD `{m['ld_preload']}`" if m.get("ld_preload") else "")
            + (f", GLIBC_TUNABLES `{m['glibc_tunables']}`" if m.get("glibc_tunables") else "")
            + f"; kernels built with `{m.get('build_compile_args') or '?'}`.")


def _sweep_line(ev: Evidence) -> str:
    r = ev.result
    where = "run for this report" if ev.source == "measured now" else f"loaded from `{ev.source}`"
    state = "" if r.complete else (f" It is **incomplete** ({status_counts(r)}): missing cells "
                                   "are left out.")
    return (f"Sweep {where} ({r.machine.get('timestamp') or 'time unknown'}): "
            f"{', '.join(r.strategies)} {_sizes_text(r.sizes)}, touch "
            f"`{r.touch}`, iterations {', '.join(str(i) for i in r.iterations)}, "
            f"{_rounds_text(r)} per cell. First "
            "calls and the stack measurements "
            f"ran just now in fresh child processes.{state}")


def _rounds_text(r: ResultData) -> str:
    """'9 interleaved rounds', '1 round', '3 of 21 interleaved rounds': as measured."""
    text = measured_rounds(r)
    return text.replace(" round", " interleaved round") if r.interleaved else text


def _sizes_text(sizes: np.ndarray) -> str:
    """'at 1 size, 4 KiB' or 'at 5 sizes from 16 B to 1 MiB'."""
    if len(sizes) == 1:
        return f"at 1 size, {format_size(int(sizes[0]))}"
    return (f"at {len(sizes)} sizes from {format_size(int(sizes[0]))} to "
            f"{format_size(int(sizes[-1]))}")


def _reproduce(ev: Evidence) -> str:
    if ev.source != "measured now":
        return f"alloca-bench report --from {ev.source}"
    sizes = ",".join(format_size_arg(int(s)) for s in ev.result.sizes)
    return f"alloca-bench report --sizes {sizes} --repeats {ev.result.repeats}"


def _range_text(cross, first: int, last: int) -> str:
    """The speed-ups of sizes first..last with their intervals: '1.86x [1.84, 1.9]', or the
    smallest and the largest: '2.1x [2, 2.3] to 9.8x [9.1, 10.5]'."""
    x = cross.speedup[first:last + 1]
    ends = dict.fromkeys((first + int(np.nanargmin(x)), first + int(np.nanargmax(x))))
    return " to ".join(format_interval(cross.speedup[z], cross.low[z], cross.high[z])
                       for z in ends)


def _beyond(net: float) -> str:
    """A cost beyond the touch alone: never negative (a median difference at or below zero
    means nothing measurable beyond the touch)."""
    return f"{format_number(net)} ns/op" if net > 0 else "nothing measurable beyond it"


def _bytes(n: Optional[int]) -> str:
    return "-" if n is None else format_size_approx(n)
