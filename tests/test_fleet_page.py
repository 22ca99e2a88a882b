"""The fleet in words: terminal table, Markdown, CSV, JSON and the self-contained HTML page
(checked in headless Chromium where it is installed)."""
import csv
import io
import json
import re
import shutil

import pytest

from alloca_bench.analysis.fleet import fleet
from alloca_bench.present._styles import series_style
from alloca_bench.present.fleet_page import (NOT_MEASURED, fleet_csv, fleet_dict, fleet_html,
                                             fleet_json, fleet_markdown, fleet_table)

MACHINE = {"hostname": "box", "cpu_model": "Xeon", "kernel_release": "6.1",
           "libc_name": "glibc", "libc_version": "2.36", "stack_headroom": 8 << 20,
           "stack_margin": 256 << 10, "rlimit_stack_soft": 8 << 20}


@pytest.fixture
def three(make_result, noisy):
    """Three rows: glibc (alloca wins 6x), tcmalloc preloaded (2x, and not at 64 KiB),
    a run without alloca; the tcmalloc row measured 64 KiB, the others did not."""
    def result(center, sizes=(64, 4096), strategies=("baseline", "alloca", "malloc"), **m):
        ns = noisy(center, shape=(len(strategies), len(sizes), 1, 15))
        return make_result(ns, strategies=strategies, sizes=sizes, machine=dict(MACHINE, **m))

    return fleet([result((1.0, 1.5, 9.0)),
                  result((1.0, 1.5, 3.0), sizes=(64, 4096, 65536),
                         ld_preload="/l/libtcmalloc_minimal.so.4"),
                  result((1.0, 9.0), strategies=("baseline", "malloc"))],
                 labels=["glibc", "tcmalloc", "no-alloca"])


def test_a_row_with_no_verdict_at_any_size_does_not_say_never(make_result, noisy):
    """Two rounds per cell give no interval, so no size has a verdict: the row read 'never
    (alloca wins at no size measured)' although malloc cost 6x alloca at every size."""
    two_rounds = make_result(noisy((1.0, 1.5, 9.0), shape=(3, 2, 1, 2)), machine=MACHINE)
    text = fleet_table(fleet([two_rounds], labels=["two"]))
    assert "never" not in text
    assert "no verdict (no size has an interval: too few rounds, or cells not ok)" in text


def test_a_size_measured_in_two_rounds_says_too_few_rounds_not_not_measured(make_result,
                                                                           noisy):
    two_rounds = make_result(noisy((1.0, 1.5, 9.0), shape=(3, 2, 1, 2)), machine=MACHINE)
    got = fleet([two_rounds], labels=["two"])
    assert got.rounds.tolist() == [[2, 2]]
    text = fleet_table(got)
    assert NOT_MEASURED not in text and text.count("no interval (2 rounds, needs 3)") == 2
    shown = re.sub(r"<[^>]+>", "", fleet_html(got))  # the text a reader sees
    assert shown.count("no interval (2 rounds, needs 3)") == 2


def test_the_table_has_a_row_per_machine_and_says_not_measured(three):
    text = fleet_table(three)
    summary = text.split("\n\n")[1].splitlines()
    assert [line.split()[0] for line in summary[1:]] == ["glibc", "tcmalloc", "no-alloca"]
    assert "tcmalloc_minimal" in text and NOT_MEASURED in text
    row_64k = next(line for line in text.splitlines() if line.startswith("64 KiB"))
    assert row_64k.count(NOT_MEASURED) == 2 and "x [" in row_64k
    assert "ld_preload" in text  # the metadata that differs


def test_the_table_of_five_machines_fits_120_columns(make_result, noisy):
    results = [make_result(noisy((1.0, 1.5, 9.0)), machine=dict(MACHINE, hostname=f"h{k}"))
               for k in range(5)]
    got = fleet(results, labels=[f"m{k}" for k in range(5)])
    ratios = fleet_table(got).split("\n\n")[2]
    assert max(len(line) for line in ratios.splitlines()) <= 120


def test_long_labels_split_the_per_size_tables_into_blocks_of_120_columns(make_result, noisy):
    results = [make_result(noisy((1.0, 1.5, 9.0)), machine=dict(MACHINE, hostname=f"h{k}"))
               for k in range(8)]
    labels = [f".benchmarks/Linux-CPython-3.11-64bit/000{k}_a_long_commit_name" for k in range(8)]
    text = fleet_table(fleet(results, labels=labels))
    ratios = text.split("[95% interval]\n")[1].split("\nwarnings")[0]
    assert max(len(line) for line in ratios.splitlines()) <= 120
    assert all(label in ratios for label in labels)
    assert ratios.count("64 B ") >= 4  # the size column repeated on each block


def test_markdown_has_the_same_rows(three):
    text = fleet_markdown(three)
    assert "| glibc |" in text and "| tcmalloc |" in text and "| no-alloca |" in text
    assert text.count("|---|") >= 2


def test_csv_has_a_row_per_machine_and_size_empty_where_not_measured(three):
    rows = list(csv.DictReader(io.StringIO(fleet_csv(three))))
    assert len(rows) == 3 * 3
    by = {(r["machine"], r["size"]): r for r in rows}
    assert by[("glibc", "65536")]["ratio"] == "" and by[("tcmalloc", "65536")]["ratio"] != ""
    assert float(by[("glibc", "64")]["ratio"]) == pytest.approx(three.ratio[0, 0])


def test_json_is_strict_and_null_where_not_measured(three):
    data = json.loads(fleet_json(three))
    assert data == json.loads(json.dumps(fleet_dict(three), default=str))
    assert [m["label"] for m in data["machines"]] == ["glibc", "tcmalloc", "no-alloca"]
    assert data["machines"][0]["sizes"][2]["ratio"] is None
    assert data["machines"][2]["crossover"] is None


def test_the_page_fetches_nothing_and_escapes_what_it_shows(make_result, noisy):
    hostile = make_result(noisy((1.0, 1.5, 9.0)), machine=dict(MACHINE))
    page = fleet_html(fleet(hostile, labels=['<script>alert("x")</script>']))
    assert '<script>alert("x")' not in page and "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # No address leaves the page: the only URL is the SVG namespace, which is never fetched.
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page)


def _css_rules(page: str) -> list[tuple[str, str]]:
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    return [(sel.strip(), body) for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)]


def test_the_machine_table_is_as_wide_as_its_longest_parts_not_its_longest_lines(three):
    """What keeps the table within a 1400 px window: the ratio's words head its size columns
    once (each size column is headed by its size alone), headings wrap, an interval or a note
    goes on a line of its own under its value, and the warnings break between kinds."""
    page = fleet_html(three)
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    top, sizes = re.findall(r"<tr>(.*?)</tr>", head)
    assert re.findall(r'<th class="size" data-col="(\d+)">([^<]*)</th>', sizes) == [
        ("7", "64 B"), ("8", "4 KiB"), ("9", "64 KiB")]
    assert '<th colspan="3" scope="colgroup">malloc/alloca at each size [95%]</th>' in top
    assert re.findall(r'<th rowspan="2" data-col="(\d)">', top) == list("0123456")
    rules = _css_rules(page)
    assert [sel for sel, body in rules if "nowrap" in body and "th" in sel] == ["th.size"]
    assert any(sel == "td.num .ci" and "display:block" in body for sel, body in rules)
    assert not any(sel.startswith("td.warn") and re.search(r"(?<![-\w])width:", body)
                   for sel, body in rules)
    assert any(sel == "td.warn .kind" and "nowrap" in body for sel, body in rules)
    row = re.search(r'<tr data-machine="tcmalloc">.*?</tr>', page, re.S).group(0)
    assert re.findall(r'<td class="num" data-sort="[^"]+">([^<]*) <span class="ci">([^<]*)'
                      r"</span></td>", row) == [
        ("&gt;= 64 KiB", "(largest measured)"),
        ("2x", "[1.98, 2.03]"), ("1.99x", "[1.96, 2.03]"), ("1.99x", "[1.96, 2.04]")]


def test_the_page_draws_a_line_per_machine_in_its_own_style(three):
    page = fleet_html(three)
    lines = re.findall(r'<polyline[^>]*stroke="(#[0-9A-Fa-f]{6})"[^>]*data-machine="([^"]+)"',
                       page)
    assert [m for _, m in lines] == ["glibc", "tcmalloc"]  # no-alloca has no ratio to draw
    assert [c for c, _ in lines] == [series_style(0).color, series_style(1).color]


def test_series_styles_differ_for_any_256_series():
    styles = [series_style(k) for k in range(256)]
    assert len(set(styles)) == 256


def test_every_warning_stands_beside_its_row(make_result, noisy):
    loaded = make_result(noisy((1.0, 1.5, 9.0)), machine=dict(MACHINE, loadavg_1min=9.0,
                                                                cpu_count=2))
    got = fleet(loaded, labels=["busy"])
    row = re.search(r'<tr data-machine="busy">.*?</tr>', fleet_html(got), re.S).group(0)
    warnings = loaded.warnings
    assert any(w.startswith("loaded machine") for w in warnings)
    for warning in warnings:
        assert warning.split(":")[0] in row
    assert [w for line in fleet_markdown(got).splitlines() if line.startswith("- **busy**")
            for w in [line.split(": ", 1)[1]]] == list(warnings)


# --- in a real browser ---------------------------------------------------------------------

def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def browser_page():
    """A Playwright page in the system's headless Chromium, with the requests it made and its
    console errors."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (the fleet extra)")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        seen = {"requests": [], "errors": []}
        page.on("request", lambda r: seen["requests"].append(r.url))
        page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        yield page, seen
        browser.close()


def _rows(page):
    return page.eval_on_selector_all("#machines tbody tr", "rows => rows.map(r => r.dataset.machine)")


def test_the_page_in_chromium_shows_sorts_and_fetches_nothing(three, tmp_path, browser_page):
    page, seen = browser_page
    path = tmp_path / "fleet.html"
    path.write_text(fleet_html(three), encoding="utf-8")
    page.goto(path.as_uri())
    assert _rows(page) == ["glibc", "tcmalloc", "no-alloca"]
    ratio_64 = page.locator("#machines thead th.size", has_text=re.compile(r"^64 B$"))
    ratio_64.click()
    assert _rows(page) == ["tcmalloc", "glibc", "no-alloca"]  # ascending, not measured last
    ratio_64.click()
    assert _rows(page) == ["glibc", "tcmalloc", "no-alloca"]  # descending, still last
    page.click("#machines thead th:nth-child(1)")
    assert _rows(page) == ["glibc", "no-alloca", "tcmalloc"]
    assert page.locator("#ratio-plot polyline").count() == 2
    page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)
    assert seen["errors"] == []
    assert seen["requests"] == [path.as_uri()]
