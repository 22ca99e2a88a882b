"""The results store: machine ids, DIR/<machine id>/<UTC time>.json, listing."""
import os

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.results.store import (MACHINE_KEYS, check_store, file_result, list_store,
                                        machine_id, preloaded_allocator)

BASE = {"hostname": "box", "cpu_model": "Xeon", "kernel_release": "6.1", "libc_name": "glibc",
        "libc_version": "2.36", "ld_preload": None, "thp_enabled": "madvise",
        "build_compile_args": "-O2", "timestamp": "2026-12-07T01:02:03+00:00"}


def test_machine_id_is_the_host_name_and_a_hash_that_repeats():
    first, second = machine_id(BASE), machine_id(dict(BASE))
    assert first == second
    name, digest = first.rsplit("-", 1)
    assert name == "box" and len(digest) == 8 and int(digest, 16) >= 0


@pytest.mark.parametrize("key", MACHINE_KEYS)
def test_every_defining_key_changes_the_machine_id(key):
    changed = dict(BASE, **{key: "something else"})
    assert machine_id(changed) != machine_id(BASE)


def test_what_does_not_define_the_machine_keeps_its_id():
    later = dict(BASE, timestamp="2027-01-01T00:00:00+00:00", loadavg_1min=3.2, cpu_mhz=1200.0)
    assert machine_id(later) == machine_id(BASE)


def test_a_preloaded_allocator_is_named_in_the_machine_id():
    mid = machine_id(dict(BASE, ld_preload="/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"))
    assert mid.startswith("box-tcmalloc_minimal-")


@pytest.mark.parametrize("preload, name", [
    ("/lib/libtcmalloc_minimal.so.4", "tcmalloc_minimal"),
    ("libjemalloc.so.2", "jemalloc"),
    ("/a/libmimalloc.so /b/libfoo.so.1", "mimalloc+foo"),
    ("", None), (None, None), (3, None)])
def test_preloaded_allocator_reads_the_library_names(preload, name):
    assert preloaded_allocator(preload) == name


def test_a_host_name_that_is_no_folder_name_is_made_one():
    mid = machine_id(dict(BASE, hostname="../../etc passwd"))
    assert "/" not in mid and " " not in mid and not mid.startswith(".")


def test_file_result_files_by_machine_id_and_utc_time(tmp_path, make_result):
    result = make_result(np.ones((3, 2, 1, 3)), machine=BASE)
    path = file_result(result, tmp_path / "store")
    assert path == os.path.join(tmp_path, "store", machine_id(BASE), "20261207T010203Z.json")
    loaded = ab.load(path)
    np.testing.assert_array_equal(loaded.ns_per_op, result.ns_per_op)


def test_a_second_result_of_the_same_second_gets_a_suffix_and_sorts_last(tmp_path, make_result):
    results = [make_result(np.full((3, 2, 1, 3), float(k + 1)), machine=BASE) for k in range(3)]
    paths = [file_result(r, tmp_path) for r in results]
    assert [os.path.basename(p) for p in paths] == [
        "20261207T010203Z.json", "20261207T010203Z-1.json", "20261207T010203Z-2.json"]
    (machine,) = list_store(tmp_path)
    assert machine.files == tuple(paths) and machine.latest == paths[-1]


def test_a_result_without_a_timestamp_is_filed_at_the_current_time(tmp_path, make_result):
    result = make_result(np.ones((3, 2, 1, 3)), machine=dict(BASE, timestamp=None))
    name = os.path.basename(file_result(result, tmp_path))
    assert name.endswith("Z.json") and name[:2] == "20"


def test_result_save_to_a_store_returns_the_path(tmp_path, make_result):
    result = make_result(np.ones((3, 2, 1, 3)), machine=BASE)
    path = result.save(store=tmp_path)
    assert os.path.dirname(path) == os.path.join(tmp_path, machine_id(BASE))
    assert result.save(tmp_path / "plain.json") == os.path.join(tmp_path, "plain.json")


@pytest.mark.parametrize("args, kwargs", [((), {}), (("x.json",), {"store": "s"})])
def test_result_save_takes_a_path_or_a_store_not_both(make_result, args, kwargs):
    result = make_result(np.ones((3, 2, 1, 3)))
    with pytest.raises(TypeError, match="exactly one"):
        result.save(*args, **kwargs)


def test_check_store_creates_a_missing_store_and_refuses_a_file(tmp_path):
    assert check_store(tmp_path / "new" / "store") == str(tmp_path / "new" / "store")
    assert (tmp_path / "new" / "store").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_store(tmp_path / "f")


@pytest.mark.parametrize("store, error, text", [
    ("", ValueError, "cannot file results in store '': it names no directory"),
    ("/proc/store", FileNotFoundError, "cannot file results in store '/proc/store': it cannot "
                                       "be created (No such file or directory)")])
def test_check_store_names_a_store_that_cannot_be_made(store, error, text):
    with pytest.raises(error) as caught:
        check_store(store)
    assert str(caught.value) == text


def test_list_store_lists_machines_by_id_and_ignores_the_rest(tmp_path, make_result):
    for host in ("b", "a"):
        file_result(make_result(np.ones((3, 2, 1, 3)), machine=dict(BASE, hostname=host)),
                    tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / "empty").mkdir()
    machines = list_store(tmp_path)
    assert [m.machine_id.split("-")[0] for m in machines] == ["a", "b"]
    with pytest.raises(NotADirectoryError):
        list_store(tmp_path / "missing")
