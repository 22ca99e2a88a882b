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
from alloca_bench.present.plot import (  # noqa: E402
    INSTALL_HINT,
    machine_markers,
    strategy_styles,
)



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
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 9)), sizes=(64, 16 << 20),
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
    assert (65536, "glibc mmap threshold 64 KiB (pinned)") in pinned
    preloaded = [size for size, _ in machine_markers(dict(machine_meta, ld_preload="/x/libtc.so"))]
    assert 1032 not in preloaded and 128 * 1024 not in preloaded  # not glibc's malloc then
    assert machine_markers({}) == []


README_ALLOCATORS = ["baseline", "alloca", "malloc", "malloc@glibc", "malloc@jemalloc",
                     "malloc@tcmalloc", "malloc@mimalloc"]


def test_every_strategy_of_a_figure_has_its_own_colour_and_keeps_it_in_other_figures():
    styles = strategy_styles(README_ALLOCATORS + ["vla", "calloc", "mmap"])
    colors = [color for color, _ in styles.values()]
    assert len(set(colors)) == len(colors)  # ten strategies, ten colours
    for other in (["alloca", "malloc@mimalloc"], ["baseline", "malloc@tcmalloc", "alloca"]):
        assert all(strategy_styles(other)[s] == styles[s] for s in other)
    # Past ten, colours come round with another line style: never the same pair twice.
    many = ["baseline", "fixed", "alloca", "vla", "malloc", "calloc", "mmap", "alloca_probed",
            "vla_probed", "malloc@glibc", "malloc@jemalloc", "malloc@tcmalloc", "malloc@mimalloc",
            "calloc@jemalloc", "malloc@custom1", "malloc@custom2"]
    pairs = [(c, str(st)) for c, st in strategy_styles(many).values()]
    assert len(set(pairs)) == len(pairs) == len(many)
    # Names the palette does not know take colours no strategy of this figure holds.
    custom = strategy_styles(["alloca", "malloc", "malloc@custom"])
    assert custom["malloc@custom"][0] not in (custom["alloca"][0], custom["malloc"][0])


def test_the_faults_panel_draws_each_strategy_in_its_own_colour(make_result, noisy):
    """The README's allocator example with malloc@glibc beside: only mimalloc faults, and no
    other line shares its colour (it used to be alloca's)."""
    n = len(README_ALLOCATORS)
    faults = np.zeros((n, 2, 1, 5))
    faults[README_ALLOCATORS.index("malloc@mimalloc"), 1] = 0.3  # at 4 KiB
    r = make_result(noisy(np.arange(1, n + 1), shape=(n, 2, 1, 5)), strategies=README_ALLOCATORS,
                    faults=faults)
    faults_ax = r.plot().figure.axes[1]
    lines = [line for line in faults_ax.get_lines() if len(line.get_xdata()) == 2
             and line.get_xdata()[0] != line.get_xdata()[1]]
    faulting = [line for line in lines if np.nanmax(line.get_ydata()) > 0]
    assert len(faulting) == 1
    same = [line for line in lines if line.get_color() == faulting[0].get_color()]
    assert same == faulting


def _ratio_labels(ax):
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text()]


def test_the_medians_panel_of_a_comparison_labels_large_values_in_plain_numbers(make_result,
                                                                              noisy):
    """16384 ns, not 1.64e+04."""
    a = make_result(noisy([2, 300, 20000], seed=1, spread=0.01))
    b = make_result(noisy([2, 300, 20000], seed=2, spread=0.01))
    ax = ab.compare(a, b).plot()
    (values_ax,) = [other for other in ax.figure.axes if other is not ax
                    and other.get_ylabel().startswith("median")]
    labels = _ratio_labels(values_ax)
    assert labels and not [text for text in labels if "e+" in text], labels
    assert "16384" in labels or "4096" in labels


def test_comparison_ratio_axis_is_labelled_and_intervals_sit_at_measured_sizes(make_result,
                                                                               noisy):
    a = make_result(noisy([2, 3, 20], seed=1, spread=0.01))
    b = make_result(noisy([2, 3, 20], seed=2, spread=0.01))
    ax = ab.compare(a, b).plot()
    labels = _ratio_labels(ax)
    assert len(labels) >= 4 and "1x" in labels
    steps = np.diff(np.log(ax.get_yticks()))
    assert np.allclose(steps, steps[0])  # one factor from tick to tick
    assert not [c for c in ax.collections if type(c).__name__ in ("PolyCollection",
                                                                 "FillBetweenPolyCollection")]
    bars = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert len(bars) == 3  # one set of interval bars per strategy
    for bar in bars:
        xs = [segment[0][0] for segment in bar.get_segments()]
        assert len(xs) == 2  # one bar per measured size, nothing between
        assert all(min(abs(np.log2(x / size)) for size in (64, 4096)) < 0.2 for x in xs)


def test_glibc_markers_only_where_glibc_served_the_cells(make_result, noisy, machine_meta):
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5)),
                    strategies=("baseline", "alloca", "malloc@jemalloc"),
                    machine=dict(machine_meta, glibc_tunables=None, ld_preload=None))
    jemalloc = {"process": "child", "allocator": "jemalloc", "mmap_threshold": None}
    glibc = {"process": "self", "allocator": "glibc", "mmap_threshold": "dynamic"}
    r.params["placement"] = {"baseline": glibc, "alloca": glibc, "malloc@jemalloc": jemalloc}
    assert 1032 not in _vlines(r.plot()) and 128 * 1024 not in _vlines(r.plot())
    # Plain malloc under LD_PRELOAD=tcmalloc: not glibc's either, and the title says whose.
    tc = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5)),
                     machine=dict(machine_meta, ld_preload="/x/libtcmalloc_minimal.so.4"))
    tcmalloc = {"process": "self", "allocator": "tcmalloc", "version": "gperftools 2.10",
                "mmap_threshold": None}
    tc.params["placement"] = {"baseline": tcmalloc, "alloca": tcmalloc, "malloc": tcmalloc}
    ax = tc.plot()
    assert 1032 not in _vlines(ax) and 128 * 1024 not in _vlines(ax)
    assert "malloc: tcmalloc gperftools 2.10" in ax.get_title()
    # glibc's malloc with a pinned threshold: marked where it is, named as glibc's.
    pinned = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5)), sizes=(64, 1 << 20))
    pinned.params["placement"] = {"malloc": dict(glibc, mmap_threshold=65536)}
    ax = pinned.plot()
    assert {1032, 65536} <= set(_vlines(ax)) and 128 * 1024 not in _vlines(ax)
    top = [t.get_text() for t in ax.child_axes[0].get_xticklabels()]
    assert "glibc mmap threshold 64 KiB (pinned)" in top


def test_comparison_plot_shows_ratios_with_hollow_markers_when_not_significant(make_result, noisy):
    a = make_result(noisy([2, 3, 20], seed=1))
    b = make_result(noisy([2, 3, 40], seed=2))
    ax = ab.compare(a, b).plot()
    assert ax.get_yscale() == "log" and len(ax.figure.axes) == 2
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"
              and len(line.get_xdata())]
    filled = [line for line in ax.get_lines() if line.get_linestyle() == "None"
              and line.get_marker() not in ("None", "x", "_", "|")
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


def test_plot_command_says_the_file_it_really_wrote(make_result, noisy, tmp_path, capsys):
    """-o DIR writes DIR/NAME.png, -o NAME (no suffix) writes NAME.png; each says so."""
    path = tmp_path / "r.json"
    make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5))).save(path)
    figures = tmp_path / "figures"
    figures.mkdir()
    assert main(["plot", str(path), "-o", str(figures)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {figures / 'r.png'}"
    assert (figures / "r.png").read_bytes()[:4] == b"\x89PNG"
    bare = tmp_path / "fig"
    assert main(["plot", str(path), "-o", str(bare)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {bare}.png"
    assert (tmp_path / "fig.png").exists() and not bare.exists()


@pytest.mark.parametrize("argv, text", [(["--dpi", "100000"], "--dpi must be between 10 and 600"),
                                        (["--dpi", "0"], "--dpi must be between"),
                                        (["-o", "fig.xyz"], "cannot write a .xyz figure")])
def test_plot_command_refuses_what_it_cannot_draw_with_one_line(argv, text, make_result, noisy,
                                                               tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5))).save(tmp_path / "r.json")
    assert main(["plot", "r.json", "-o", "fig.png", *argv]) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err and "MemoryError" not in err
    assert not list(tmp_path.glob("fig*"))


def test_a_writer_that_fails_is_a_one_line_error(make_result, noisy, tmp_path, capsys,
                                                 monkeypatch):
    """-o fig.pgf is among the suffixes offered, but its writer needs xelatex: matplotlib's
    RuntimeError went out as a traceback."""
    from matplotlib.figure import Figure

    def no_tex(self, *args, **kwargs):
        raise RuntimeError("'xelatex' not found; install it")

    monkeypatch.setattr(Figure, "savefig", no_tex)
    monkeypatch.chdir(tmp_path)
    make_result(noisy([2, 3, 20], shape=(3, 2, 1, 5))).save(tmp_path / "r.json")
    assert main(["plot", "r.json", "-o", "fig.pgf"]) == 2
    assert capsys.readouterr().err == ("alloca-bench plot: error: cannot write fig.pgf: "
                                       "'xelatex' not found; install it\n")


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


def _files(make_result, noisy, n):
    return [make_result(noisy([2, 3, 20 + k], seed=k + 1, spread=0.01)) for k in range(n)]


def _ratio_lines(ax, sizes=2):
    return [line for line in ax.lines
            if line.get_linestyle() != "None" and len(line.get_xdata()) == sizes]


def test_five_files_of_one_strategy_each_have_a_colour_of_their_own(make_result, noisy):
    ax = ab.compare(*_files(make_result, noisy, 5)).plot(strategies=["malloc"])
    lines = [line for line in _ratio_lines(ax) if line.get_ydata()[0] != 1]  # not the 1x line
    assert len(lines) == 4
    assert len({matplotlib.colors.to_hex(line.get_color()) for line in lines}) == 4


def test_eight_files_of_several_strategies_each_have_a_dash_and_marker_of_their_own(
        make_result, noisy):
    ax = ab.compare(*_files(make_result, noisy, 8)).plot(strategies=["alloca", "malloc"])
    legend = dict(zip((t.get_text() for t in ax.get_legend().get_texts()),
                      ax.get_legend().get_lines()))
    files = [legend[f"{label}/a"] for label in "bcdefgh"]
    looks = {(str(line.get_linestyle()), line.get_marker()) for line in files}
    assert len(looks) == 7


def test_plot_command_labels_name_the_files(make_result, noisy, tmp_path, capsys):
    paths = []
    for k in range(3):
        paths.append(str(tmp_path / f"{k:04d}_a_long_pytest_benchmark_name.json"))
        make_result(noisy([2, 3, 20 + k], seed=k + 1)).save(paths[-1])
    out = tmp_path / "cmp.png"
    assert main(["plot", *paths, "-o", str(out), "--labels", "old,new,newer"]) == 0
    assert out.stat().st_size > 0
    assert main(["plot", *paths, "-o", str(tmp_path / "x.png"), "--labels", "a,b"]) == 2
    assert "--labels names 2 file(s) for 3" in capsys.readouterr().err


def test_the_size_axis_spans_the_data_not_the_stack_limit_marker(machine_meta, make_result,
                                                                 noisy):
    """A result that ends at 4 KiB: the axis ends near 4 KiB, and the markers past it (mmap
    threshold, stack limit near 8 MiB) are left out instead of stretching it."""
    r = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 9)),
                    machine=dict(machine_meta, glibc_tunables=None, ld_preload=None))
    ax = r.plot()
    assert ax.get_xlim()[1] <= 4096 * 1.5 + 1
    assert _vlines(ax) == [1032, 4096]


THIRTEEN = ("baseline", "fixed", "alloca", "vla", "malloc", "calloc", "mmap", "alloca_probed",
            "vla_probed", "malloc@glibc", "malloc@jemalloc", "malloc@tcmalloc", "malloc@mimalloc")


@pytest.mark.parametrize("figure", ["result", "thirteen strategies", "two files",
                                    "eight files of two strategies"])
def test_every_legend_stands_right_of_its_panel_over_no_data(figure, make_result, noisy):
    """Each panel's legend lies right of its axes and overlaps no panel's data area (the
    comparison's interval bars included), and the figure holds it whole."""
    if figure == "result":
        ax = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 9))).plot()
    elif figure == "thirteen strategies":
        center = np.arange(1, 14, dtype=float)[:, None, None, None]
        ax = make_result(center * np.ones((13, 2, 1, 5)), strategies=THIRTEEN).plot()
    elif figure == "two files":
        ax = ab.compare(*_files(make_result, noisy, 2)).plot()
    else:
        ax = ab.compare(*_files(make_result, noisy, 8)).plot(strategies=["alloca", "malloc"])
    fig = ax.figure
    fig.canvas.draw()
    legends = [(a, a.get_legend()) for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == (2 if "files" in figure else 1)  # the medians panel has its own
    for panel, legend in legends:
        box = legend.get_window_extent()
        assert box.x0 >= panel.get_window_extent().x1
        assert not any(box.overlaps(a.get_window_extent()) for a in fig.axes)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1


def test_a_narrow_log_range_is_labelled_in_plain_numbers(make_result, noisy):
    """2 to 5 ns: ticks 2, 3, 4, 5, not "2x10^0"."""
    ax = make_result(noisy([2, 3, 5], shape=(3, 2, 1, 9))).plot()
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels == ["2", "3", "4", "5"]
    wide = make_result(noisy([1, 30, 20000], shape=(3, 2, 1, 9))).plot()
    wide.figure.canvas.draw()
    labels = [t.get_text() for t in wide.get_yticklabels() if t.get_text()]
    assert labels[:2] == ["1", "10"] and "10000" in labels and not any("e" in t for t in labels)


def test_a_result_without_any_sample_says_nothing_was_measured(known_result):
    """Ctrl-C before the first round: table and plot say so, with the reason."""
    import dataclasses

    r = known_result()
    empty = dataclasses.replace(
        r, ns_per_op=np.full_like(r.ns_per_op, np.nan),
        status=np.full(r.status.shape, "interrupted"),
        reasons={(s, int(z), "auto"): "Ctrl-C before its first round" for s in r.strategies
                 for z in r.sizes})
    from alloca_bench.present.tables import result_markdown

    said = "nothing was measured (6 interrupted: Ctrl-C before its first round)"
    assert empty.table() == result_markdown(empty) == said
    assert said in empty._repr_html_()
    with pytest.raises(ValueError, match="nothing was measured .6 interrupted: Ctrl-C"):
        empty.plot()


def test_the_title_counts_the_rounds_measured(make_result, noisy):
    ns = noisy([2, 3, 20], shape=(3, 2, 1, 9))
    ns[..., 3:] = np.nan  # Ctrl-C after three of nine rounds
    assert "3 of 9 rounds" in make_result(ns).plot().get_title()
