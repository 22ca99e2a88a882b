"""compare(): alignment, ratios with intervals, significance, error
messages and the `compare` command (crossover and summary: test_answers.py)."""
import dataclasses
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.cli import main
from alloca_bench.analysis.compare import Comparison
from alloca_bench.present.comparison import comparison_header, comparison_table
from alloca_bench.exceptions import ResultFileError










def test_same_distribution_is_not_significant_and_ratio_is_one(make_result, noisy):
    a = make_result(noisy([2, 3, 20], seed=1))
    b = make_result(noisy([2, 3, 20], seed=2))
    c = ab.compare(a, b)
    assert isinstance(c, Comparison)
    assert c.ratio.shape == (2, 3, 2, 1) == c.low.shape == c.significant.shape
    assert np.allclose(c.ratio[0], 1) and np.allclose(c.ratio[1], 1, atol=0.05)
    assert np.all(c.low[1] <= c.ratio[1]) and np.all(c.ratio[1] <= c.high[1])
    assert not c.significant.any()
    assert c.slowdowns(0) == []
    assert "n.s." in comparison_table(c) and "geomean" in comparison_table(c)


def test_a_twofold_slowdown_is_significant_and_fails_above_a_threshold(make_result, noisy):
    a = make_result(noisy([2, 3, 20], seed=1))
    b = make_result(noisy([2, 3, 40], seed=2))
    c = ab.compare(a, b, labels=("glibc", "other"))
    assert c.significant[1, 2].all() and not c.significant[1, :2].any()
    assert np.allclose(c.ratio[1, 2], 2, rtol=0.05)
    assert c.low[1, 2].min() > 1.8 and c.high[1, 2].max() < 2.2
    slow = c.slowdowns(50)
    assert {(label, s) for label, s, *_ in slow} == {("other", "malloc")}
    assert c.slowdowns(150) == []
    assert c.geomean.shape == (2, 3)  # per result and strategy
    assert np.allclose(c.geomean[1, :2], 1, atol=0.05) and 1.9 < c.geomean[1, 2] < 2.1
    assert np.all(c.geomean_low[1] <= c.geomean[1]) and np.all(c.geomean[1] <= c.geomean_high[1])
    assert "other/glibc" in comparison_table(c)


def test_real_samples_of_two_strategies_differ_significantly(make_result):
    """alloca and malloc at 64 B, measured in one sweep, passed off as one strategy of two
    results: the comparison must find malloc's samples significantly slower."""
    r = ab.sweep(sizes=[64], strategies=("alloca", "malloc"), iterations=2000, repeats=9)
    pick = {name: r.ns_per_op[r.strategies.index(name)][None] for name in ("alloca", "malloc")}
    a = make_result(pick["alloca"], strategies=("x",), sizes=(64,), iterations=(2000,))
    b = make_result(pick["malloc"], strategies=("x",), sizes=(64,), iterations=(2000,))
    c = ab.compare(a, b)
    assert c.significant[1, 0, 0, 0] and c.ratio[1, 0, 0, 0] > 1


def test_normalize_cancels_a_machine_that_got_uniformly_slower(make_result, noisy):
    a = make_result(noisy([2, 3, 20], seed=1))
    b = make_result(noisy([2, 3, 20], seed=2) * 1.5)  # every kernel 1.5x: the machine's state
    raw = ab.compare(a, b)
    assert raw.significant[1].all()
    assert "drift" in comparison_header(raw)
    norm = ab.compare(a, b, normalize="alloca")
    assert norm.strategies == ("malloc",)
    assert not norm.significant.any()
    assert "x alloca" in comparison_table(norm)


def test_alignment_keeps_shared_cells_and_says_what_was_left_out(make_result, noisy):
    a = make_result(noisy([2, 3, 20]), sizes=(64, 4096))
    b = make_result(noisy([2, 3, 20, 50], shape=(4, 2, 1, 21)),
                    strategies=("baseline", "alloca", "malloc", "malloc@jemalloc"),
                    sizes=(4096, 65536))
    c = ab.compare(a, b)
    assert c.strategies == ("baseline", "alloca", "malloc")
    assert c.sizes.tolist() == [4096]
    assert c.left_out["strategies"] == {"b": ["malloc@jemalloc"]}
    assert c.left_out["sizes"] == {"a": [64], "b": [65536]}
    assert "left out" in comparison_header(c) and "malloc@jemalloc" in comparison_header(c)


def test_nothing_in_common_or_other_touch_is_a_clear_error(make_result, noisy):
    a = make_result(noisy([2, 3, 20]), sizes=(64, 4096))
    b = make_result(noisy([2, 3, 20]), sizes=(128, 256))
    with pytest.raises(ValueError, match=r"no sizes in common.*a has \[64, 4096\].*b has "
                                         r"\[128, 256\]"):
        ab.compare(a, b)
    c = make_result(noisy([2, 3, 20]), touch="full")
    with pytest.raises(ValueError, match="different touch modes.*touch='full'"):
        ab.compare(a, c)
    d = make_result(noisy([2], shape=(1, 2, 1, 21)), strategies=("vla",))
    with pytest.raises(ValueError, match="no strategies in common"):
        ab.compare(a, d)


def test_bad_arguments_name_the_value(make_result, noisy):
    a = make_result(noisy([2, 3, 20]))
    with pytest.raises(ValueError, match="at least two results, got 1"):
        ab.compare(a)
    with pytest.raises(TypeError, match="not int"):
        ab.compare(a, 3)
    with pytest.raises(ValueError, match="confidence"):
        ab.compare(a, a, confidence=1.5)
    with pytest.raises(ValueError, match="reference 'zz'"):
        ab.compare(a, a, reference="zz")
    with pytest.raises(ValueError, match="normalize='mmap'"):
        ab.compare(a, a, normalize="mmap")
    with pytest.raises(ValueError, match=r"threshold must be a fraction .* got 'x'"):
        ab.compare(a, a, threshold="x")


def test_a_seed_that_is_no_int_is_refused_by_name(make_result, noisy):
    """Not numpy's "unrecognized seed string"."""
    a = make_result(noisy([2, 3, 20]))
    with pytest.raises(TypeError, match=r"seed must be None or an int, not str \('x'\)"):
        ab.compare(a, a, seed="x")
    with pytest.raises(ValueError, match=r"seed must be None or an int >= 0, got -1"):
        ab.compare(a, a, seed=-1)
    assert ab.compare(a, a, seed=np.int64(7)).ratio.shape == ab.compare(a, a, seed=None).ratio.shape


def test_numpy_numbers_are_taken_as_their_values(make_result, noisy):
    """threshold, confidence and resamples computed with numpy are numbers like any other."""
    a = make_result(noisy([2, 3, 20]))
    got = ab.compare(a, a, threshold=np.float32(0.2), confidence=np.float64(0.9),
                     resamples=np.int64(200))
    assert got.threshold == pytest.approx(0.2) and got.confidence == 0.9


def test_machine_differences_are_in_the_header(machine_meta, make_result, noisy):
    a = make_result(noisy([2, 3, 20]))
    other = dict(machine_meta, cpu_model="another cpu", ld_preload="/lib/libtcmalloc.so")
    b = make_result(noisy([2, 3, 20]), machine=other)
    c = ab.compare(a, b)
    assert set(c.differences["b"]) == {"cpu_model", "ld_preload"}
    assert "cpu_model: 'cpu' -> 'another cpu'" in comparison_header(c)
    same = ab.compare(a, make_result(noisy([2, 3, 20])))
    assert "same as a's" in comparison_header(same)


def test_missing_cells_are_marked_and_never_significant(make_result, noisy):
    ns = noisy([2, 3, 20])
    ns[2, 1] = np.nan  # malloc at 4 KiB never measured
    a = make_result(noisy([2, 3, 20]))
    c = ab.compare(a, make_result(ns * 3))
    assert np.isnan(c.ratio[1, 2, 1, 0]) and not c.significant[1, 2, 1, 0]
    assert "not_run" in comparison_table(c)  # the status of the cell without a sample
    assert np.isfinite(c.geomean[1]).all()


def test_a_cell_not_ok_shows_its_status_where_its_ratio_would_be(make_result, noisy):
    ns = noisy([2, 3, 20])
    ns[2, 1] = np.nan
    base = make_result(ns)
    status = base.status.copy()
    status[2, 1, 0] = "failed"
    failed = dataclasses.replace(base, status=status,
                                 reasons={("malloc", 4096, "auto"): "out of memory"})
    c = ab.compare(make_result(noisy([2, 3, 20])), failed, labels=["a", "b"])
    assert c.status[1, 2, 1, 0] == "failed"
    row = next(line for line in comparison_table(c).splitlines()
               if line.startswith("4 KiB") and " malloc " in line)
    assert row.endswith("failed")
    back = ab.compare(failed, make_result(noisy([2, 3, 20])), labels=["b", "a"])
    assert "failed in b" in comparison_table(back)


def test_paths_load_and_a_newer_schema_is_refused(make_result, noisy, tmp_path):
    a = make_result(noisy([2, 3, 20]))
    a.save(tmp_path / "glibc.json")
    a.save(tmp_path / "newer.json")
    c = ab.compare(tmp_path / "glibc.json", str(tmp_path / "newer.json"))
    assert c.labels == ("glibc", "newer")
    data = json.loads((tmp_path / "newer.json").read_text())
    data["schema_version"] = 99
    (tmp_path / "newer.json").write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match="newer.json has schema_version 99"):
        ab.compare(tmp_path / "glibc.json", tmp_path / "newer.json")


def test_compare_command_prints_the_table_and_fails_above(make_result, noisy, tmp_path, capsys):
    make_result(noisy([2, 3, 20], seed=1)).save(tmp_path / "a.json")
    make_result(noisy([2, 3, 40], seed=2)).save(tmp_path / "b.json")
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    assert main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "b/a" in out and "geomean" in out
    assert main(["compare", a, b, "--fail-above", "50"]) == 1
    assert "slower: b malloc at 64 B" in capsys.readouterr().err
    assert main(["compare", a, b, "--fail-above", "150"]) == 0
    assert main(["compare", a, b, "--fail-above", "50", "--include-allocator-free"]) == 1
    assert main(["compare", a, b, "--normalize", "alloca", "--reference", "b"]) == 0
    assert "a/b" in capsys.readouterr().out
    assert main(["compare", a, b, "--fail-above", "nan"]) == 2
    assert "nan" in capsys.readouterr().err
    assert main(["compare", a, b, "--match", "vla=mmap"]) == 2
    assert "neither is in" in capsys.readouterr().err
    assert main(["compare", a, b, "--match", "typo=malloc"]) == 2
    assert "match typo=malloc: no result has a strategy 'typo'" in capsys.readouterr().err
    assert main(["compare", a, str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_fail_above_fails_on_a_cell_the_new_result_did_not_measure(make_result, noisy,
                                                                   tmp_path, capsys):
    """`compare base.json new.json --fail-above 10` passed (0 slowdowns) when a malloc cell of
    new.json had failed or been interrupted: no number is not 'no slowdown'."""
    base = make_result(noisy([2, 3, 20], seed=1))
    ns, status = base.ns_per_op.copy(), base.status.copy()
    ns[2, 0], status[2, 0] = np.nan, "interrupted"
    new = dataclasses.replace(make_result(noisy([2, 3, 20], seed=2)), ns_per_op=ns,
                              status=status)
    base.save(tmp_path / "base.json")
    new.save(tmp_path / "new.json")
    assert main(["compare", str(tmp_path / "base.json"), str(tmp_path / "new.json"),
                 "--fail-above", "10"]) == 1
    err = capsys.readouterr().err
    assert "not measured: new malloc at 64 B (iterations auto): interrupted" in err
    assert err.endswith("0 significant slowdown(s) above 10%; 1 cell(s) measured in the "
                        "reference were not measured, so the gate cannot pass them\n")


@pytest.mark.parametrize("value", ["-5", "1000", "nan"])
def test_compare_threshold_out_of_range_is_named_in_percent_as_the_option_takes_it(
        value, make_result, noisy, tmp_path, capsys):
    """--threshold is in percent: the error must not speak of a fraction (-5 was "got -0.05")."""
    make_result(noisy([2, 3, 20])).save(tmp_path / "a.json")
    a = str(tmp_path / "a.json")
    assert main(["compare", a, a, "--threshold", value]) == 2
    assert capsys.readouterr().err == (f"alloca-bench compare: error: --threshold takes a "
                                       f"percentage from 0 up to 1000 (excluded), got {value}\n")


def test_results_with_different_repeats_compare(make_result, noisy):
    a = make_result(noisy([2, 3, 20], shape=(3, 2, 1, 21)))
    b = make_result(noisy([2, 3, 40], shape=(3, 2, 1, 9), seed=2))
    c = ab.compare(a, b)
    assert c.significant[1, 2].all() and np.allclose(c.ratio[1, 2], 2, rtol=0.05)


def test_match_lines_up_allocators_with_different_names(make_result, noisy):
    a = make_result(noisy([2, 3, 20]), strategies=("baseline", "alloca", "malloc@glibc"))
    b = make_result(noisy([2, 3, 10], seed=2), strategies=("baseline", "alloca",
                                                           "malloc@jemalloc"))
    c = ab.compare(a, b, match={"malloc@glibc": "malloc@jemalloc"})
    assert c.strategies[-1] == "malloc@glibc=malloc@jemalloc"
    assert np.allclose(c.ratio[1, -1], 0.5, rtol=0.05) and c.significant[1, -1].all()
    with pytest.raises(ValueError, match="neither is in b"):
        ab.compare(a, b, match={"malloc@glibc": "malloc@tcmalloc"})


def test_fail_above_ignores_kernels_that_call_no_allocator_unless_asked(make_result, noisy):
    a = make_result(noisy([2, 3, 20]))
    b = make_result(noisy([4, 3, 20], seed=2))  # only the baseline moved: the machine's state
    c = ab.compare(a, b)
    assert c.significant[1, 0].all()
    assert c.slowdowns(10) == []
    assert {s for _, s, *_ in c.slowdowns(10, include_allocator_free=True)} == {"baseline"}
    with pytest.raises(ValueError, match="finite percentage"):
        c.slowdowns(float("nan"))


def test_identical_runs_differing_per_process_agree_with_hierarchical_intervals(
        make_result, per_process):
    """Two runs of one command: each process has its own offset (5%), batches within a process
    agree closely.  Intervals over batches only call many cells different; intervals over
    processes then batches call at most one; a real 1.3x change at one cell is still found."""
    sizes = (64, 256, 1024, 4096)
    ns_a, proc_a = per_process([2, 3, 20], processes=8, rounds=10, cells=(3, 4, 1), seed=1)
    ns_b, proc_b = per_process([2, 3, 20], processes=8, rounds=10, cells=(3, 4, 1), seed=11)
    batch_only = ab.compare(make_result(ns_a, sizes=sizes), make_result(ns_b, sizes=sizes),
                            threshold=0)
    assert batch_only.significant[1].sum() >= 4  # of 12 cells
    a = make_result(ns_a, sizes=sizes, process=proc_a)
    hier = ab.compare(a, make_result(ns_b, sizes=sizes, process=proc_b), threshold=0)
    assert hier.significant[1].sum() <= 1
    assert "few processes" in comparison_header(batch_only) and "few processes" not in comparison_header(hier)
    ns_c = ns_b.copy()
    ns_c[2, 0] *= 1.3  # malloc at 64 B got 1.3x slower
    changed = ab.compare(a, make_result(ns_c, sizes=sizes, process=proc_b), threshold=0)
    assert changed.significant[1, 2, 0, 0] and changed.significant[1].sum() <= 2


# --- crossover and summary ------------------------------------------------------------------


def test_sizes_x_iterations_no_result_measured_are_left_out_and_counted(make_result):
    """Per-size iteration counts (a pytest-benchmark file) leave most combinations empty in
    both results: no rows of "missing", one line counting them, and the HTML alike."""
    ns = np.full((3, 2, 2, 6), np.nan)
    ns[:, 0, 0], ns[:, 1, 1] = 10.0, 20.0
    a = make_result(ns, iterations=(100, 1000))
    c = ab.compare(a, make_result(ns * 2, iterations=(100, 1000)))
    assert c.unmeasured.tolist() == [[False, True], [True, False]]
    text = comparison_table(c)
    assert "missing" not in text
    assert text.endswith("(2 size x iterations combination(s) without any sample are not "
                         "shown)")
    page = c._repr_html_()
    assert page.count("<tr>") == 1 + 2 * 3 and "of 6 cells significant" in page


def test_a_geomean_interval_holds_its_own_estimate_when_cells_are_skewed(make_result):
    """One of five processes ran in the VM's fast state (as in one of two default runs here):
    each cell's replicates dip whenever that process is drawn often, so the mean over 17 cells
    of those replicates drifts below the geomean of the medians; the interval stays around
    the estimate."""
    rng = np.random.default_rng(3)
    sizes = [16 << z for z in range(17)]
    process = np.broadcast_to(np.repeat(np.arange(5), [4, 4, 4, 4, 5]), (1, 17, 1, 21))
    clean = 10 * (1 + 0.002 * rng.standard_normal((1, 17, 1, 21)))
    skewed = clean.copy()
    skewed[..., 13:] = 6.0  # process 4's rounds and three of process 3's, in every cell
    c = ab.compare(make_result(clean, strategies=("baseline",), sizes=sizes, process=process),
                   make_result(skewed, strategies=("baseline",), sizes=sizes, process=process))
    assert c.geomean_low[1, 0] <= c.geomean[1, 0] <= c.geomean_high[1, 0]


def test_compare_says_when_two_results_ran_different_kernels(make_result, noisy):
    a, b, c = (make_result(noisy([2, 3, 20], seed=k)) for k in (1, 2, 3))
    a.params["kernel"] = {"name": "k.c:work", "sha256": "a" * 64}
    b.params["kernel"] = {"name": "k.c:work", "sha256": "b" * 64}
    header = comparison_header(ab.compare(a, b, c, labels=["a", "b", "c"]))
    assert ("kernel of b differs from a's: k.c:work (sha256 aaaaaaaaaaaa) -> k.c:work "
            "(sha256 bbbbbbbbbbbb)") in header
    assert "kernel of c differs from a's: k.c:work (sha256 aaaaaaaaaaaa) -> none" in header
    assert "kernel of" not in comparison_header(ab.compare(a, a, labels=["a", "a2"]))


def test_many_small_cells_cost_memory_in_proportion_to_their_samples(make_result):
    """A result of 60 x 60 cells of one round each, compared with itself: the replicates are
    made a cell at a time (before: results x cells x resamples floats, 115 MB here and 2.3 GB
    for 190 x 190); past the bound on what is kept at once, a clear error."""
    import tracemalloc

    n = 60
    ns = np.random.default_rng(1).uniform(1, 100, (n, n, 1, 1))
    r = make_result(ns, strategies=["baseline"] + [f"malloc@x{k}" for k in range(n - 1)],
                    sizes=tuple(range(16, 16 * (n + 1), 16)))
    tracemalloc.start()
    try:
        c = ab.compare(r, r)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert c.ratio.shape == (2, n, n, 1)
    assert peak < 40e6, f"compare of {n}x{n} one-round cells peaked at {peak / 1e6:.0f} MB"
    with pytest.raises(ValueError, match="pass fewer resamples="):
        ab.compare(r, r, resamples=200_000)
