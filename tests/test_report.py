"""The report: each verdict follows from the numbers it is given, the real extra measurements
(fresh child processes, the stack guard) run, and the `report` command writes Markdown or HTML."""
import importlib
import re

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.measuring import report_measurements
from alloca_bench.cli import main
from alloca_bench.measuring.report_measurements import gather
from alloca_bench.present.report import render
from alloca_bench.results.evidence import Evidence


STRATEGIES = ("baseline", "alloca", "vla", "malloc", "calloc", "mmap", "fixed")
SIZES = (64, 4096, 1 << 20)


@pytest.fixture
def sweep_like(make_result):
    """build(malloc_over_alloca, repeats=9): a result whose malloc takes `malloc_over_alloca[z]`
    times alloca's time at each size."""

    def build(malloc_over_alloca, repeats=9):
        rng = np.random.default_rng(0)
        alloca = np.array([2.0, 3.0, 1000.0])
        center = np.stack([np.full(3, 1.5), alloca, alloca, alloca * malloc_over_alloca,
                           alloca * 20, alloca * 500, alloca * 0.9])
        ns = center[:, :, None, None] * (1 + 0.01 * rng.standard_normal((7, 3, 1, repeats)))
        faults = np.zeros_like(ns)
        faults[5] = np.array([1, 1, 256])[:, None, None]  # mmap faults every call
        return make_result(ns, strategies=STRATEGIES, sizes=SIZES, faults=faults)

    return build


@pytest.fixture
def evidence(machine_meta):
    """build(result, first_faults=248, grew=..., guard=True, loop_alloca=64): Evidence with chosen
    numbers for the extra measurements (no child process)."""

    def build(result, first_faults=248, grew=1 << 20, guard=True, loop_alloca=64):
        cold = {("alloca", 1 << 20): {"first_faults": first_faults, "first_ns": 5e5,
                                      "second_faults": 0, "warm_faults": 0, "warm_ns": 1000},
                ("malloc", 1 << 20): {"first_faults": 256, "first_ns": 5e5, "second_faults": 200,
                                      "warm_faults": 0, "warm_ns": 1100}}
        growth = {"size": 1 << 20, "count": 100,
                  "before": {"size": 132 << 10, "rss": 44 << 10},
                  "after": {"size": (132 << 10) + grew, "rss": (44 << 10) + grew}}
        message = "alloca of 8388608 bytes does not fit on the stack of this thread: ..."
        machine = dict(machine_meta, mem_total_bytes=16 << 30)
        loop = {"size": 16 << 10, "counts": [1, 64], "alloca": [16 << 10, loop_alloca * 16 << 10],
                "vla": [16 << 10, 16 << 10]}
        return Evidence(result=result, source="measured now", machine_now=machine, cold=cold,
                        growth=growth, loop=loop,
                        guard={"size": 8 << 20, "message": message} if guard
                        else {"size": 8 << 20}, thread_headroom=8 << 20)

    return build


def verdicts(markdown):
    """{claim: verdict} from the summary table."""
    rows = [line.split(" | ") for line in markdown.splitlines() if line.startswith('| "')]
    return {row[0].strip('| "'): row[1].strip(" |") for row in rows}


def test_speed_verdict_follows_the_ratios(evidence, sweep_like):
    always = verdicts(render(evidence(sweep_like(np.array([10.0, 10.0, 10.0])))))
    assert always["alloca is much faster than malloc"] == "holds at every measured size"
    closing = verdicts(render(evidence(sweep_like(np.array([10.0, 5.0, 1.0])))))
    assert closing["alloca is much faster than malloc"] == "holds up to 4 KiB, not above"
    never = verdicts(render(evidence(sweep_like(np.array([1.0, 0.5, 1.0])))))
    assert never["alloca is much faster than malloc"] == "does not hold here"


def test_speed_verdict_describes_a_pattern_that_is_not_monotone(evidence, sweep_like):
    """alloca much faster at the smallest and largest sizes but not in between: the headline
    must not say "holds up to 64 B, not above" above a row saying 1 MiB is much faster."""
    text = render(evidence(sweep_like(np.array([10.0, 1.0, 10.0]))))
    verdict = verdicts(text)["alloca is much faster than malloc"]
    assert verdict == "holds only at 64 B and at 1 MiB, not at 4 KiB: not monotone in size"
    rising = verdicts(render(evidence(sweep_like(np.array([1.0, 10.0, 10.0])))))
    assert rising["alloca is much faster than malloc"] == "holds from 4 KiB on, not below"


def test_report_prints_the_warnings_of_the_sweep(evidence, sweep_like, machine_meta):
    r = sweep_like(np.array([10.0, 10.0, 10.0]))
    text = render(evidence(r))
    assert "**Warnings**" in text and "few processes" in text
    assert all(w in text for w in r.warnings)


def test_report_gives_the_same_verdicts_every_time(evidence, sweep_like):
    r = sweep_like(np.array([10.0, 2.1, 1.0]))
    assert len({tuple(verdicts(render(evidence(r))).items()) for _ in range(3)}) == 1


def test_speed_section_quotes_the_measured_numbers(evidence, sweep_like):
    text = render(evidence(sweep_like(np.array([10.0, 5.0, 1.0]))))
    assert "from 64 B to 4 KiB: much faster (4.9" in text
    assert "at 1 MiB: no practical difference" in text
    assert "touching the pages of a preallocated buffer alone (`fixed`) costs 89" in text
    assert "round by round, alloca costs 10" in text  # 1000 - 900 ns/op
    assert "not getting it" not in text  # 100 ns/op is over 10% of the touch cost


def test_fault_verdict_follows_first_and_warm_faults(evidence, sweep_like):
    result = sweep_like(np.array([10.0, 10.0, 10.0]))
    cold = verdicts(render(evidence(result, first_faults=248)))
    assert cold["stack memory does not page-fault"] == \
        "does not hold for first use; holds for reuse"
    text = render(evidence(result, first_faults=248))
    assert "took 248 page faults" in text and "mmap up to 256 (at 1 MiB)" in text
    never = verdicts(render(evidence(result, first_faults=0)))
    assert never["stack memory does not page-fault"] == "holds at these sizes"


def test_release_verdict_follows_the_stack_growth(evidence, sweep_like):
    result = sweep_like(np.array([10.0, 10.0, 10.0]))
    once = render(evidence(result, grew=1 << 20, loop_alloca=1))
    assert verdicts(once)["alloca memory is released automatically"] == "holds, at every return"
    assert "100 allocas of 1 MiB" in once and "12x the 8 MiB RLIMIT_STACK" in once
    kept = verdicts(render(evidence(result, grew=100 << 20)))
    assert kept["alloca memory is released automatically"] == "does not hold"


def test_release_verdict_says_alloca_in_a_loop_is_kept_until_return(evidence, sweep_like):
    text = render(evidence(sweep_like(np.array([10.0, 10.0, 10.0])), loop_alloca=64))
    assert verdicts(text)["alloca memory is released automatically"] == \
        "holds at function return, not per loop iteration"
    assert "64 buffers live at once" in text and "released at the end of every iteration" in text
    # The section's own verdict says the same as the summary table above it.
    assert "**Verdict: holds at function return, not per loop iteration.**" in text


def test_stack_verdict_and_a_guard_that_did_not_refuse(evidence, sweep_like):
    result = sweep_like(np.array([10.0, 10.0, 10.0]))
    text = render(evidence(result))
    assert verdicts(text)["the stack is small"] == "holds"
    assert "does not fit on the stack" in text
    assert "**not** refuse" in render(evidence(result, guard=False))


def test_a_sweep_without_malloc_is_not_tested_rather_than_guessed(evidence, make_result):
    r = make_result(np.ones((2, 3, 1, 5)), strategies=("baseline", "alloca"), sizes=SIZES)
    assert verdicts(render(evidence(r)))["alloca is much faster than malloc"] == \
        "not tested (no malloc in the sweep)"


def test_gather_runs_the_runner_plans_and_the_guard_for_real():
    """Small real measurements: fresh runner processes for first calls and stack growth, the
    guard."""
    r = ab.sweep(sizes=[4096, 65536], strategies=("alloca", "malloc", "fixed"), repeats=3)
    ev = gather(r, cold_sizes=(65536,), cold_strategies=("alloca", "malloc"),
                growth_size=65536)
    first = ev.cold[("alloca", 65536)]
    assert "error" not in first and first["first_faults"] >= first["second_faults"]
    assert ev.growth["size"] == 65536 and ev.growth["count"] >= 100
    assert ev.growth["after"]["size"] >= ev.growth["before"]["size"]
    assert ev.loop["alloca"][-1] >= ev.loop["counts"][-1] * ev.loop["size"]
    assert "largest safe size" in ev.guard["message"]
    assert ev.guard["worker_stack"] > ev.guard["size"] and "worker_error" not in ev.guard
    text = render(ev)
    assert str(ev.growth["count"]) in text and ev.guard["message"] in text
    html = render(ev, "html")
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html


def test_a_failing_first_call_is_reported_not_raised():
    answer = report_measurements.cold_calls(("alloca",), (64 << 20,))[("alloca", 64 << 20)]
    assert "bytes are left" in answer["error"]


def test_report_command_writes_markdown_and_html(evidence, sweep_like, tmp_path, monkeypatch,
                                                 capsys):
    canned = {"first_faults": 0.0, "first_ns": 100.0, "second_faults": 0.0,
              "warm_faults": 0.0, "warm_ns": 3.0}
    monkeypatch.setattr(report_measurements, "cold_calls", lambda strategies, sizes: {
        (s, z): dict(canned) for s in strategies for z in sizes})
    monkeypatch.setattr(report_measurements, "stack_growth", lambda size, count: {
        "size": size, "count": count, "error": "not run in this test"})
    sweep_like(np.array([10.0, 5.0, 1.0])).save(tmp_path / "r.json")
    out = tmp_path / "report.md"
    assert main(["report", "--from", str(tmp_path / "r.json"), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# alloca vs malloc on ")
    assert f"alloca-bench report --from {tmp_path / 'r.json'}" in text
    assert "**Verdict: not tested** — not run in this test." in text
    assert main(["report", "--from", str(tmp_path / "r.json"), "-o",
                 str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    monkeypatch.setattr(report_measurements, "gather", lambda *a, **k: pytest.fail("measured"))
    missing = tmp_path / "no-such-dir" / "r.md"
    assert main(["report", "--from", str(tmp_path / "r.json"), "-o", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err  # refused before any measurement
    with pytest.raises(ValueError, match="format must be"):
        render(evidence(sweep_like(np.ones(3))), "pdf")


def test_every_section_verdict_matches_its_summary_row(evidence, sweep_like):
    """The bold verdict under each claim's heading is the one in the summary table."""
    import re

    for kwargs in ({"loop_alloca": 1}, {"loop_alloca": 64}, {"grew": 100 << 20}):
        text = render(evidence(sweep_like(np.array([10.0, 10.0, 10.0])), **kwargs))
        sections = re.findall(r'^## \d\. "(.+)"\n\n\*\*Verdict: (.+?)\.\*\*', text, re.M)
        summary = {claim.lower(): verdict for claim, verdict in verdicts(text).items()}
        assert len(sections) == 4
        for claim, verdict in sections:
            assert summary[claim.lower()] == verdict.split("** —")[0]


def test_a_result_not_run_interleaved_is_not_called_interleaved(evidence, sweep_like):
    """A pytest-benchmark file's rounds ran test by test: no "interleaved rounds", and the
    net of `fixed` is a difference of medians, not "round by round"."""
    r = sweep_like(np.array([10.0, 5.0, 1.0]))
    r.params["interleaved"] = False
    text = render(evidence(r))
    assert "9 rounds per cell" in text and "interleaved rounds" not in text
    assert "minus `fixed` (its median) alloca costs" in text and "round by round" not in text
    assert "9 interleaved rounds per cell" in render(evidence(sweep_like(np.array([10.0] * 3))))


def test_an_html_report_leaves_the_callers_matplotlib_backend_alone(evidence, sweep_like):
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend other than the Agg the report used to force
    try:
        assert "<img" in render(evidence(sweep_like(np.array([10.0, 5.0, 1.0]))), "html")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_one_size_and_one_round_read_in_the_singular(evidence, sweep_like):
    """Not "at 1 sizes from 4 KiB to 4 KiB", not "1 rounds per cell"."""
    import dataclasses

    r = sweep_like(np.array([10.0, 5.0, 1.0]))
    one = dataclasses.replace(
        r, sizes=r.sizes[1:2], ns_per_op=r.ns_per_op[:, 1:2, :, :1],
        faults_per_op=r.faults_per_op[:, 1:2, :, :1],
        major_faults_per_op=r.major_faults_per_op[:, 1:2, :, :1],
        batch_iterations=r.batch_iterations[:, 1:2], process=r.process[:, 1:2, :, :1],
        status=r.status[:, 1:2], params=dict(r.params, repeats=1))
    text = render(evidence(one))
    assert "at 1 size, 4 KiB," in text and "1 interleaved round per cell" in text
    assert "1 sizes" not in text and "1 rounds" not in text and "1 interleaved rounds" not in text


def test_each_speed_verdict_carries_its_interval_and_borderline_says_so(evidence, sweep_like):
    """The sentences quote every run's speed-ups with their 95% intervals; a speed-up of 2x
    (the bar) has the bar inside its interval: borderline, not a flip."""
    text = render(evidence(sweep_like(np.array([10.0, 2.0, 10.0]))))
    verdict = verdicts(text)["alloca is much faster than malloc"]
    assert verdict.startswith("holds at every other measured size; borderline at 4 KiB")
    assert re.search(r"at 4 KiB: borderline: 2x inside the interval \(\d\.\d+x \[1\.\d+, "
                     r"2\.\d+\]\)", text)
    assert re.search(r"at 64 B: much faster \(\d+(\.\d+)?x \[\d", text)


def test_ctrl_c_after_the_sweep_keeps_it_writes_the_report_marked_and_fails(
        sweep_like, tmp_path, monkeypatch, capsys):
    """Ctrl-C during the extra measurements: the sweep is kept, the report written and
    marked, the exit status non-zero; Ctrl-C during the sweep skips the extras."""
    measuring = importlib.import_module("alloca_bench.measuring")
    r = sweep_like(np.array([10.0, 5.0, 1.0]))
    monkeypatch.setattr(measuring, "sweep", lambda **kwargs: r)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_measurements, "gather", interrupted)
    out = tmp_path / "report.md"
    assert main(["report", "--no-progress", "-o", str(out)]) == 1
    text = out.read_text()
    assert "**Interrupted (Ctrl-C) after the sweep, during the first calls" in text
    assert "| \"alloca is much faster than malloc\" | holds up to 4 KiB, not above |" in text
    assert "alloca-bench report: interrupted (Ctrl-C) after the sweep" in capsys.readouterr().err

    import dataclasses

    cut = r.ns_per_op.copy()
    cut[..., 5:] = np.nan
    stopped = dataclasses.replace(r, ns_per_op=cut, status=np.full(r.status.shape,
                                                                   "interrupted"))
    monkeypatch.setattr(measuring, "sweep", lambda **kwargs: stopped)
    monkeypatch.setattr(report_measurements, "gather", lambda *a, **k: pytest.fail("measured"))
    assert main(["report", "--no-progress", "-o", str(out), "--force"]) == 1
    text = out.read_text()
    assert "**Interrupted (Ctrl-C) during the sweep**" in text and "incomplete" in text
