"""Lining results up for compare(): what it accepts as the results to compare."""
import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.analysis._align import distinct_labels, load_all


def test_compare_takes_a_list_of_files_as_well_as_the_files(tmp_path, make_result, noisy):
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"r{k}.json")
        make_result(noisy([2, 3, 20], seed=k + 1)).save(paths[-1])
    listed, spread = ab.compare(paths), ab.compare(*paths)
    assert listed.labels == spread.labels == ("r0", "r1")
    np.testing.assert_array_equal(listed.ratio, spread.ratio)


def test_compare_of_one_result_still_asks_for_two(make_result, noisy):
    with pytest.raises(ValueError, match="at least two results, got 1"):
        ab.compare([make_result(noisy([2, 3, 20]))])


def test_compare_refuses_a_threads_result_file_by_name(tmp_path, make_result, noisy,
                                                        make_threads_result):
    """A saved ThreadsResult answers another question: compare() names the file and what it
    holds (ValueError), never an AttributeError from inside; the object itself is a
    TypeError."""
    sweep, team = tmp_path / "sweep.json", tmp_path / "team.json"
    make_result(noisy([2, 3, 20])).save(sweep)
    make_threads_result().save(team)
    with pytest.raises(ValueError, match=r"team\.json holds a ThreadsResult, not a sweep"):
        ab.compare(sweep, team)
    with pytest.raises(TypeError, match="not ThreadsResult"):
        ab.compare(sweep, make_threads_result())


def test_labels_given_twice_are_refused_and_default_labels_are_made_distinct(
        tmp_path, make_result, noisy):
    """labels= that repeat a name are a ValueError naming them (as fleet()'s are), not renamed
    behind the user's back; two files of one name in different folders get letters."""
    a = make_result(noisy([2, 3, 20]))
    with pytest.raises(ValueError, match=r"labels= repeats a name: \['x', 'x'\]"):
        ab.compare(a, a, labels=["x", "x"])
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        a.save(tmp_path / folder / "run.json")
    got = ab.compare(tmp_path / "one" / "run.json", tmp_path / "two" / "run.json")
    assert got.labels == ("a:run", "b:run")


def test_a_numpy_int_is_a_reference_index(make_result, noisy):
    """reference=np.int64(1) picks the second result, as 1 does (it was refused as
    'an index from 0 to 1, got 1')."""
    a, b = make_result(noisy([2, 3, 20])), make_result(noisy([2, 3, 20], seed=2))
    assert ab.compare(a, b, reference=np.int64(1)).reference == 1
    with pytest.raises(ValueError, match="an index from 0 to 1, got True"):
        ab.compare(a, b, reference=True)


def test_labels_stay_distinct_letters_past_z():
    """The 27th of 28 results of one name is aa:x, not {:x (the character after z)."""
    labels = distinct_labels(["x"] * 28)
    assert labels[:2] == ("a:x", "b:x") and labels[25:] == ("z:x", "aa:x", "ab:x")
    many = distinct_labels(["x"] * 800)
    assert len(set(many)) == 800 and all(label[:-2].isalpha() for label in many)
    assert many[701] == "zz:x" and many[702] == "aaa:x"


def test_results_passed_as_objects_are_lettered_past_z(make_result, noisy):
    r = make_result(noisy([2, 3, 20]))
    assert load_all([r] * 28)[1][25:] == ["z", "aa", "ab"]
