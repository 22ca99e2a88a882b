"""alloca_bench.analysis.checks and present.warnings: each finding fires on synthetic data made
to trigger it, stays quiet on clean data, and its warning says what to do."""
import numpy as np
import pytest

from alloca_bench.analysis.checks import KINDS, Finding, findings
from alloca_bench.present.warnings import _words


def kinds(result):
    return {w.split(":", 1)[0] for w in result.warnings}


def test_clean_data_raises_no_warning(clean_result):
    r = clean_result()
    assert r.warnings == ()
    assert "WARNING" not in r.table()


def test_unstable_cell_by_err_pct(clean_result):
    r = clean_result()
    ns = r.ns_per_op.copy()
    ns[2, 0, 0] *= 1 + 0.2 * np.random.default_rng(0).standard_normal(ns.shape[-1])
    noisy = clean_result(ns=ns)
    assert kinds(noisy) == {"unstable"}
    (text,) = noisy.warnings
    assert "malloc 64 B: err%" in text and "quieter machine" in text


def test_unstable_cell_by_two_groups(clean_result):
    ns = clean_result().ns_per_op.copy()
    ns[1, 1, 0, ::3] *= 2.5  # a third of alloca's 4 KiB batches in a second group
    r = clean_result(ns=ns)
    assert kinds(r) == {"unstable"}
    assert "two groups of samples" in r.warnings[0] and "alloca 4 KiB" in r.warnings[0]


def test_short_batches(clean_result):
    r = clean_result(batch_iterations=10)  # 15-200 ns batches on a 20 ns clock step
    assert "short batches" in kinds(r)
    text = next(w for w in r.warnings if w.startswith("short batches"))
    assert "1000 clock steps" in text and "more ops per batch" in text
    assert "short batches" not in kinds(clean_result(machine={"clock_read_ns": None,
                                                              "clock_resolution_ns": None}))


def test_net_within_resolution_is_never_printed_as_a_negative_cost(clean_result):
    r = clean_result(center=(1.5, 1.49, 20.0))  # alloca costs what the empty call costs
    assert kinds(r) == {"net within resolution"}
    rows = [line for line in r.table().splitlines() if " alloca " in line]
    assert rows and all("< " in row for row in rows)
    assert not any(" -0." in row for row in rows)


@pytest.mark.parametrize("machine, kind, advice", [
    ({"loadavg_1min": 3.0}, "loaded machine", "quieter machine"),
    ({"other_cpus_busy": 1.5}, "loaded machine", "1.50 of 2 CPU(s) busy during the run"),
    ({"cpu_governor": "powersave"}, "cpu scaling", "performance"),
    ({"cpu_turbo": True}, "cpu scaling", "turbo"),
    ({"virtualized": True}, "vm", "rerunning"),
])
def test_machine_warnings(clean_result, machine, kind, advice):
    r = clean_result(machine=machine)
    assert kinds(r) == {kind}
    assert advice in r.warnings[0]


def test_the_load_measured_over_the_run_counts_and_the_preempted_batches_are_said(
        clean_result):
    """The CPUs other programs used during the run decide, not the load average at one moment,
    and the warning says how many batches were preempted."""
    quiet_over_run = clean_result(machine={"loadavg_1min": 3.0, "other_cpus_busy": 0.1})
    assert "loaded machine" not in kinds(quiet_over_run)
    busy = clean_result(machine={"other_cpus_busy": 1.6},
                        params={"retaken_batches": 7, "preempted_batches": 2})
    assert kinds(busy) == {"loaded machine"}
    assert "7 batch(es) were preempted and taken again, 2 still preempted" in busy.warnings[0]
    preempted_only = clean_result(machine={"other_cpus_busy": 0.1},
                                  params={"retaken_batches": 3, "preempted_batches": 1})
    assert kinds(preempted_only) == {"loaded machine"}


def test_too_few_processes(clean_result, make_result):
    r = clean_result(process=None)  # one process: the intervals only know its batches
    assert kinds(r) == {"few processes"}
    assert "too few processes for the interval claimed" in r.warnings[0]
    three = np.repeat(np.arange(3), 8)
    assert "few processes" in kinds(clean_result(
        process=np.broadcast_to(three, (3, 2, 1, 24)).copy()))


def test_warnings_are_printed_under_the_table_and_in_html(clean_result):
    r = clean_result(machine={"virtualized": True})
    assert r.table().split("\nWARNING ")[-1].startswith("vm:")  # wrapped over lines
    assert "<b>warning</b> vm:" in r._repr_html_()


def test_a_warning_names_a_distribution_as_the_table_does(clean_result):
    ns = clean_result().ns_per_op.copy()
    ns[1, 1, 0, ::3] *= 2.5
    r = clean_result(ns=ns)
    r.params["size_distributions"] = {"4096": "loguniform(16, 65536, seed=1)"}
    assert "alloca loguniform(16, 65536, seed=1)" in r.warnings[0]


def test_findings_are_data_naming_their_cells(clean_result):
    r = clean_result()
    ns = r.ns_per_op.copy()
    ns[2, 0, 0] *= 1 + 0.2 * np.random.default_rng(0).standard_normal(ns.shape[-1])
    (found,) = findings(clean_result(ns=ns))
    assert found.kind == "unstable" and found.cells == ((2, 0, 0),)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_finding_has_words_that_start_with_its_kind(clean_result, kind):
    r = clean_result()
    figures = {"err_pct": 5.0, "step_ns": 20.0, "clock_steps": 1000, "processes": 1,
               "wanted": 5, "load": 3.0, "cpus": 2, "governor": "powersave",
               "batch_ns": np.ones(r.ns_per_op.shape[:3]),
               "bound": np.ones(r.ns_per_op.shape[:3])}
    text = _words(r, Finding(kind, ((1, 0, 0),), figures))
    assert text.split(":", 1)[0] == ("cpu scaling" if kind.startswith("cpu") else kind)
