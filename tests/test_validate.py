"""measure/validate.py: the budget a call may spend, checked before anything runs."""
import pytest

import alloca_bench as ab
from alloca_bench.measuring import validate
from alloca_bench.measuring.validate import MAX_PAGE_TOUCHES, MAX_SAMPLES, check_budget

MIB = 1 << 20


def test_a_thread_sweep_counts_its_strategies_and_thread_counts_apart():
    """threads=(2,) runs counts 1 and 2 of 2 strategies (baseline included): the refusal
    says 2 strategies x 2 thread counts, touching pages in 1 + 2 threads."""
    with pytest.raises(ValueError, match=r"\(2 strategies x 2 thread counts \(3 threads in all\)"):
        ab.sweep(sizes=[MIB], strategies=["malloc"], threads=(2,), iterations=10**5,
                 progress=False)


def test_measure_with_threads_is_one_strategy_in_n_threads():
    with pytest.raises(ValueError, match=r"\(1 strategies x 1 thread counts \(8 threads in all\)"):
        ab.measure("malloc", MIB, threads=8, iterations=10**5)


def test_touches_count_each_thread_once_per_thread_count():
    """2 strategies x threads 1 and 2 touch pages 2 x 3 times per op: a call under the limit
    that way passes, one just over it is refused."""
    pages = MIB // validate.PAGE
    fits = MAX_PAGE_TOUCHES // (2 * 3 * pages)
    check_budget(2, [MIB], "pages", [fits], 1, 0, (1, 2))
    with pytest.raises(ValueError, match=f"touch at least {2 * 3 * pages * (fits + 1)} pages"):
        check_budget(2, [MIB], "pages", [fits + 1], 1, 0, (1, 2))


def test_samples_count_each_thread_counts_figures():
    """A cell of up to 64 threads stores 1 + 64 figures per batch, per thread count."""
    per_round = 2 * 2 * (1 + 64)
    fits = MAX_SAMPLES // per_round
    check_budget(2, [64], "none", [10], fits, 0, (1, 64))
    with pytest.raises(ValueError, match=r"x 2 thread counts x \d+ repeats = "
                                         f"{per_round * (fits + 1)} samples"):
        check_budget(2, [64], "none", [10], fits + 1, 0, (1, 64))


def test_without_threads_the_budget_is_unchanged():
    check_budget(3, [64], "none", [10], MAX_SAMPLES // 3, 0)
    with pytest.raises(ValueError, match=r"^3 strategies x 1 sizes x 1 iteration counts x "):
        check_budget(3, [64], "none", [10], MAX_SAMPLES // 3 + 1, 0)


def test_stack_fits_counts_what_the_compiler_reserves():
    """64 allocas of 16 KiB reserve more than 64 x 16 KiB (alignment): with exactly that plus
    the margin left they do not fit; with what stack_need says they do."""
    need = validate.native.stack_need("alloca", 16 << 10, 64)
    assert need > 64 * (16 << 10)
    margin = validate.native.STACK_MARGIN
    assert not validate.stack_fits("alloca", 16 << 10, 64, 64 * (16 << 10) + margin)
    assert validate.stack_fits("alloca", 16 << 10, 64, need + margin)
