"""present.threads: the table of a ThreadsResult (each thread's ns/op, throughput, both
efficiencies, oversubscribed counts, a cell's status where it has no figure), the lines of cells
that are not "ok", and the scaling plot."""
import sys

import numpy as np
import pytest

from alloca_bench.present.threads import plot_threads, status_lines, threads_header
from alloca_bench.results import ThreadsResult


def result(cpus=2, status=None, reasons=None):
    """baseline and malloc at 64 B, 1 and 2 threads: 10 ns/op per thread; the 2-thread span
    20 ns/op (efficiency 0.5)."""
    per_thread = np.full((2, 1, 2, 3, 2), np.nan)
    per_thread[:, :, 0, :, 0] = 10.0
    per_thread[:, :, 1] = 10.0
    span = np.stack([np.full((2, 1, 3), 10.0), np.full((2, 1, 3), 20.0)], axis=2)
    if status is not None:
        per_thread[status == "unavailable"] = np.nan
        span[status == "unavailable"] = np.nan
    return ThreadsResult(strategies=("baseline", "malloc"), sizes=np.array([64]),
                         threads=(1, 2), pattern="same", touch="pages",
                         ns_per_op=per_thread, span_ns_per_op=span,
                         faults_per_op=np.zeros((2, 1, 2, 3)),
                         batch_iterations=np.full((2, 1, 2), 100), status=status,
                         reasons=reasons, params={"cpus": cpus, "processes": 1})


def test_the_table_gives_each_threads_ns_the_throughput_and_the_efficiencies():
    rows = result().table().splitlines()
    assert rows[0].split()[:4] == ["size", "strategy", "threads", "ns/op"]
    assert rows[-1].split() == ["64", "B", "malloc", "2", "10", "/", "10", "100", "0.5", "1"]


def test_oversubscribed_counts_are_marked_in_the_table_and_the_header():
    r = result(cpus=1)
    assert r.table().splitlines()[-1].endswith("oversubscribed")
    assert threads_header(r).endswith("oversubscribed at 2 threads")
    assert "oversubscribed" not in threads_header(result())


def test_a_cell_without_figures_shows_its_status_and_its_reason_is_listed():
    status = np.array([[["ok", "ok"]], [["ok", "unavailable"]]])
    r = result(status=status, reasons={("malloc", 64, 2): "the stack cannot"})
    assert "unavailable" in r.table().splitlines()[-1]
    assert status_lines(r) == ["unavailable: malloc at 64 B, 2 threads: the stack cannot"]


def test_the_plot_draws_a_line_of_efficiencies_per_strategy():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = result().plot()
    lines = [l for l in ax.get_lines() if l.get_label() in ("baseline", "malloc")]
    assert [list(l.get_ydata()) for l in lines] == [[1.0, 0.5], [1.0, 0.5]]
    assert ax is plot_threads(result(), ax=ax)


def test_the_legend_stands_right_of_the_panel_over_no_data():
    """As in every other plot (test_plot.py): not loc="best", which may cover a line."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = result().plot()
    fig = ax.figure
    fig.canvas.draw()
    box, panel = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert box.x0 >= panel.x1 and abs(box.y1 - panel.y1) < 1  # right of it, tops aligned
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
    assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1


def test_without_matplotlib_the_plot_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "alloca-bench\[plot\]"'):
        result().plot()
