"""matplotlib figures of a Result and of a Comparison (the optional `plot` extra).

matplotlib is imported inside the functions, so alloca_bench works without it; without it they
raise ImportError naming `pip install "alloca-bench[plot]"`.
"""
from __future__ import annotations

import re
import warnings
from typing import Any, Sequence

import numpy as np

from alloca_bench.present._format import format_size, format_size_approx
from alloca_bench.results.model import Result
from alloca_bench.strategies import STRATEGIES

INSTALL_HINT = 'plotting needs matplotlib: pip install "alloca-bench[plot]"'
# glibc's tcache serves requests up to 1032 bytes (64 bins of 16 bytes) from a per-thread list.
TCACHE_MAX = 1032
# glibc's default M_MMAP_THRESHOLD; dynamic: it rises after the first free of an mmapped chunk.
MMAP_THRESHOLD = 128 * 1024
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return plt


def _colors(strategies: Sequence[str]) -> dict[str, Any]:
    """One colour per strategy, stable across figures: known names first, then the rest
    (malloc@jemalloc, ...) in order; baseline is grey."""
    import matplotlib

    cycle = matplotlib.colormaps["tab10"].colors
    colors = {name: cycle[k] for k, name in enumerate(STRATEGIES)}
    extra = [s for s in strategies if s not in colors and s != "baseline"]
    for k, name in enumerate(extra):
        colors[name] = cycle[(len(STRATEGIES) + k) % len(cycle)]
    colors["baseline"] = (0.5, 0.5, 0.5)
    return colors


def _size_axis(ax: Any) -> None:
    """Log2 size axis labelled in binary units (16 B, 4 KiB, 1 MiB)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=4, numticks=20))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _: format_size(int(round(x))) if x >= 1 else ""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def machine_markers(machine: dict) -> list[tuple[int, str]]:
    """(size in bytes, label) of the sizes where costs change on the machine of a result: the
    page size, glibc's tcache limit and mmap threshold (when glibc's malloc is in use) and the
    largest safe stack allocation."""
    marks = []
    if isinstance(machine.get("page_size"), int):
        marks.append((machine["page_size"], f"page {format_size(machine['page_size'])}"))
    if machine.get("libc_name") == "glibc" and not machine.get("ld_preload"):
        marks.append((TCACHE_MAX, f"tcache {TCACHE_MAX} B"))
        pinned = re.search(r"glibc\.malloc\.mmap_threshold=(\d+)",
                           machine.get("glibc_tunables") or "")
        if pinned:
            marks.append((int(pinned.group(1)),
                          f"mmap threshold {format_size(int(pinned.group(1)))} (pinned)"))
        else:
            marks.append((MMAP_THRESHOLD,
                          f"mmap threshold {format_size(MMAP_THRESHOLD)}"))
    headroom, margin = machine.get("stack_headroom"), machine.get("stack_margin")
    if isinstance(headroom, int) and isinstance(margin, int) and headroom > margin:
        marks.append((headroom - margin, f"stack limit {format_size_approx(headroom - margin)}"))
    return marks


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
    axes[0].set_xlim(low, max(high, 4.0 * max(size for size, _ in marks)))
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


def plot_result(result: Result, ax: Any = None, *, strategies: Sequence[str] | None = None,
                faults: bool = True, faults_ax: Any = None, markers: bool = True,
                band: bool = True) -> Any:
    """Median ns/op per size (log-log), one line per strategy and iterations count, with the
    interquartile range over rounds as a band; below it faults/op (when `ax` is None and
    `faults`, or on `faults_ax`); dashed lines at machine_markers().  Cells without data are
    crossed at the bottom.  Returns the ns/op Axes."""
    plt = _pyplot()
    chosen = _chosen(strategies, result.strategies, "result")
    if ax is None:
        ax, faults_ax = _new_axes(plt, faults, (9, 7), [3, 1.2])
    x = result.sizes.astype(float)
    colors = _colors(result.strategies)
    with warnings.catch_warnings():  # cells never measured are all-NaN: crossed, not warned
        warnings.simplefilter("ignore", RuntimeWarning)
        q25, q50, q75 = np.nanpercentile(result.ns_per_op, [25, 50, 75], axis=3)
    fmed = result.median("faults_per_op")
    any_missing = False
    for i, it in enumerate(result.iterations):
        style = _LINESTYLES[i % len(_LINESTYLES)]
        suffix = f", {it} ops/batch" if len(result.iterations) > 1 else ""
        for name in chosen:
            s = result.strategies.index(name)
            color = colors[name]
            width = 1.0 if name == "baseline" else 1.8
            # A marker shape per strategy: alloca and vla often lie on top of each other.
            marker = _MARKERS[s % len(_MARKERS)]
            ax.plot(x, q50[s, :, i], style, marker=marker, markersize=4, color=color,
                    linewidth=width, label=f"{name}{suffix}")
            if band:
                ax.fill_between(x, q25[s, :, i], q75[s, :, i], color=color, alpha=0.2,
                                linewidth=0)
            missing = ~np.isfinite(q50[s, :, i])
            any_missing |= _mark_missing(ax, x, missing, color)
            if faults_ax is not None:
                faults_ax.plot(x, fmed[s, :, i], style, marker=marker, markersize=4, color=color,
                               linewidth=width)
                _mark_missing(faults_ax, x, missing, color)
    ax.set_yscale("log")
    _size_axis(ax)
    ax.set_ylabel("ns per op (median, IQR band)")
    ax.grid(True, which="major", alpha=0.3)
    if any_missing:
        ax.plot([], [], "x", color="0.2", markeredgewidth=2, label="not measured")
    m = result.machine
    state = "" if result.complete else " — INCOMPLETE"
    ax.set_title(f"{m.get('cpu_model') or 'unknown CPU'}, {m.get('libc_name') or ''} "
                 f"{m.get('libc_version') or ''}: touch={result.touch}, {result.repeats} "
                 f"rounds{state}", fontsize=10)
    panels = [ax]
    if faults_ax is not None:
        faults_ax.set_yscale("symlog", linthresh=0.01)
        top = np.nanmax(fmed, initial=0.0) if np.isfinite(fmed).any() else 0.0
        faults_ax.set_ylim(0, max(1.0, top * 4))  # room above the highest line
        faults_ax.set_ylabel("page faults per op")
        faults_ax.grid(True, which="major", alpha=0.3)
        _size_axis(faults_ax)
        faults_ax.set_xlabel("buffer size")
        panels.append(faults_ax)
    else:
        ax.set_xlabel("buffer size")
    if markers:
        _draw_markers(panels, machine_markers(m))
    ax.legend(fontsize=8, loc="upper left", ncol=2, framealpha=0.9)
    return ax


def _key_legend(ax: Any, colors: dict[str, Any], names: Sequence[str],
                styles: dict[str, str], extra: Sequence[Any] = (), loc: str = "best") -> None:
    """A legend that names each colour (strategy) once and each line style (result) once,
    instead of one entry per line."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[n], linewidth=2, label=n) for n in names]
    if len(styles) > 1:
        handles += [Line2D([], [], color="0.3", linestyle=st, label=label)
                    for label, st in styles.items()]
    ax.legend(handles=handles + list(extra), fontsize=8, loc=loc, ncol=2, framealpha=0.9)


def _ratio_axis(ax: Any) -> None:
    """Log y axis labelled as ratios (0.5x, 1x, 2x)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_comparison(comparison: Any, ax: Any = None, *, strategies: Sequence[str] | None = None,
                    values: bool = True, values_ax: Any = None) -> Any:
    """Each result's ratio to the reference per size (log scale), with its interval as a band;
    hollow markers where not significant.  Below it (when `ax` is None and `values`, or on
    `values_ax`) each result's medians.  Colours are strategies, line styles results.
    Returns the ratio Axes."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    c = comparison
    chosen = _chosen(strategies, c.strategies, "comparison")
    if ax is None:
        ax, values_ax = _new_axes(plt, values, (9, 8), [1, 1])
    x = c.sizes.astype(float)
    colors = _colors(c.strategies)
    ref = c.labels[c.reference]
    styles = {c.labels[k]: _LINESTYLES[k % len(_LINESTYLES)] for k in range(len(c.labels))}
    ratio_styles = {f"{c.labels[k]}/{ref}": styles[c.labels[k]] for k in c.others}
    for k in c.others:
        for i in range(len(c.iterations)):
            marker = _MARKERS[i % len(_MARKERS)]
            for name in chosen:
                s = c.strategies.index(name)
                color = colors[name]
                r, sig = c.ratio[k, s, :, i], c.significant[k, s, :, i]
                ax.plot(x, r, styles[c.labels[k]], color=color, linewidth=1.5)
                ax.fill_between(x, c.low[k, s, :, i], c.high[k, s, :, i], color=color,
                                alpha=0.12, linewidth=0)
                ax.plot(x[sig], r[sig], marker, color=color, linestyle="none")
                ax.plot(x[~sig], r[~sig], marker, color=color, markerfacecolor="white",
                        linestyle="none")
                _mark_missing(ax, x, ~np.isfinite(r), color)
    ax.axhline(1.0, color="0.2", linewidth=0.8)
    _ratio_axis(ax)
    _size_axis(ax)
    what = f"x {c.normalize}" if c.normalize else "ns/op"
    ax.set_ylabel(f"median {what} / {ref}'s  (< 1: faster than {ref})")
    hollow = Line2D([], [], marker="o", color="0.3", markerfacecolor="white", linestyle="none",
                    label=f"not significant (interval has 1, or < {c.threshold:.0%})")
    its = [Line2D([], [], marker=_MARKERS[i % len(_MARKERS)], color="0.3", linestyle="none",
                  label=f"{it} ops/batch") for i, it in enumerate(c.iterations)]
    _key_legend(ax, colors, chosen, ratio_styles,
                [hollow] + (its if len(c.iterations) > 1 else []))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(f"{', '.join(c.labels[k] for k in c.others)} against {ref}: touch={c.touch}, "
                 f"{c.confidence:.0%} bootstrap intervals (bands)", fontsize=10)
    if values_ax is not None:
        for k, label in enumerate(c.labels):
            for i in range(len(c.iterations)):
                for name in chosen:
                    s = c.strategies.index(name)
                    values_ax.plot(x, c.value[k, s, :, i], styles[label],
                                   marker=_MARKERS[i % len(_MARKERS)], markersize=3,
                                   color=colors[name])
        values_ax.set_yscale("log")
        _size_axis(values_ax)
        values_ax.set_ylabel(f"median {what}")
        values_ax.grid(True, which="major", alpha=0.3)
        _key_legend(values_ax, colors, chosen, styles)
        values_ax.set_xlabel("buffer size")
    else:
        ax.set_xlabel("buffer size")
    return ax
