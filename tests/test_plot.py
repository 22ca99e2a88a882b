"""Figures of a Result and a Comparison: panels, scales, machine markers, missing cells, the
`plot` command, and the message when matplotlib is not installed."""
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import alloca_bench as ab  # noqa: E402
from alloca_bench.cli import main  # noqa: E402
from alloca_bench.present.plot import INSTALL_HINT, machine_markers  # noqa: E402



@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _vlines(ax):
    """x of the vertical lines drawn across `ax`."""
    return sorted({float(line.get_xdata()[0]) for line in ax.get_lines()
                   if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]})


def test_result_plot_has_log_axes_a_faults_panel_and_the_machine_markers(machine_meta,
                                                                         make_result, noisy):
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 9)),
                    machine=dict(machine_meta, glibc_tunables=None, ld_preload=None))
    ax = r.plot()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    faults_ax = ax.figure.axes[1]
    assert faults_ax.get_ylabel() == "page faults per op"
    safe = machine_meta["stack_headroom"] - machine_meta["stack_margin"]
    assert _vlines(ax) == [1032, 4096, 128 * 1024, safe] == _vlines(faults_ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["baseline", "alloca",
                                                                   "malloc"]
    assert len(ax.collections) == 3  # one interquartile band per strategy


def test_incomplete_result_plots_and_crosses_the_missing_cells(make_result, noisy):
    ns = noisy([2, 3, 20], shape=(3, 2, 1, 9))
    ns[2, 1] = np.nan
    r = make_result(ns)
    ax = r.plot()
    assert "INCOMPLETE" in ax.get_title()
    assert "not measured" in [t.get_text() for t in ax.get_legend().get_texts()]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x" and
               len(line.get_xdata())]
    assert [list(line.get_xdata()) for line in crosses] == [[4096.0]]


def test_plot_on_a_given_axes_draws_one_panel(make_result, noisy):
    fig, ax = plt.subplots()
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5)))
    assert r.plot(ax=ax, strategies=["alloca", "malloc"], markers=False) is ax
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match=r"strategies \['mmap'\]"):
        r.plot(strategies=["mmap"])


def test_machine_markers_follow_the_allocator_in_use(machine_meta):
    pinned = machine_markers(dict(machine_meta, glibc_tunables="glibc.malloc.mmap_threshold=65536"))
    assert (65536, "mmap threshold 64 KiB (pinned)") in pinned
    preloaded = [size for size, _ in machine_markers(dict(machine_meta, ld_preload="/x/libtc.so"))]
    assert 1032 not in preloaded and 128 * 1024 not in preloaded  # not glibc's malloc then
    assert machine_markers({}) == []


def test_comparison_plot_shows_ratios_with_hollow_markers_when_not_significant(make_result, noisy):
    a = make_result(noisy([2, 3, 20], seed=1))
    b = make_result(noisy([2, 3, 40], seed=2))
    ax = ab.compare(a, b).plot()
    assert ax.get_yscale() == "log" and len(ax.figure.axes) == 2
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"
              and len(line.get_xdata())]
    filled = [line for line in ax.get_lines() if line.get_marker() == "o"
              and line.get_markerfacecolor() != "white" and len(line.get_xdata())]
    assert len(hollow) == 2 and len(filled) == 1  # baseline, alloca n.s.; malloc 2x slower


def test_plot_command_writes_a_png(make_result, noisy, tmp_path, capsys):
    path = tmp_path / "r.json"
    make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5))).save(path)
    out = tmp_path / "fig.png"
    assert main(["plot", str(path), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    two = tmp_path / "two.png"
    assert main(["plot", str(path), str(path), "-o", str(two), "--normalize", "alloca"]) == 0
    assert two.stat().st_size > 1000


def test_without_matplotlib_the_error_names_the_extra(make_result, noisy, monkeypatch, tmp_path,
                                                     capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5)))
    with pytest.raises(ImportError, match=r'pip install "alloca-bench\[plot\]"'):
        r.plot()
    with pytest.raises(ImportError, match="alloca-bench"):
        ab.compare(r, r).plot()
    r.save(tmp_path / "r.json")
    assert main(["plot", str(tmp_path / "r.json"), "-o", str(tmp_path / "f.png")]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
