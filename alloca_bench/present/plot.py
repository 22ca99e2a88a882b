"""matplotlib figures of a Result and of a Comparison (the optional `plot` extra).

matplotlib is imported inside the functions, so alloca_bench works without it; without it they
raise ImportError naming `pip install "alloca-bench[plot]"`.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

from alloca_bench.mallocs.discovery import KNOWN
from alloca_bench.analysis.comparison_model import ComparisonData
from alloca_bench.analysis.crossover import largest_safe
from alloca_bench.present._format import (format_size, format_size_approx, measured_rounds,
                                          nothing_measured, status_counts)
from alloca_bench.present._styles import even_log_ticks, series_pattern, series_style
from alloca_bench.results.model import ResultData
from alloca_bench.strategies import MALLOC_STRATEGIES, TABLE, kernel

INSTALL_HINT = 'plotting needs matplotlib: pip install "alloca-bench[plot]"'
# glibc's tcache serves requests up to 1032 bytes (64 bins of 16 bytes) from a per-thread list.
TCACHE_MAX = 1032
# glibc's default M_MMAP_THRESHOLD; dynamic: it rises after the first free of an mmapped chunk.
MMAP_THRESHOLD = 128 * 1024
_LINESTYLES = ("-", "--", ":", "-.")  # iterations counts of one result
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
SIDE_ROOM = 1.5  # the size axis runs this factor past the first and last size measured


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return plt


# Ten colours that stay apart (matplotlib's tab10 with its grey, kept for baseline, as black).
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#000000", "#bcbd22", "#17becf")
# Past ten strategies the colours come round again with these dash patterns.
_DASHES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))
_ALLOCATORS = ("glibc", *KNOWN)
# The strategies' places in the palette, the same in every figure: plain kernels first, then
# the first malloc kernel under each known allocator, then the rest (in _PALETTE order, so the
# 11th is the 1st colour dashed: alloca_probed is alloca's colour, dashed).
_SLOTS: tuple[str, ...] = (
    *(s.name for s in TABLE if s.kind != "reference" and not s.probed),
    *(f"{MALLOC_STRATEGIES[0]}@{a}" for a in _ALLOCATORS),
    *(s.name for s in TABLE if s.kind == "reference" and s.name != "baseline"),
    *(s.name for s in TABLE if s.probed),
    *(f"{k}@{a}" for k in MALLOC_STRATEGIES[1:] for a in _ALLOCATORS),
)
BASELINE_COLOR = (0.5, 0.5, 0.5)


def strategy_styles(strategies: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """(colour, line style) per strategy: one colour per strategy of a figure, and the same in
    every figure for the known names (the kernels, malloc@/calloc@ glibc, jemalloc, tcmalloc,
    mimalloc).  Other names take the first places no strategy of this figure holds; past ten,
    colours repeat with a dashed style.  baseline is grey."""
    slots = {name: k for k, name in enumerate(_SLOTS)}
    taken = {slots[s] for s in strategies if s in slots}
    free = (k for k in range(len(_SLOTS) + len(strategies)) if k not in taken)
    for name in strategies:
        if name not in slots and name != "baseline":
            slots[name] = next(free)
    out = {name: (_PALETTE[slots[name] % len(_PALETTE)],
                  _DASHES[(slots[name] // len(_PALETTE)) % len(_DASHES)])
           for name in strategies if name != "baseline"}
    out["baseline"] = (BASELINE_COLOR, "-")
    return out


def _size_axis(ax: Any) -> None:
    """Log2 size axis labelled in binary units (16 B, 4 KiB, 1 MiB)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=4, numticks=20))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: format_size(int(round(x))) if x >= 1 else ""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _glibc_placements(result: ResultData, strategies: Sequence[str]) -> list[dict]:
    """The placements of the `strategies` whose malloc glibc served (Result.params
    ["placement"]); without placements (older results), the machine says: glibc's malloc
    unless LD_PRELOAD replaced it, for the strategies that name no other allocator."""
    placement = result.params.get("placement") or {}
    m = result.machine
    out = []
    for name in strategies:
        if kernel(name) not in MALLOC_STRATEGIES:
            continue  # the stack, mmap and the reference kernels never call malloc
        where = placement.get(name)
        if where is not None:
            if where.get("allocator") == "glibc":
                out.append(where)
        elif (m.get("libc_name") == "glibc" and not m.get("ld_preload")
              and name.partition("@")[2] in ("", "glibc")):
            out.append({"allocator": "glibc", "glibc_tunables": m.get("glibc_tunables"),
                        "mmap_threshold": None})
    return out


def _threshold(where: dict) -> int | None:
    """A pinned mmap threshold (bytes) of one glibc placement, else None (dynamic)."""
    pinned = where.get("mmap_threshold")
    if isinstance(pinned, int) and not isinstance(pinned, bool):
        return pinned
    found = re.search(r"glibc\.malloc\.mmap_threshold=(\d+)", where.get("glibc_tunables") or "")
    return int(found.group(1)) if found else None


def glibc_markers(glibc: Sequence[dict]) -> list[tuple[int, str]]:
    """(size, label) of glibc's tcache limit and mmap threshold, for the glibc placements of
    the cells drawn; none when glibc served none of them."""
    marks = []
    if any(not re.search(r"tcache_count=0+(\D|$)", w.get("glibc_tunables") or "")
           for w in glibc):
        marks.append((TCACHE_MAX, f"glibc tcache {TCACHE_MAX} B"))
    for pinned in sorted({_threshold(w) or 0 for w in glibc}):
        marks.append((pinned, f"glibc mmap threshold {format_size(pinned)} (pinned)") if pinned
                     else (MMAP_THRESHOLD, f"glibc mmap threshold {format_size(MMAP_THRESHOLD)} "
                                           "(dynamic)"))
    return marks


def machine_markers(machine: dict, glibc: Sequence[dict] | None = None) -> list[tuple[int, str]]:
    """(size in bytes, label) of the sizes where costs change on the machine of a result: the
    page size, glibc's tcache limit and mmap threshold where glibc's malloc served a cell drawn
    (`glibc`: their placements; None: read the machine, glibc unless LD_PRELOAD replaced it)
    and the largest safe stack allocation."""
    marks = []
    if isinstance(machine.get("page_size"), int):
        marks.append((machine["page_size"], f"page {format_size(machine['page_size'])}"))
    if glibc is None:
        glibc = ([{"glibc_tunables": machine.get("glibc_tunables")}]
                 if machine.get("libc_name") == "glibc" and not machine.get("ld_preload")
                 else [])
    marks += glibc_markers(glibc)
    safe = largest_safe(machine)
    if safe:
        marks.append((safe, f"stack limit {format_size_approx(safe)}"))
    return sorted(marks)


def _malloc_note(result: ResultData) -> str:
    """", malloc: tcmalloc gperftools 2.10" when plain malloc was not glibc's (LD_PRELOAD)."""
    where = (result.params.get("placement") or {}).get("malloc") or {}
    name = where.get("allocator")
    if not name or name == "glibc":
        return ""
    return f", malloc: {name} {where.get('version') or ''}".rstrip()


def _draw_markers(axes: Sequence[Any], marks: list[tuple[int, str]]) -> None:
    """Dashed lines across every panel, named on a second size axis above the top panel, so
    the names never cover data or the legend."""
    from matplotlib.ticker import NullLocator

    if not marks:
        return
    for size, _ in marks:
        for a in axes:
            a.axvline(size, color="0.35", linewidth=0.8, linestyle=(0, (4, 3)), zorder=1)
    # Room right of the last line for its slanted name.
    low, high = axes[0].get_xlim()
    axes[0].set_xlim(low, max(high, SIDE_ROOM * max(size for size, _ in marks)))
    top = axes[0].secondary_xaxis("top")
    top.set_xticks([size for size, _ in marks], [label for _, label in marks], fontsize=7.5,
                   rotation=25, ha="left", color="0.25")
    top.tick_params(axis="x", length=3, pad=1)
    top.xaxis.set_minor_locator(NullLocator())


def _mark_missing(ax: Any, x: np.ndarray, missing: np.ndarray, color: Any) -> bool:
    """Crosses along the bottom of `ax` at sizes with no data; True if any was drawn."""
    if not missing.any():
        return False
    ax.plot(x[missing], np.full(missing.sum(), 0.03), "x", color=color, markersize=8,
            markeredgewidth=2, transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)
    return True


def _chosen(strategies: Sequence[str] | None, present: Sequence[str], what: str) -> list[str]:
    chosen = list(present) if strategies is None else list(strategies)
    unknown = [s for s in chosen if s not in present]
    if unknown:
        raise ValueError(f"strategies {unknown} are not in this {what}: {tuple(present)}")
    return chosen


def _new_axes(plt: Any, second: bool, figsize: tuple[float, float],
              ratios: list[float]) -> tuple[Any, Any]:
    """A main Axes, and below it a second one sharing x when `second` (else None)."""
    if not second:
        return plt.subplots(figsize=(figsize[0], 5), layout="constrained")[1], None
    _, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=figsize, layout="constrained",
                                    gridspec_kw={"height_ratios": ratios})
    return top, bottom


def plot_result(result: ResultData, ax: Any = None, *, strategies: Sequence[str] | None = None,
                faults: bool = True, faults_ax: Any = None, markers: bool = True,
                band: bool = True) -> Any:
    """Median ns/op per size (log-log), one line per strategy and iterations count, with the
    interquartile range over rounds as a band; below it faults/op (when `ax` is None and
    `faults`, or on `faults_ax`); dashed lines at machine_markers().  Cells without data are
    crossed at the bottom; the x axis spans the sizes measured (markers outside it are left
    out); the legend stands right of the plot, over no data.  Returns the ns/op Axes;
    ValueError "nothing was measured" (and why) for a result without any sample."""
    plt = _pyplot()
    chosen = _chosen(strategies, result.strategies, "result")
    if not np.isfinite(result.ns_per_op).any():
        raise ValueError(f"no figure: {nothing_measured(result)}")
    if ax is None:
        ax, faults_ax = _new_axes(plt, faults, (10.5, 7), [3, 1.2])
    x = result.sizes.astype(float)
    fmed = result.median("faults_per_op")
    any_missing = _result_lines(result, chosen, ax, faults_ax, band)
    ax.set_yscale("log")
    _ns_axis(ax)
    _size_axis(ax)
    ax.set_xlim(x.min() / SIDE_ROOM, x.max() * SIDE_ROOM)
    ax.set_ylabel("ns per op (median, IQR band)")
    ax.grid(True, which="major", alpha=0.3)
    if any_missing:
        ax.plot([], [], "x", color="0.2", markeredgewidth=2, label="not measured")
    m = result.machine
    state = "" if result.complete else f" — INCOMPLETE ({status_counts(result)})"
    ax.set_title(f"{m.get('cpu_model') or 'unknown CPU'}, {m.get('libc_name') or ''} "
                 f"{m.get('libc_version') or ''}{_malloc_note(result)}: touch={result.touch}, "
                 f"{measured_rounds(result)}{state}", fontsize=10)
    panels = [ax]
    if faults_ax is not None:
        _faults_axis(faults_ax, fmed)
        panels.append(faults_ax)
    else:
        ax.set_xlabel("buffer size")
    if markers:
        low, high = ax.get_xlim()
        _draw_markers(panels, [(size, label) for size, label
                               in machine_markers(m, _glibc_placements(result, chosen))
                               if low <= size <= high])
    _legend(ax)
    return ax


def _result_lines(result: ResultData, chosen: Sequence[str], ax: Any, faults_ax: Any,
                  band: bool) -> bool:
    """plot_result's lines: median ns/op (and the IQR band) per strategy and iterations count,
    faults/op on `faults_ax`; cells never measured (all NaN) crossed, not warned.  Returns
    whether any cell was crossed."""
    x = result.sizes.astype(float)
    styles = strategy_styles(result.strategies)
    stats = result.stats()
    q25, q50, q75 = stats["p25"], stats["median"], stats["p75"]
    fmed = result.median("faults_per_op")
    any_missing = False
    for i, it in enumerate(result.iterations):
        several = len(result.iterations) > 1  # then line styles tell the iterations apart
        suffix = f", {it} ops/batch" if several else ""
        for name in chosen:
            s = result.strategies.index(name)
            color, style = styles[name]
            style = _LINESTYLES[i % len(_LINESTYLES)] if several else style
            width = 1.0 if name == "baseline" else 1.8
            # A marker shape per strategy: alloca and vla often lie on top of each other.
            marker = _MARKERS[s % len(_MARKERS)]
            ax.plot(x, q50[s, :, i], linestyle=style, marker=marker, markersize=4, color=color,
                    linewidth=width, label=f"{name}{suffix}")
            if band:
                ax.fill_between(x, q25[s, :, i], q75[s, :, i], color=color, alpha=0.2,
                                linewidth=0)
            missing = ~np.isfinite(q50[s, :, i])
            any_missing |= _mark_missing(ax, x, missing, color)
            if faults_ax is not None:
                faults_ax.plot(x, fmed[s, :, i], linestyle=style, marker=marker, markersize=4,
                               color=color, linewidth=width)
                _mark_missing(faults_ax, x, missing, color)
    return any_missing


def _faults_axis(faults_ax: Any, fmed: np.ndarray) -> None:
    """The faults/op panel under plot_result's: symlog, room above the highest line."""
    faults_ax.set_yscale("symlog", linthresh=0.01)
    top = np.nanmax(fmed, initial=0.0) if np.isfinite(fmed).any() else 0.0
    faults_ax.set_ylim(0, max(1.0, top * 4))
    faults_ax.set_ylabel("page faults per op")
    faults_ax.grid(True, which="major", alpha=0.3)
    _size_axis(faults_ax)
    faults_ax.set_xlabel("buffer size")


def _legend(ax: Any, handles: Sequence[Any] | None = None) -> None:
    """The legend right of the axes, its top at theirs: the same place in every figure and over
    no data (loc="best" weighs lines and patches but not the bars of errorbar, so it once stood
    on an interval); a second column past 20 entries.  Constrained layout makes room for it."""
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0, ncol=max(1, math.ceil(len(handles) / 20)))


def _tick_label(y: float, suffix: str = "") -> str:
    """A log axis tick in plain numbers: 0.354, 2.5, 16; 1024 and 16384, never 1.02e+03."""
    return (f"{y:.0f}" if y >= 1000 else f"{y:.3g}") + suffix


def _ns_axis(ax: Any) -> None:
    """A log y axis of ns/op labelled in plain numbers, never matplotlib's "2x10^0": 2, 3, 4, 5
    within a decade, powers of two (2, 4, 8) up to three decades, powers of ten past that."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    low, high = ax.get_ylim()
    if high / low >= 1000:
        ticks = [10.0 ** k for k in range(math.ceil(math.log10(low)),
                                          math.floor(math.log10(high)) + 1)]
    elif high / low >= 10:
        ticks = even_log_ticks(low, high, whole=True)
    else:  # 1..9 times each power of ten, thinned to at most eight
        ticks = [d * 10.0 ** k for k in range(math.floor(math.log10(low)),
                                              math.floor(math.log10(high)) + 1)
                 for d in range(1, 10) if low <= d * 10.0 ** k <= high]
        ticks = ticks[::math.ceil(len(ticks) / 8)] if len(ticks) >= 2 else \
            even_log_ticks(low, high)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _tick_label(y)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _files_legend(ax: Any, entries: Sequence[tuple[str, Any, Any, str]],
                  colors: dict[str, Any], names: Sequence[str], extra: Sequence[Any] = ()
                  ) -> None:
    """A legend naming each file once, drawn in its look ((label, colour, line style, marker);
    colour None: grey, when colours are the strategies'), and then each strategy's colour."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[n], linewidth=2, label=n) for n in names]
    handles += [Line2D([], [], color="0.3" if color is None else color, linestyle=style,
                       marker=marker, markersize=5, linewidth=1.5, label=label)
                for label, color, style, marker in entries]
    _legend(ax, handles + list(extra))


def _line_style(dashes: tuple[float, ...]) -> Any:
    """matplotlib's line style of an on/off pattern (in line widths); () is solid."""
    return (0, dashes) if dashes else "-"


def _file_look(k: int, one_strategy: bool) -> tuple[Any, Any, str]:
    """(colour or None, line style, marker) of the k-th file: with one strategy drawn each file
    has a colour of its own (series_style), else colours are the strategies' and a file has a
    dash and a marker of its own (series_pattern)."""
    if one_strategy:
        look = series_style(k)
        return look.color, _line_style(look.dashes), look.marker
    dashes, marker = series_pattern(k)
    return None, _line_style(dashes), marker


def _even_log_axis(ax: Any, suffix: str = "", whole: bool = False) -> None:
    """Major ticks of a log y axis one constant factor apart (even_log_ticks; `whole`: powers
    of two), labelled with `suffix` ("x" for ratios); no minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    low, high = ax.get_ylim()
    ax.yaxis.set_major_locator(FixedLocator(even_log_ticks(low, high, whole=whole)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _tick_label(y, suffix)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _ratio_axis(ax: Any) -> None:
    """Log y axis labelled as ratios one constant factor apart (0.5x, 1x, 2x ... or 0.707x,
    1x, 1.41x ... as its range needs), never narrower than 0.87x..1.15x, so a difference
    inside the noise does not fill the panel."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 1 / 1.15), max(high, 1.15))
    _even_log_axis(ax, "x")


def _dodge(x: np.ndarray, j: int, n: int) -> np.ndarray:
    """`x` moved sideways (a fraction of an octave) for the j-th of n series, so intervals at
    the same size do not hide each other."""
    return x * 2.0 ** (0.35 * (j - (n - 1) / 2) / max(n, 1))


def plot_comparison(comparison: ComparisonData, ax: Any = None, *,
                    strategies: Sequence[str] | None = None, values: bool = True,
                    values_ax: Any = None) -> Any:
    """Each result's ratio to the reference per size (log scale, ticks one constant factor
    apart), with its interval as a bar at each measured size; hollow markers where not
    significant.  Below it (when `ax` is None and `values`, or on `values_ax`) each result's
    medians.  With one strategy drawn each file has its own colour, dash and marker; with
    several, colours are the strategies and each file has its own dash and marker (distinct
    for up to 32 files).  Returns the ratio Axes."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    c = comparison
    chosen = _chosen(strategies, c.strategies, "comparison")
    if ax is None:
        ax, values_ax = _new_axes(plt, values, (10.5, 8), [1, 1])
    x = c.sizes.astype(float)
    colors = {name: color for name, (color, _) in strategy_styles(c.strategies).items()}
    ref = c.labels[c.reference]
    looks = [_file_look(k, len(chosen) == 1) for k in range(len(c.labels))]
    several_its = len(c.iterations) > 1  # then markers tell the iterations apart

    def drawn(k: int, i: int, name: str) -> tuple[Any, Any, str]:
        color, style, marker = looks[k]
        return (colors[name] if color is None else color, style,
                _MARKERS[i % len(_MARKERS)] if several_its else marker)

    series = [(k, i, name) for k in c.others for i in range(len(c.iterations)) for name in chosen]
    for j, (k, i, name) in enumerate(series):
        color, style, marker = drawn(k, i, name)
        s = c.strategies.index(name)
        _ratio_line(ax, _dodge(x, j, len(series)), c.ratio[k, s, :, i],
                    c.significant[k, s, :, i], (c.low[k, s, :, i], c.high[k, s, :, i]),
                    (color, style, marker))
        _mark_missing(ax, x, ~np.isfinite(c.ratio[k, s, :, i]), color)
    ax.axhline(1.0, color="0.2", linewidth=0.8)
    _ratio_axis(ax)
    _size_axis(ax)
    what = f"x {c.normalize}" if c.normalize else "ns/op"
    ax.set_ylabel(f"median {what} / {ref}'s  (< 1: faster than {ref})")
    hollow = Line2D([], [], marker="o", color="0.3", markerfacecolor="white", linestyle="none",
                    label=f"not significant\n(interval has 1, or < {c.threshold:.0%})")
    its = [Line2D([], [], marker=_MARKERS[i % len(_MARKERS)], color="0.3", linestyle="none",
                  label=f"{it} ops/batch") for i, it in enumerate(c.iterations)]
    names = chosen if len(chosen) > 1 else []
    _files_legend(ax, [(f"{c.labels[k]}/{ref}", *looks[k]) for k in c.others], colors, names,
                  [hollow] + (its if several_its else []))
    ax.grid(True, which="major", alpha=0.3)
    others = (", ".join(c.labels[k] for k in c.others) if len(c.others) <= 3
              else f"{len(c.others)} results")
    ax.set_title(f"{others} against {ref}: touch={c.touch}, {c.confidence:.0%} bootstrap "
                 "intervals (bars)", fontsize=10)
    if values_ax is not None:
        for k in range(len(c.labels)):
            for i in range(len(c.iterations)):
                for name in chosen:
                    color, style, marker = drawn(k, i, name)
                    values_ax.plot(x, c.value[k, c.strategies.index(name), :, i],
                                   linestyle=style, marker=marker, markersize=3, color=color)
        _values_axis(values_ax, f"median {what}")
        _files_legend(values_ax, [(c.labels[k], *looks[k]) for k in range(len(c.labels))],
                      colors, names)
    else:
        ax.set_xlabel("buffer size")
    return ax


def _ratio_line(ax: Any, at: np.ndarray, r: np.ndarray, sig: np.ndarray,
                interval: tuple[np.ndarray, np.ndarray], look: tuple[Any, str, str]) -> None:
    """One result's ratio line with the interval of each measured size as a bar there (nothing
    between sizes); filled markers where significant, hollow where not."""
    (low, high), (color, style, marker) = interval, look
    ax.plot(at, r, linestyle=style, color=color, linewidth=1.5)
    has = np.isfinite(r) & np.isfinite(low) & np.isfinite(high)
    ax.errorbar(at[has], r[has], yerr=[r[has] - low[has], high[has] - r[has]], fmt="none",
                ecolor=color, elinewidth=1.2, capsize=2.5, alpha=0.8)
    ax.plot(at[sig], r[sig], marker, color=color, linestyle="none")
    ax.plot(at[~sig], r[~sig], marker, color=color, markerfacecolor="white", linestyle="none")


def _values_axis(values_ax: Any, label: str) -> None:
    """The medians panel under plot_comparison's ratios: log ns/op (or x normalize), sizes."""
    values_ax.set_yscale("log")
    _even_log_axis(values_ax, whole=True)
    _size_axis(values_ax)
    values_ax.set_ylabel(label)
    values_ax.grid(True, which="major", alpha=0.3)
    values_ax.set_xlabel("buffer size")
