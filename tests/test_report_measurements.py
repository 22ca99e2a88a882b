"""measuring/report_measurements.py: first calls and stack growth are runner plans (every cell a
fresh process); the loop-span evidence keeps only counts the stack guard lets run."""
import pytest

from alloca_bench import native
from alloca_bench.measuring import report_measurements


def test_loop_spans_skip_a_count_whose_aligned_allocas_overrun_the_headroom():
    """With headroom for 8 x LOOP_SIZE requested bytes plus the margin, 8 allocas (which the
    compiler rounds up) do not fit: the counts stop at 1, as the guard would refuse 8."""
    size = report_measurements.LOOP_SIZE
    spans = report_measurements._loop_spans(8 * size + native.STACK_MARGIN)
    assert spans["counts"] == [1], spans
    assert len(spans["alloca"]) == len(spans["vla"]) == 1


def test_the_first_mmap_of_a_fresh_process_faults_every_page_and_a_warm_one_too():
    cold = report_measurements.cold_calls(("mmap", "malloc"), (64 << 10,))
    first = cold[("mmap", 64 << 10)]
    assert first["first_faults"] >= 16 and first["second_faults"] >= 16  # mmap: always fresh
    assert first["warm_faults"] >= 16 and first["first_ns"] > 0 and first["warm_ns"] > 0
    assert set(cold) == {("mmap", 64 << 10), ("malloc", 64 << 10)}


def test_the_stack_grows_by_one_buffer_not_by_count_buffers():
    """In one fresh runner process, after 100 allocas of 256 KiB, each in a call that returned,
    the stack mapping holds about one of them (the memory is given back at return), and its
    pages stay resident."""
    growth = report_measurements.stack_growth(256 << 10, 100)
    grew = growth["after"]["size"] - growth["before"]["size"]
    assert 0 < grew <= 2 * (256 << 10)
    assert growth["after"]["rss"] >= growth["before"]["rss"] + (128 << 10)


def test_ctrl_c_during_the_first_calls_stops_the_report(monkeypatch):
    from alloca_bench.measuring.runner_transport import RunnerTransport

    def interrupted(self, cells, iterations, rounds, sink):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunnerTransport, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_measurements.cold_calls(("alloca",), (4096,))
