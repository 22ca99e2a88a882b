"""A fleet (analysis.fleet) in words: a terminal table, Markdown, CSV, JSON and one
self-contained HTML page (inline CSS, an inline SVG plot, a sortable table; nothing fetched).

Everything not measured on a machine reads "not measured"; nothing is filled in.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

import numpy as np

from alloca_bench.analysis.fleet import Fleet, FleetMachine, allocator_name
from alloca_bench.present._format import (format_interval, format_number, format_rows,
                                          format_size, format_size_approx)
from alloca_bench.present._styles import SeriesStyle, even_log_ticks, series_style
from alloca_bench.present.answers import rounds_text
from alloca_bench.present.warnings import result_warnings
from alloca_bench.results._stats import MIN_SAMPLES

NOT_MEASURED = "not measured"


# --- words shared by every format ----------------------------------------------------------

def crossover_text(row: FleetMachine, a: str) -> str:
    """'16 KiB [4 KiB, 64 KiB]', '>= 256 KiB' (still winning at the largest size measured),
    'never', 'no verdict' (no size has an interval) or 'not measured'."""
    cross = row.crossover
    if row.pair is None:
        return NOT_MEASURED
    if not (row.pair.winner != "").any():  # "never" would claim what was not decided
        return "no verdict (no size has an interval: too few rounds, or cells not ok)"
    if cross.size is None:
        return f"never ({a} wins at no size measured)"
    if cross.open:
        return f">= {format_size(cross.size)} (largest measured)"
    low = format_size(cross.low) if cross.low is not None else "none"
    high = format_size(cross.high) if cross.high is not None else "none"
    return f"{format_size(cross.size)} [{low}, {high}]"


def stack_limit_text(row: FleetMachine) -> str:
    if not row.stack_limit_recorded:
        return "not recorded"
    return "unlimited" if row.stack_limit is None else format_size_approx(row.stack_limit)


def safe_text(row: FleetMachine) -> str:
    return "not recorded" if row.largest_safe is None else format_size_approx(row.largest_safe)


def served_by(row: FleetMachine, b: str) -> str:
    """Who served `b` (malloc) in this row's run: the preloaded library, glibc..."""
    return allocator_name(row.result, b) if b in row.result.strategies else NOT_MEASURED


def ratio_text(fleet: Fleet, m: int, z: int) -> str:
    """'2.5x [2.1, 3]'; 'no interval (2 rounds, needs 3)' where both were measured in too few
    rounds; 'not measured'."""
    if fleet.too_few_rounds()[m, z]:
        return f"no interval ({rounds_text(int(fleet.rounds[m, z]))}, needs {MIN_SAMPLES})"
    if not np.isfinite(fleet.ratio[m, z]):
        return NOT_MEASURED
    return format_interval(fleet.ratio[m, z], fleet.low[m, z], fleet.high[m, z])


def fastest_text(fleet: Fleet, m: int, z: int) -> str:
    """'jemalloc (1.4x)': the fastest and the runner-up's median over its; a gap within the
    tolerance says so ('glibc (1.02x, a tie)')."""
    name, margin = fleet.fastest[m, z], fleet.fastest_margin[m, z]
    if not name:
        return "-"
    tie = ", a tie" if margin < 1 + fleet.tolerance else ""
    return f"{name} ({format_number(margin, 3)}x{tie})"


def _any_fastest(fleet: Fleet) -> bool:
    return any(bool(x) for x in fleet.fastest.ravel())


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def _warnings(row: FleetMachine) -> list[str]:
    """The warnings of the row's result, in words (present.warnings)."""
    return result_warnings(row.result)


def _summary(fleet: Fleet) -> tuple[list[str], list[list[str]]]:
    """A row per machine; the machine id column only where a label is not the id itself."""
    with_id = any(row.label != row.machine_id for row in fleet.machines)
    headers = ["machine"] + ["machine id"] * with_id + [
        f"{fleet.b} served by", f"{fleet.a} wins up to [{fleet.confidence:.0%}]", "stack limit",
        f"largest safe {fleet.a}", "warnings"]
    rows = [[row.label] + [row.machine_id] * with_id + [
        served_by(row, fleet.b), crossover_text(row, fleet.a), stack_limit_text(row),
        safe_text(row), str(len(_warnings(row)))] for row in fleet.machines]
    return headers, rows


def _ratios(fleet: Fleet) -> tuple[list[str], list[list[str]]]:
    headers = ["size"] + list(fleet.labels)
    rows = [[format_size(int(size))] + [ratio_text(fleet, m, z) for m in range(len(fleet.labels))]
            for z, size in enumerate(fleet.sizes)]
    return headers, rows


def _fastest(fleet: Fleet) -> tuple[list[str], list[list[str]]]:
    headers = ["size"] + list(fleet.labels)
    rows = [[format_size(int(size))] + [fastest_text(fleet, m, z)
                                        for m in range(len(fleet.labels))]
            for z, size in enumerate(fleet.sizes)]
    return headers, rows


def _differing(fleet: Fleet) -> tuple[list[str], list[list[str]]]:
    headers = ["metadata"] + list(fleet.labels)
    return headers, [[key] + [_value(v) for v in values]
                     for key, values in fleet.differing.items()]


def _ratio_title(fleet: Fleet) -> str:
    return (f"{fleet.b}/{fleet.a}: {fleet.b}'s median ns/op over {fleet.a}'s (2x: {fleet.b} "
            f"costs twice as much) [{fleet.confidence:.0%} interval]")


# --- terminal, Markdown, CSV, JSON ---------------------------------------------------------

def _fit(headers: list[str], rows: list[list[str]], width: int = 120) -> str:
    """A text table whose first column is repeated on as many blocks of the other columns as
    it takes to keep each line within `width` characters (a column never splits)."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers)]
    blocks, block, used = [], [], widths[0]
    for c in range(1, len(headers)):
        if block and used + 2 + widths[c] > width:
            blocks.append(block)
            block, used = [], widths[0]
        block.append(c)
        used += 2 + widths[c]
    blocks.append(block)
    return "\n\n".join(format_rows([headers[0]] + [headers[c] for c in cols],
                                   [[r[0]] + [r[c] for c in cols] for r in rows], left=1)
                       for cols in blocks)


def fleet_table(fleet: Fleet) -> str:
    """The terminal view: a row per machine, the ratio per size (a column per machine, in
    blocks that fit 120 columns), the fastest allocator where several were measured, the
    metadata that differs, the warnings."""
    headers, rows = _summary(fleet)
    parts = [f"alloca-bench fleet: {len(fleet.machines)} machine(s)\n",
             format_rows(headers, rows, left=len(headers) - 4),
             "\n" + _ratio_title(fleet), _fit(*_ratios(fleet))]
    if _any_fastest(fleet):
        parts += [f"\nfastest {fleet.b} per size (the runner-up's median over the fastest's)",
                  _fit(*_fastest(fleet))]
    if fleet.differing:
        parts += ["\nmetadata that differs", _fit(*_differing(fleet))]
    warned = [(row.label, w) for row in fleet.machines for w in _warnings(row)]
    if warned:
        parts.append("\nwarnings")
        parts += [f"  {label}: {w}" for label, w in warned]
    for path, why in fleet.skipped:
        parts.append(f"skipped {path}: {why}")
    return "\n".join(parts)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fleet_markdown(fleet: Fleet) -> str:
    """The terminal view's tables as Markdown, the warnings as a list per machine."""
    parts = [f"# alloca-bench fleet: {len(fleet.machines)} machine(s)", "",
             _md_table(*_summary(fleet)), "", f"## {_ratio_title(fleet)}", "",
             _md_table(*_ratios(fleet))]
    if _any_fastest(fleet):
        parts += ["", f"## Fastest {fleet.b} per size", "", _md_table(*_fastest(fleet))]
    if fleet.differing:
        parts += ["", "## Metadata that differs", "", _md_table(*_differing(fleet))]
    warned = [f"- **{row.label}**: {w}" for row in fleet.machines for w in _warnings(row)]
    if warned:
        parts += ["", "## Warnings", ""] + warned
    return "\n".join(parts) + "\n"


CSV_COLUMNS = ("machine", "machine_id", "size", "ratio", "ratio_low", "ratio_high", "winner",
               "fastest", "fastest_margin", "crossover", "crossover_low", "crossover_high",
               "crossover_open", "stack_limit", "largest_safe", "source")


def fleet_csv(fleet: Fleet) -> str:
    """One row per machine and size, full precision; empty where not measured."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m, row in enumerate(fleet.machines):
        cross = row.crossover
        for z, size in enumerate(fleet.sizes):
            writer.writerow([row.label, row.machine_id, int(size),
                             *(_num(g[m, z]) for g in (fleet.ratio, fleet.low, fleet.high)),
                             fleet.winner[m, z], fleet.fastest[m, z],
                             _num(fleet.fastest_margin[m, z]), _blank(cross.size),
                             _blank(cross.low), _blank(cross.high),
                             int(cross.open) if row.pair is not None else "",
                             _blank(row.stack_limit), _blank(row.largest_safe), row.source])
    return out.getvalue()


def _num(x: float) -> str:
    return repr(float(x)) if np.isfinite(x) else ""


def _blank(x: Any) -> Any:
    return "" if x is None else x


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def fleet_dict(fleet: Fleet) -> dict[str, Any]:
    """The fleet as JSON-ready data (null where not measured)."""
    machines = []
    for m, row in enumerate(fleet.machines):
        cross = row.crossover
        machines.append({
            "label": row.label, "machine_id": row.machine_id, "source": row.source,
            "served_by": served_by(row, fleet.b),
            "crossover": None if row.pair is None else {
                "size": cross.size, "low": cross.low, "high": cross.high, "open": cross.open},
            "stack_limit": row.stack_limit, "stack_limit_recorded": row.stack_limit_recorded,
            "largest_safe": row.largest_safe, "warnings": _warnings(row),
            "sizes": [{"size": int(size), "ratio": _finite(fleet.ratio[m, z]),
                       "low": _finite(fleet.low[m, z]), "high": _finite(fleet.high[m, z]),
                       "winner": fleet.winner[m, z] or None,
                       "fastest": fleet.fastest[m, z] or None,
                       "fastest_margin": _finite(fleet.fastest_margin[m, z])}
                      for z, size in enumerate(fleet.sizes)],
            "machine": row.result.machine,
        })
    return {"schema": "alloca_bench.fleet", "a": fleet.a, "b": fleet.b,
            "confidence": fleet.confidence, "sizes": [int(s) for s in fleet.sizes],
            "differing": {k: list(v) for k, v in fleet.differing.items()},
            "machines": machines,
            "skipped": [{"path": p, "reason": r} for p, r in fleet.skipped]}


def fleet_json(fleet: Fleet) -> str:
    return json.dumps(fleet_dict(fleet), indent=1, allow_nan=False, default=str)


# --- the HTML page -------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
p.note{color:#555;margin:4px 0 12px;max-width:60em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;vertical-align:bottom}
th[colspan]{text-align:center;border-bottom-color:#bbb} th.size{white-space:nowrap}
table.sortable th[data-col]{cursor:pointer;user-select:none}
table.sortable th[data-col]:after{content:"\\00a0\\2195";color:#aaa}
table.sortable th[aria-sort=ascending]:after{content:"\\00a0\\2191";color:#000}
table.sortable th[aria-sort=descending]:after{content:"\\00a0\\2193";color:#000}
#machines td.label,#machines th[data-col="0"]{position:sticky;left:0;z-index:1}
#machines td.label{background:#fff}
td.num{text-align:right;white-space:nowrap} td.missing{color:#999;font-style:italic}
td.num .ci{display:block;font-size:12px;color:#666}
td.warn summary{cursor:pointer;color:#8a4b00} td.warn .kind{white-space:nowrap}
td.warn ul{margin:4px 0 0;padding-left:16px;min-width:12em} td.warn li{color:#5c3300}
td.id{color:#555} td.label{white-space:nowrap}
.swatch{display:inline-block;vertical-align:middle;margin-right:6px}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px}
svg text{font:12px system-ui,sans-serif;fill:#333}
"""

_SCRIPT = """
(function(){
  function key(cell){
    var v = cell.getAttribute('data-sort');
    if (v === null) return cell.textContent.trim().toLowerCase();
    return v === '' ? null : parseFloat(v);
  }
  function sortBy(table, col, th){
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.tHead.querySelectorAll('th[data-col]'), function(h){
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    rows.sort(function(a, b){
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === null || y === null) return (x === null) - (y === null);  /* unmeasured last */
      var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    Array.prototype.forEach.call(table.tHead.querySelectorAll('th[data-col]'), function(th){
      var col = parseInt(th.getAttribute('data-col'), 10);
      th.tabIndex = 0;
      th.addEventListener('click', function(){ sortBy(table, col, th); });
      th.addEventListener('keydown', function(e){ if (e.key === 'Enter') sortBy(table, col, th); });
    });
  });
})();
"""

# No request may leave the page: the browser refuses anything but the inline style and script.
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _td(text: str, sort: Any = None, numeric: bool = False) -> str:
    """A cell; `sort` the number it sorts by ('' sorts last: not measured). A numeric cell
    puts what follows its value ('[1.2, 3.4]', '(largest measured)') on a line of its own, so
    its column is as wide as the longer of the two, not both side by side."""
    classes = (["num"] if numeric else []) + (["missing"] if text == NOT_MEASURED else [])
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if sort is not None:
        attrs += f' data-sort="{_e(sort)}"'
    value, space, rest = text.partition(" [") if " [" in text else text.partition(" (")
    if not (numeric and space):
        return f"<td{attrs}>{_e(text)}</td>"
    return f'<td{attrs}>{_e(value)} <span class="ci">{_e(space.strip() + rest)}</span></td>'


def _sort_number(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return repr(float(x))


def _limit_sort(row: FleetMachine) -> str:
    """The stack limit's sort key: unlimited above every limit, not recorded last."""
    if not row.stack_limit_recorded:
        return ""
    return "Infinity" if row.stack_limit is None else str(row.stack_limit)


def _machine_rows(fleet: Fleet) -> str:
    rows = []
    for m, row in enumerate(fleet.machines):
        cross = row.crossover
        cells = [f'<td class="label">{_swatch(series_style(m))}{_e(row.label)}</td>',
                 f'<td class="id">{_e(row.machine_id)}</td>',
                 _td(served_by(row, fleet.b)),
                 _td(crossover_text(row, fleet.a), _sort_number(
                     cross.size if cross.size is not None else (0 if row.pair else None)),
                     numeric=True),
                 _td(stack_limit_text(row), _limit_sort(row), numeric=True),
                 _td(safe_text(row), _sort_number(row.largest_safe), numeric=True)]
        warnings = _warnings(row)
        cells.append(f'<td class="warn" data-sort="{len(warnings)}">'
                     f"{_warnings_cell(warnings)}</td>")
        cells += [_td(ratio_text(fleet, m, z), _sort_number(fleet.ratio[m, z]), numeric=True)
                  for z in range(len(fleet.sizes))]
        rows.append(f'<tr data-machine="{_e(row.label)}">' + "".join(cells) + "</tr>")
    return "\n".join(rows)


def _warnings_cell(warnings: tuple[str, ...]) -> str:
    """The kinds of warning in one line ("unstable, vm"; a narrow column breaks it between
    kinds, not within one), the full texts when opened."""
    if not warnings:
        return "none"
    kinds = ", ".join(f'<span class="kind">{_e(kind)}</span>'
                      for kind in dict.fromkeys(w.split(":", 1)[0] for w in warnings))
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return f"<details><summary>{len(warnings)}: {kinds}</summary><ul>{items}</ul></details>"


def _machine_table(fleet: Fleet) -> str:
    """Two heading rows: the per-size columns are headed by their size alone, under one
    heading that names the ratio (its words once, not once per size, keep the table within a
    1400 px window)."""
    heads = ["machine", "machine id", f"{fleet.b} served by",
             f"{fleet.a} wins up to [{fleet.confidence:.0%}]", "stack limit",
             f"largest safe {fleet.a}", "warnings"]
    top = "".join(f'<th rowspan="2" data-col="{c}">{_e(h)}</th>' for c, h in enumerate(heads))
    top += (f'<th colspan="{len(fleet.sizes)}" scope="colgroup">{_e(fleet.b)}/{_e(fleet.a)} '
            f"at each size [{fleet.confidence:.0%}]</th>")
    sizes = "".join(f'<th class="size" data-col="{c}">{_e(format_size(int(s)))}</th>'
                    for c, s in enumerate(fleet.sizes, start=len(heads)))
    return (f'<div class="scroll"><table class="sortable" id="machines"><thead><tr>{top}</tr>'
            f"<tr>{sizes}</tr></thead><tbody>\n{_machine_rows(fleet)}\n</tbody></table></div>")


def _plain_table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _marker(shape: str, x: float, y: float, color: str, r: float = 4.5) -> str:
    """An SVG marker of matplotlib's `shape` code centred at (x, y)."""
    fill = f'fill="{color}" stroke="#fff" stroke-width="0.8"'
    points = {
        "s": [(-r, -r), (r, -r), (r, r), (-r, r)],
        "^": [(0, -r * 1.2), (r * 1.1, r * 0.8), (-r * 1.1, r * 0.8)],
        "v": [(0, r * 1.2), (r * 1.1, -r * 0.8), (-r * 1.1, -r * 0.8)],
        "D": [(0, -r * 1.3), (r, 0), (0, r * 1.3), (-r, 0)],
        "P": [(-r / 3, -r), (r / 3, -r), (r / 3, -r / 3), (r, -r / 3), (r, r / 3), (r / 3, r / 3),
              (r / 3, r), (-r / 3, r), (-r / 3, r / 3), (-r, r / 3), (-r, -r / 3),
              (-r / 3, -r / 3)],
        "X": [(-r, -r * 0.6), (-r * 0.6, -r), (0, -r * 0.4), (r * 0.6, -r), (r, -r * 0.6),
              (r * 0.4, 0), (r, r * 0.6), (r * 0.6, r), (0, r * 0.4), (-r * 0.6, r),
              (-r, r * 0.6), (-r * 0.4, 0)],
        "*": [(r * 1.3 * math.sin(k * math.pi / 5) * (1 if k % 2 == 0 else 0.45),
               -r * 1.3 * math.cos(k * math.pi / 5) * (1 if k % 2 == 0 else 0.45))
              for k in range(10)],
    }.get(shape)
    if points is None:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" {fill}/>'
    coords = " ".join(f"{x + px:.1f},{y + py:.1f}" for px, py in points)
    return f'<polygon points="{coords}" {fill}/>'


def _dash(style: SeriesStyle, width: float) -> str:
    if not style.dashes:
        return ""
    return f' stroke-dasharray="{",".join(f"{d * width:g}" for d in style.dashes)}"'


def _swatch(style: SeriesStyle) -> str:
    return (f'<svg class="swatch" width="34" height="12" aria-hidden="true">'
            f'<line x1="1" y1="6" x2="33" y2="6" stroke="{style.color}" stroke-width="2"'
            f'{_dash(style, 2)}/>{_marker(style.marker, 17, 6, style.color, 4)}</svg>')


def ratio_svg(fleet: Fleet, width: int = 760, height: int = 380) -> str:
    """The ratio b/a per size, a line per machine with its interval, log-log, as inline SVG."""
    left, right, top, bottom = 64, 16, 16, 48
    measured = np.isfinite(fleet.ratio)
    sizes = np.log2(fleet.sizes.astype(float))
    if not measured.any():
        return f"<p class='note'>No machine measured both {fleet.a} and {fleet.b}.</p>"
    lows = np.where(np.isfinite(fleet.low), fleet.low, fleet.ratio)[measured]
    highs = np.where(np.isfinite(fleet.high), fleet.high, fleet.ratio)[measured]
    low, high = min(float(lows.min()), 1.0), max(float(highs.max()), 1.0)
    ticks = even_log_ticks(low, high)
    pad = 0.05 * max(math.log2(high / low), 1.0)
    y0, y1 = math.log2(low) - pad, math.log2(high) + pad
    x0, x1 = float(sizes.min()) - 0.5, float(sizes.max()) + 0.5

    def px(log_size: float) -> float:
        return left + (log_size - x0) / (x1 - x0) * (width - left - right)

    def py(ratio: float) -> float:
        return top + (y1 - math.log2(ratio)) / ((y1 - y0) or 1) * (height - top - bottom)

    out = [f'<svg id="ratio-plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{_e(_ratio_title(fleet))} per size, a line per machine">']
    for t in ticks:
        color = "#888" if t == 1 else "#e6e6e6"
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                   f'stroke="{color}"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">'
                   f'{format_number(t, 3)}x</text>')
    every = max(1, math.ceil(len(fleet.sizes) / 12))
    for z, size in enumerate(fleet.sizes[::every]):
        x = px(math.log2(float(size)))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" '
                   'stroke="#f0f0f0"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                   f'{_e(format_size(int(size)))}</text>')
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 8}" '
               f'text-anchor="middle">size (log scale); {fleet.a} wins above the 1x line</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" '
               f'height="{height - top - bottom}" fill="none" stroke="#bbb"/>')
    for m, row in enumerate(fleet.machines):
        out += _series(fleet, m, series_style(m), px, py, sizes)
    out.append("</svg>")
    legend = "".join(f"<li>{_swatch(series_style(m))}{_e(row.label)}</li>"
                     for m, row in enumerate(fleet.machines))
    return "\n".join(out) + f'\n<ul class="legend">{legend}</ul>'


def _series(fleet: Fleet, m: int, style: SeriesStyle, px, py, sizes: np.ndarray) -> list[str]:
    """One machine's line (broken where a size was not measured), intervals and markers."""
    out, run = [], []
    label = fleet.machines[m].label
    for z in range(len(fleet.sizes) + 1):
        if z < len(fleet.sizes) and np.isfinite(fleet.ratio[m, z]):
            run.append((px(sizes[z]), py(fleet.ratio[m, z])))
            continue
        if len(run) > 1:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            out.append(f'<polyline points="{points}" fill="none" stroke="{style.color}" '
                       f'stroke-width="2"{_dash(style, 2)} data-machine="{_e(label)}"/>')
        run = []
    for z in np.flatnonzero(np.isfinite(fleet.ratio[m])):
        x, y = px(sizes[z]), py(fleet.ratio[m, z])
        if np.isfinite(fleet.low[m, z]) and np.isfinite(fleet.high[m, z]):
            ya, yb = py(fleet.low[m, z]), py(fleet.high[m, z])
            out.append(f'<path d="M{x:.1f},{ya:.1f}V{yb:.1f}M{x - 3:.1f},{ya:.1f}h6'
                       f'M{x - 3:.1f},{yb:.1f}h6" stroke="{style.color}" fill="none"/>')
        out.append(f"<g>{_marker(style.marker, x, y, style.color)}<title>{_e(label)}, "
                   f"{_e(format_size(int(fleet.sizes[z])))}: {_e(ratio_text(fleet, m, z))}"
                   "</title></g>")
    return out


def fleet_html(fleet: Fleet, title: str = "alloca-bench fleet") -> str:
    """One self-contained page: inline CSS, an inline SVG, a sortable table with a row per
    machine and its warnings; a Content-Security-Policy that lets nothing be fetched."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}: {len(fleet.machines)} machine(s)</h1>",
        f'<p class="note">Per machine: up to what size {_e(fleet.a)} beats {_e(fleet.b)} by a '
        f"significant factor (interval excluding 1 and a gap beyond {fleet.tolerance:.0%}), "
        "with the sizes "
        f"between which that limit lies; {_e(_ratio_title(fleet))} per size; the stack limit "
        f"and the largest {_e(fleet.a)} the stack guard lets through. Click a heading to "
        "sort. Sizes a machine did not measure read &ldquo;not measured&rdquo;.</p>",
        _machine_table(fleet),
        f"<h2>{_e(_ratio_title(fleet))}</h2>", ratio_svg(fleet),
    ]
    if _any_fastest(fleet):
        parts += [f"<h2>Fastest {_e(fleet.b)} per size</h2>",
                  '<p class="note">Where a machine measured several allocators (malloc@NAME): '
                  "the fastest by median, and the runner-up's median over its.</p>",
                  _plain_table(*_fastest(fleet), "fastest")]
    if fleet.differing:
        parts += ["<h2>Metadata that differs</h2>", _plain_table(*_differing(fleet), "differing")]
    if fleet.skipped:
        parts += ["<h2>Files not read</h2><ul>"
                  + "".join(f"<li>{_e(p)}: {_e(r)}</li>" for p, r in fleet.skipped) + "</ul>"]
    parts += [f"<script>{_SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
