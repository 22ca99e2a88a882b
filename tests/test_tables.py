"""present/tables.py: the notebook display means by ± what the text table means by it; empty
sizes x iterations are left out."""
import re

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
