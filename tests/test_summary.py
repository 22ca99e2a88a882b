"""alloca_bench.present.summary: Result.summary() answers in plain sentences with numbers from
the result, drawn from crossovers that print their own words."""
import re

import pytest

from alloca_bench.analysis.crossover import Crossover


def test_summary_answers_in_sentences_with_numbers_from_the_result(crossing_result):
    r = crossing_result()
    s = r.summary(size=4096)
    text = str(s)
    assert re.search(r"For 4 KiB: alloca (9\.9|10)\S* ns/op, malloc (29\.9|30)\S* ns/op: "
                     r"alloca is faster: (2\.9|3)", text)
    assert "alloca vs malloc" in text and "alloca vs mmap" in text
    assert "mmap up to 256 (at 1 MiB)" in text
    assert "7.75 MiB" in text  # 8 MiB headroom - 256 KiB margin
    assert ("alloca", "malloc", "auto") in s.crossovers
    assert "Caveats: few processes" in text
    too_big = str(r.summary(size=64 << 20))
    assert "too big for the stack" in too_big
    with pytest.raises(ValueError, match="size must be a positive int"):
        r.summary(size=-1)


@pytest.mark.parametrize("size", ["4K", 4096.0, True, [64]])
def test_a_size_that_is_not_an_int_is_a_type_error_naming_it(crossing_result, size):
    wrong = rf"size must be an int \(bytes\), not {type(size).__name__}"
    with pytest.raises(TypeError, match=wrong):
        crossing_result().summary(size=size)


def test_summary_needs_a_stack_and_a_heap_strategy(make_result, noisy):
    r = make_result(noisy([2, 3], shape=(2, 2, 1, 5)), strategies=("baseline", "malloc"))
    with pytest.raises(ValueError, match="needs a stack and a heap strategy"):
        r.summary()


def test_the_crossovers_of_a_summary_print_their_words(crossing_result):
    s = crossing_result().summary()
    cross = s.crossovers[("alloca", "malloc", "auto")]
    assert isinstance(cross, Crossover)
    assert "alloca stops beating malloc after 4 KiB" in str(cross)


def test_a_size_measured_in_two_rounds_says_too_few_rounds(make_result, noisy):
    two = make_result(noisy((1.0, 1.5, 9.0), shape=(3, 2, 1, 2)))
    text = str(two.summary(size=64))
    assert "not measured" not in text
    assert (" ns/op: no interval (2 rounds per cell measured, an interval needs at least 3)."
            in text)
    assert "No interval at 64 B, 4 KiB: 2 rounds per cell" in text
