"""Seeded size distributions (alloca_bench/sizes.py): the same seed gives the same sizes, in
two runs and in the runner's C (which reports a fingerprint of the table it drew); a sweep over
a distribution keeps stack and heap paired and names the distribution."""
import argparse

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench import sizes
from alloca_bench.cli._args import parse_sizes
from alloca_bench.measuring import _framing as framing
from alloca_bench.measuring import runner as client
from alloca_bench import native
from alloca_bench.measuring.validate import check_sizes

MALLOC = native.STRATEGIES.index("malloc")


def test_the_same_seed_gives_the_same_sequence_and_another_seed_another():
    a = sizes.loguniform(16, 64 << 10, seed=1)
    assert a.sequence() == sizes.loguniform(16, 64 << 10, seed=1).sequence()
    assert a.sequence() != sizes.loguniform(16, 64 << 10, seed=2).sequence()
    # pinned: a change of the generator would silently change every published figure
    assert a.sequence(8) == [615, 1291, 8832, 9589, 22, 11262, 4746, 315]
    assert sizes.uniform(16, 1024, seed=1).sequence(4) == sizes.uniform(16, 1024).sequence(4)


@pytest.mark.parametrize("dist", [sizes.uniform(16, 1024, seed=7),
                                  sizes.loguniform(16, 64 << 10, seed=1),
                                  sizes.loguniform(100, 1000, seed=3),
                                  sizes.uniform(64, 64)])
def test_sizes_stay_in_bounds_and_loguniform_fills_every_octave(dist):
    table = dist.sequence()
    assert len(table) == sizes.TABLE_SIZE and min(table) >= dist.low and max(table) <= dist.high
    assert dist.sequence(sizes.TABLE_SIZE + 3)[-3:] == table[:3]  # the table repeats
    if dist.kind == "loguniform" and dist.high >= 4 * dist.low:
        octaves = np.bincount([(s // dist.low).bit_length() for s in table])[1:]
        assert octaves.min() > 0.6 * octaves.max()  # about equal shares


@pytest.mark.parametrize("dist", [sizes.uniform(16, 1024, seed=5),
                                  sizes.loguniform(16, 64 << 10, seed=1)])
def test_the_runner_draws_the_same_table_as_python(dist):
    records = []
    cell = {"id": 0, "strategy": MALLOC, "touch": 1, "size": dist.high, "iterations": 100,
            "warmup": 0, **dist.plan_fields()}
    client.run_plan(framing.plan_text([cell], [(0, [0])]), lambda k, r: records.append((k, r)))
    (drawn,) = [r["size_sequence"] for k, r in records if k == framing.CELL]
    assert drawn == dist.fingerprint()


def test_a_sweep_over_a_distribution_is_paired_and_named():
    dist = sizes.loguniform(16, 64 << 10, seed=1)
    r = ab.sweep(sizes=[dist, 64], strategies=["alloca", "malloc"], iterations=500,
                 repeats=3, warmup=0, processes=1)
    mean = round(dist.mean())  # where it stands on the sizes axis
    assert r.complete and r.sizes.tolist() == [64, mean] and 1000 < mean < 64 << 10
    assert r.params["size_distributions"] == {str(mean): str(dist)}
    assert "loguniform(16, 65536, seed=1)" in r.table()
    assert not np.isnan(r.ratio("malloc", "alloca")).any()


def test_bad_distributions_and_collisions_are_refused():
    with pytest.raises(ValueError, match="need 1 <= low <= high"):
        sizes.uniform(100, 10)
    with pytest.raises(ValueError, match="kind must be one of"):
        sizes.SizeDistribution("normal", 1, 2)
    with pytest.raises(ValueError, match=r"seed must be a non-negative int, got -1"):
        sizes.uniform(16, 64, seed=-1)


@pytest.mark.parametrize("args", [(1.5, 10), (16, "64"), (16, 64, 1.0), (True, 64)])
def test_a_bound_or_seed_that_is_not_an_int_is_a_type_error_naming_it(args):
    with pytest.raises(TypeError, match=r"uniform\(\): (low|high|seed) must be an int, not "):
        sizes.uniform(*args)
    mean = round(sizes.uniform(16, 1024).mean())
    with pytest.raises(ValueError, match=f"both stand at {mean} B"):
        check_sizes([sizes.uniform(16, 1024), mean])
    assert check_sizes([sizes.uniform(16, 1024), 1024])[0] == [mean, 1024]
    with pytest.raises(ValueError, match="run in the runner"):
        ab.sweep(sizes=[sizes.uniform(16, 64)], strategies=["malloc"], heap="host")


def test_the_command_line_takes_a_distribution_among_the_sizes():
    assert parse_sizes("64,loguniform:16:64K:1") == [64, sizes.loguniform(16, 65536, 1)]
    assert parse_sizes("uniform:16:1K") == [sizes.uniform(16, 1024, 1)]
    with pytest.raises(argparse.ArgumentTypeError, match="bad size distribution"):
        parse_sizes("zipf:1:2")


def test_a_seed_that_is_not_an_integer_is_named_in_the_command_lines_words():
    """Not Python's "invalid literal for int() with base 10: 'x'"."""
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse_sizes("uniform:16:1K:x")
    assert str(caught.value) == ("bad size distribution 'uniform:16:1K:x': the seed must be a "
                                 "non-negative integer, not 'x'")
