"""results.threads_schema: a ThreadsResult's file is the result schema with "kind": "threads";
ab.load() returns a ThreadsResult for it, Result.from_dict refuses it by name, and a damaged
field is named."""
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.exceptions import ResultFileError
from alloca_bench.results import ThreadsResult


def test_it_saves_as_its_own_kind_and_ab_load_returns_a_threads_result(make_threads_result,
                                                                      tmp_path):
    status = np.array([[["ok", "ok"]], [["unavailable", "unavailable"]]])
    reasons = {("malloc", 64, 1): "no", ("malloc", 64, 2): "no"}
    r = make_threads_result(status=status, reasons=reasons)
    assert r.save(tmp_path / "t.json") == str(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["kind"] == "threads" and data["schema"] == "alloca_bench.result"
    back = ab.load(tmp_path / "t.json")
    assert isinstance(back, ThreadsResult) and back.threads == (1, 2)
    assert back.reasons == reasons and (back.status == status).all()
    np.testing.assert_array_equal(back.ns_per_op, r.ns_per_op)
    assert np.allclose(back.scaling(), r.scaling(), equal_nan=True)
    with pytest.raises(ResultFileError, match="is a threads result"):
        ab.Result.from_dict(data)


def test_a_threads_file_of_a_users_kernel_loads_with_it(make_threads_result, tmp_path):
    kernel = {"name": "k.c:work", "function": "work", "sha256": "ab" * 32, "stack_bytes": 96}
    make_threads_result(touch="kernel", params={"kernel": kernel}).save(tmp_path / "t.json")
    back = ab.load(tmp_path / "t.json")
    assert back.touch == "kernel" and back.params["kernel"] == kernel


@pytest.mark.parametrize("path, value, message", [
    (("threads",), [2, 3], "threads must rise from 1"),
    (("arrays", "ns_per_op"), [[1.0]], "arrays.ns_per_op must have shape"),
    (("status",), [["ok"]], r"status must have shape \(2, 1, 2\)"),
    (("reasons",), [{"strategy": "malloc"}], "reasons must be a list of"),
    (("schema_version",), 2, "upgrade alloca_bench"),
    (("schema_version",), 0, r"reads version 1, and it is older than any this one reads"),
    (("schema_version",), "1", r"schema_version '1'; .* that is not a version number"),
    (("schema_version",), None, r"schema_version None; .* that is not a version number"),
])
def test_a_damaged_threads_file_names_the_field(make_threads_result, tmp_path, replaced, path,
                                               value, message):
    make_threads_result().save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "bad.json").write_text(json.dumps(replaced(data, path, value)))
    with pytest.raises(ResultFileError, match=message):
        ab.load(tmp_path / "bad.json")


def test_a_result_file_with_the_old_thread_axis_loads_without_it(known_result, tmp_path):
    """0.1 saved a sweep's thread axis beside its arrays; a Result has none now."""
    data = known_result().to_dict()
    data.update(threads=[1, 2], thread_ns_per_op=[[1.0]], thread_span_ns_per_op=[[1.0]])
    (tmp_path / "old.json").write_text(json.dumps(data))
    back = ab.load(tmp_path / "old.json")
    assert isinstance(back, ab.Result) and not hasattr(back, "thread_ns_per_op")
