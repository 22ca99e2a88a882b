"""present/tables.py: the notebook display means by ± what the text table means by it."""
import re

from alloca_bench.present._format import format_plus_minus


def test_html_display_shows_the_tables_plus_minus_and_err_pct(clean_result):
    r = clean_result()
    page = r._repr_html_()
    st = r.stats()
    c = (r.strategies.index("alloca"), 0, 0)
    half = format_plus_minus(st["median"][c], st["low"][c], st["high"][c])
    assert half in r.table() and half in page  # the same figure, not err% behind a ±
    assert "± the larger half of its 95% interval" in page
    assert re.search(r"err% \d+\.\d%", page)
