"""One home for formatting: byte sizes, numbers, percentages, ratios and text tables."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np


def format_size(n: int) -> str:
    """1024 -> '1 KiB', 131073 -> '131073 B': exact binary units, else bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def size_label(result: Any, size: int) -> str:
    """'64 B', or the distribution that stands at `size` on a Result's sizes axis
    ('loguniform(16, 65536, seed=1)')."""
    return result.params.get("size_distributions", {}).get(str(int(size)),
                                                           format_size(int(size)))


def status_counts(result: Any) -> str:
    """'2 failed, 1 not run': how many cells of a Result have each status other than ok."""
    words, counts = np.unique(result.status[result.status != "ok"], return_counts=True)
    return ", ".join(f"{n} {w.replace('_', ' ')}" for w, n in zip(words.tolist(),
                                                                  counts.tolist()))


def kernel_line(result: Any) -> str:
    """'kernel k.c:work (sha256 ..., compiler): every op calls ...' for a result of the user's
    kernel (params["kernel"]), '' for one of a touch mode."""
    k = result.params.get("kernel")
    if not k:
        return ""
    return (f"kernel {k['name']} (sha256 {k['sha256'][:12]}, "
            f"{k.get('compiler') or k.get('library')}): every op calls {k['function']}(buf, "
            f"size); it used {k.get('stack_bytes')} B of stack")


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 round', '3 rounds', '1 process', '2 processes' (`many`: the plural when not
    word + 's')."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def measured_rounds(result: Any) -> str:
    """The rounds a Result holds per cell, as measured: '21 rounds', or after Ctrl-C '3 of 21
    rounds' ('2-3 of 21 rounds' when cells differ); 'no rounds' when nothing was measured."""
    counts = np.isfinite(result.ns_per_op).sum(axis=3)
    counts = counts[counts > 0]
    if not counts.size:
        return "no rounds"
    low, high, planned = int(counts.min()), int(counts.max()), int(result.repeats)
    if low == high == planned:
        return plural(planned, "round")
    got = str(low) if low == high else f"{low}-{high}"
    return f"{got} of {plural(planned, 'round')}"


def measured_processes(result: Any) -> str:
    """The processes the samples came from: '5 processes', or '1 of 5 processes' when a run
    stopped before it reached the others."""
    planned = int(result.params.get("processes", 1) or 1)
    used = len(np.unique(result.process[result.process >= 0]))
    if used >= planned:
        return plural(used, "process", "processes")
    return f"{used} of {plural(planned, 'process', 'processes')}"


def nothing_measured(result: Any) -> str:
    """What a table or plot of a Result without any sample says: 'nothing was measured' and
    why (its cells' statuses and their reasons, the first three)."""
    reasons = list(dict.fromkeys(result.reasons.values()))
    why = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3
                                     else "")
    counts = status_counts(result) or "no cell has a sample"
    return f"nothing was measured ({counts}{': ' + why if why else ''})"


def format_size_span(sizes: np.ndarray, first: int, last: int) -> str:
    """'at 4 KiB' or 'from 64 B to 4 KiB': the sizes[first..last] of a sizes axis."""
    if first == last or sizes[first] == sizes[last]:
        return f"at {format_size(int(sizes[first]))}"
    return f"from {format_size(int(sizes[first]))} to {format_size(int(sizes[last]))}"


def format_size_approx(n: int, digits: int = 3) -> str:
    """8383664 -> '8 MiB' (digits=3), 8383664 -> '7.995 MiB' (digits=4): binary units with
    `digits` significant digits, for prose."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.{digits}g} {unit}"
    return f"{n} B"


def format_size_arg(n: int) -> str:
    """65536 -> '64K': a size as the command line's --sizes takes it (exact, else bytes)."""
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def format_number(x: float, digits: int = 4) -> str:
    """`digits` significant digits; "-" for NaN (a cell never measured)."""
    if not np.isfinite(x):
        return "-"
    if x != 0 and abs(x) < 10 ** -(digits - 1):
        return f"{x:.{digits - 1}g}"
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def format_pct(x: float) -> str:
    return f"{x:.1f}%" if np.isfinite(x) else "-"


def format_ratio(x: float) -> str:
    return f"{x:.2f}x" if np.isfinite(x) else "-"


def format_rate(bytes_per_s: float) -> str:
    """Bytes per second in binary units, 3 significant digits: '1.23 GiB/s'; "-" for NaN."""
    if not np.isfinite(bytes_per_s):
        return "-"
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if bytes_per_s >= 1 << shift:
            return f"{bytes_per_s / (1 << shift):.3g} {unit}/s"
    return f"{bytes_per_s:.3g} B/s"


def format_interval(x: float, low: float, high: float, digits: int = 3) -> str:
    """A ratio with its interval: '1.23x [1.1, 1.41]'; "-" for NaN (not measured)."""
    if not np.isfinite(x):
        return "-"
    return (f"{format_number(x, digits)}x [{format_number(low, digits)}, "
            f"{format_number(high, digits)}]")


def format_plus_minus(median: float, low: float, high: float) -> str:
    """The half width of an interval around `median`, the larger side: '±0.42'."""
    if not (np.isfinite(median) and np.isfinite(low) and np.isfinite(high)):
        return "-"
    return "±" + format_number(max(median - low, high - median), 2)


def format_net(net: float, bound: float, inside: bool) -> str:
    """A net cost (ns/op), or "< bound" when it is inside the measured resolution: never a
    negative cost."""
    if not np.isfinite(net):
        return "-"
    return f"< {format_number(bound, 2)}" if inside else format_number(net)


def format_rows(headers: list[str], rows: list[list[str]], left: int = 3) -> str:
    """A text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if c < left else h.rjust(w) for c, (h, w)
                       in enumerate(zip(headers, widths)))]
    for row in rows:
        lines.append("  ".join(v.ljust(w) if c < left else v.rjust(w)
                               for c, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def unmeasured(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Where `values` has no number at all along `axes` (the size x iterations blocks a
    pytest-benchmark file's per-size iteration counts leave empty): a bool array."""
    return np.isnan(values).all(axis=axes)


def shown_blocks(sizes: Sequence[int], iterations: Sequence, empty: np.ndarray
                 ) -> Iterator[tuple[int, int, int, Any]]:
    """(z, size, i, iterations) of every size x iterations block a table shows, in order: all
    but the `empty` ones (unmeasured)."""
    for z, size in enumerate(sizes):
        for i, it in enumerate(iterations):
            if not empty[z, i]:
                yield z, size, i, it


def left_out_note(empty: np.ndarray) -> str:
    """The line under a table that leaves out the `empty` blocks ("" when none)."""
    n = int(np.count_nonzero(empty))
    return (f"\n({n} size x iterations combination(s) without any sample are not shown)"
            if n else "")
