"""measure/evidence.py: the loop-span evidence keeps only counts the stack guard lets run."""
from alloca_bench import native
from alloca_bench.measuring import evidence


def test_loop_spans_skip_a_count_whose_aligned_allocas_overrun_the_headroom():
    """With headroom for 8 x LOOP_SIZE requested bytes plus the margin, 8 allocas (which the
    compiler rounds up) do not fit: the counts stop at 1, as the guard would refuse 8."""
    size = evidence.LOOP_SIZE
    spans = evidence._loop_spans(8 * size + native.STACK_MARGIN)
    assert spans["counts"] == [1], spans
    assert len(spans["alloca"]) == len(spans["vla"]) == 1
