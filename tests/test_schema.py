"""alloca_bench.results.schema: damaged fields are refused with a ResultFileError naming the
field, saving is strict JSON, and files of schema version 1 load with their failures as a
status per cell."""
import json

import numpy as np
import pytest

import alloca_bench as ab
from alloca_bench.exceptions import ResultFileError


DAMAGE = [
    (("status",), "ok", "status must have shape .*axis 0 has str"),
    (("status", 0, 0, 0), "fine", "status holds 'fine', not one of ok, failed"),
    (("status", 0, 0, 0), None, "status holds None"),
    (("reasons",), {}, "reasons must be a list, not dict"),
    (("reasons",), [["malloc", 64, "auto", "x"]], "reasons holds .*not a record"),
    (("reasons",), [{"strategy": "malloc", "size": 64, "iterations": "auto", "reason": "x"}],
     "reasons names .*not a cell whose status is not ok"),
    (("strategies",), "abc", "strategies must be a list of distinct names, not 'abc'"),
    (("strategies",), ["baseline", "baseline", "malloc"], "strategies must be a list of distinct"),
    (("strategies",), ["baseline", 7, "malloc"], "strategies must be a list"),
    (("sizes",), [64, True], "sizes holds True"),
    (("sizes",), [64, 4096.0], "sizes holds 4096.0"),
    (("sizes",), [64, -1], "sizes holds -1"),
    (("sizes",), [64, 10**30], "sizes holds 1000000000000000000000000000000"),
    (("sizes",), [64, 64], "sizes repeats a value"),
    (("sizes",), "64", "sizes must be a non-empty list"),
    (("iterations",), ["auto", "auto"], "iterations must be distinct"),
    (("iterations",), [0], "iterations holds 0"),
    (("iterations",), "auto", "iterations must be a list"),
    (("touch",), ["pages"], "touch must be one of"),
    (("touch",), "most", "touch must be one of"),
    (("arrays",), "x", "arrays must be an object"),
    (("arrays", "ns_per_op"), "abcd", "arrays.ns_per_op must have shape .*axis 0 has str"),
    (("arrays", "ns_per_op"), [[[[1.0]]]], "must have shape"),
    (("arrays", "faults_per_op"), None, "arrays.faults_per_op must have shape"),
    (("arrays", "ns_per_op", 0, 0, 0, 0), "1.0", "holds '1.0', not a number"),
    (("arrays", "ns_per_op", 0, 0, 0, 0), [1.0], "holds \\[1.0\\], not a number"),
    (("arrays", "ns_per_op", 0, 0, 0, 0), 10**400, "OverflowError"),
    (("arrays", "ns_per_op", 0, 0, 0, 0), -5.0, "infinite figure or one below 0"),
    (("arrays", "ns_per_op", 0, 0, 0), [], "repeats >= 1|must have shape"),
    (("batch_iterations",), [[1]], "batch_iterations must have shape"),
    (("batch_iterations", 0, 0, 0), 1.5, "whole numbers"),
    (("process",), [1], "process must have shape"),
    (("process", 0, 0, 0, 0), -2, "process holds an infinite figure or one below -1"),
    (("process", 0, 0, 0, 0), 0.5, "process must hold whole numbers"),
    (("machine",), [1, 2], "machine must be an object"),
    (("params",), "x", "params must be an object"),
    (("schema_version",), True, "schema_version True"),
    (("schema_version",), 0, "schema_version 0; .* it is older than any this one reads"),
    (("schema_version",), "2", "not a version number"),
    (("params", "placement"), {"malloc": 5}, "params.placement must map each strategy to an "
                                             "object"),
    # fleet's table printed it and failed with AttributeError: 'list' has no attribute 'ljust'
    (("params", "placement"), {"malloc": {"allocator": [[]]}},
     r"params.placement.malloc.allocator must be a string, a number or null, not \[\[\]\]"),
]


@pytest.mark.parametrize("path, value, text", DAMAGE, ids=[str(d[:2]) for d in DAMAGE])
def test_damaged_fields_are_refused_naming_the_field(known_result, replaced, tmp_path, path,
                                                     value, text):
    data = replaced(known_result().to_dict(), path, value)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=text):
        ab.load(tmp_path / "bad.json")


def test_files_of_the_earlier_schema_name_still_load(known_result, tmp_path):
    data = known_result().to_dict()
    assert data["schema"] == "alloca_bench.result"
    data["schema"] = "alloca_bench.results.model"
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert ab.load(tmp_path / "r.json").strategies == known_result().strategies


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"bare {name} in the file")
    return json.loads(text, parse_constant=refuse)


def test_save_writes_strict_json_even_with_nan_metadata(known_result, tmp_path):
    r = known_result(complete=False)
    r.params.update(odd=float("nan"), big=float("inf"), n=np.int64(3), arr=np.arange(2))
    r.timing["in_batch_fraction"] = float("nan")
    r.save(tmp_path / "r.json")
    data = _strict((tmp_path / "r.json").read_text())
    assert data["params"]["odd"] is None and data["params"]["big"] is None
    assert data["params"]["n"] == 3 and data["params"]["arr"] == [0, 1]
    np.testing.assert_array_equal(ab.load(tmp_path / "r.json").ns_per_op, r.ns_per_op)


def _version_1(document: dict, **params) -> dict:
    """`document` as schema version 1 wrote it: "complete", failures in params."""
    old = {k: v for k, v in document.items() if k not in ("status", "reasons")}
    old.update(schema_version=1, complete=False, params={**old["params"], **params})
    return old


def test_version_1_failures_become_status_and_reasons(known_result, tmp_path):
    failed = {"strategy": "malloc", "size": 64, "iterations": "auto", "process": 0,
              "status": 3, "reason": "out of memory"}
    gone = {"strategy": "alloca", "size": 1 << 20, "iterations": "auto", "process": 0,
            "status": 9, "reason": "pattern impossible on the stack"}
    data = _version_1(known_result(complete=False).to_dict(), errors=[failed],
                      unavailable=[gone], interrupted=True, binding="cffi")
    (tmp_path / "old.json").write_text(json.dumps(data))
    r = ab.load(tmp_path / "old.json")
    assert r.sel("malloc", 64).status == "failed"
    assert r.sel("malloc", 64).reason == "out of memory"
    assert r.sel("alloca", 1 << 20).status == "unavailable"
    assert r.sel("malloc", 1 << 20).status == "interrupted"  # one round lost to Ctrl-C
    assert r.reasons[("malloc", 1 << 20, "auto")] == "interrupted (Ctrl-C) after 3 of 4 rounds"
    assert (r.status[0] == "ok").all() and not r.complete
    assert not {"errors", "unavailable", "interrupted"} & set(r.params)


def test_status_and_reasons_round_trip(known_result, tmp_path):
    r = known_result(complete=False)
    r.save(tmp_path / "r.json")
    back = ab.load(tmp_path / "r.json")
    np.testing.assert_array_equal(back.status, r.status)
    assert back.reasons == r.reasons == {("malloc", 1 << 20, "auto"): "interrupted (Ctrl-C)"}
    assert back.to_dict()["reasons"] == [{"strategy": "malloc", "size": 1 << 20,
                                          "iterations": "auto",
                                          "reason": "interrupted (Ctrl-C)"}]


@pytest.mark.parametrize("kind", ["thread", None, 7])
def test_a_threads_file_with_a_damaged_kind_is_named_as_one(make_threads_result, tmp_path,
                                                            kind):
    """It has threads and a pattern and no iterations: not "iterations must be a list"."""
    make_threads_result().save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    data["kind"] = kind
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ResultFileError) as caught:
        ab.load(tmp_path / "t.json")
    assert str(caught.value) == (
        f"{tmp_path / 't.json'} is damaged: it looks like a threads result (it has threads "
        f"and a pattern, no iterations) but its kind is {kind!r}, not 'threads'")
