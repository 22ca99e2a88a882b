"""present/tables.py: the notebook display means by ± what the text table means by it; empty
sizes x iterations are left out."""
import dataclasses
import re

import numpy as np

from alloca_bench.present._format import format_plus_minus
from alloca_bench.present.tables import result_markdown


def test_html_display_shows_the_tables_plus_minus_and_err_pct(clean_result):
    r = clean_result()
    page = r._repr_html_()
    st = r.stats()
    c = (r.strategies.index("alloca"), 0, 0)
    half = format_plus_minus(st["median"][c], st["low"][c], st["high"][c])
    assert half in r.table() and half in page  # the same figure, not err% behind a ±
    assert "± the larger half of its 95% interval" in page
    assert re.search(r"err% \d+\.\d%", page)


def test_sizes_x_iterations_without_any_sample_are_left_out_and_counted(make_result):
    """A pytest-benchmark file with one iteration count per size leaves most (size, iterations)
    combinations empty: no rows of dashes for them, one line saying how many; a single empty
    cell beside measured ones still shows."""
    import numpy as np

    ns = np.full((3, 2, 2, 3), np.nan)
    ns[:, 0, 0] = 10.0  # 64 B measured at 100 ops per batch only
    ns[1:, 1, 1] = 20.0  # 4 KiB at 1000, without a baseline
    r = make_result(ns, iterations=(100, 1000))
    text = r.table()
    rows = [line.split()[:4] for line in text.splitlines()[1:] if line[:1].isdigit()]
    assert [row[:3] for row in rows] == [["64", "B", "100"]] * 3 + [["4", "KiB", "1000"]] * 3
    assert rows[3][3] == "baseline" and "-" in text.splitlines()[4]
    assert "(2 size x iterations combination(s) without any sample are not shown)" in text
    assert "\n\n(2 size x iterations combination(s) without any sample" in result_markdown(r)
    assert r._repr_html_().count("<tr>") == 1 + 2


def test_a_table_of_a_result_with_cells_not_ok_names_their_status(known_result):
    assert "status" not in known_result().table().splitlines()[0]
    lines = known_result(complete=False).table().splitlines()
    assert lines[0].split()[-1] == "status"
    marked = [line.split()[3] + " " + line.split()[-1] for line in lines[1:7]
              if line.endswith("interrupted")]
    assert marked == ["malloc interrupted"]


def test_the_notebook_display_names_the_status_of_a_cell_that_is_not_ok(known_result):
    """A failed cell reads "failed" with its reason on hover, not "- -, - faults"; a cell cut
    short keeps its figures and says "interrupted"."""
    r = known_result(complete=False)
    assert "interrupted</small>" in r._repr_html_()
    assert "interrupted</small>" not in known_result()._repr_html_()
    status = r.status.copy()
    status[1, 0, 0] = "failed"
    ns = r.ns_per_op.copy()
    ns[1, 0, 0] = np.nan
    failed = dataclasses.replace(r, status=status, ns_per_op=ns,
                                 reasons={("alloca", 64, "auto"): "killed by signal 11"})
    page = failed._repr_html_()
    assert '<td title="killed by signal 11">failed</td>' in page
    assert "- faults" not in page


def test_csv_has_the_interval_columns_and_leaves_the_baselines_net_empty(clean_result):
    """The table shows ±: the CSV carries the interval itself; the baseline's net (0 by
    definition, not a cost) is empty, not 0.0."""
    import csv
    import io

    from alloca_bench.present.tables import result_csv

    r = clean_result()
    rows = list(csv.DictReader(io.StringIO(result_csv(r))))
    st = r.stats()
    alloca = rows[1]
    assert alloca["strategy"] == "alloca"
    assert float(alloca["ns_per_op_low"]) == st["low"][1, 0, 0]
    assert float(alloca["ns_per_op_high"]) == st["high"][1, 0, 0]
    assert float(alloca["net_ns_per_op_low"]) <= float(alloca["net_ns_per_op"]) \
        <= float(alloca["net_ns_per_op_high"])
    assert rows[0]["strategy"] == "baseline" and rows[0]["net_ns_per_op"] == ""
    assert "bytes_per_s" not in rows[0]  # touch pages: not every byte is written


def test_touch_full_adds_bytes_per_second_to_table_and_csv(clean_result):
    """touch=full writes every byte: size / median as bytes/s (the baseline writes none)."""
    import csv
    import io

    from alloca_bench.present.tables import result_csv

    r = clean_result(touch="full")
    header = r.table().splitlines()[0].split()
    assert header[-1] == "bytes/s"
    rows = list(csv.DictReader(io.StringIO(result_csv(r))))
    assert rows[0]["bytes_per_s"] == ""
    assert float(rows[1]["bytes_per_s"]) == 64 / r.median()[1, 0, 0] * 1e9
    line = r.table().splitlines()[2]  # alloca at 64 B
    assert line.endswith("GiB/s")


def test_warnings_under_the_table_are_wrapped_at_100_characters(make_result):
    """A warning naming four cells runs over 500 characters: it is wrapped, continuation
    lines indented, no word cut."""
    r = make_result(np.random.default_rng(1).uniform(1, 30, (3, 2, 1, 5)))
    lines = r.table().split("\nWARNING ", 1)[1].splitlines()
    assert len(r.warnings[0]) > 200
    assert all(len(line) <= 100 for line in lines)
    assert any(line.startswith("  ") for line in lines)
