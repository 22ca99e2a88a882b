"""alloca_bench.results.io: load() and load_all() read a saved result and refuse one that is
not what was asked for (touch, binding, grid), naming what it holds."""
import json

import pytest

import alloca_bench as ab


def test_the_binding_of_a_file_that_called_it_backend_is_read_as_binding(known_result,
                                                                        tmp_path):
    data = known_result().to_dict()
    data["params"] = {**data["params"], "backend": "ctypes"}
    (tmp_path / "old.json").write_text(json.dumps(data))
    r = ab.load(tmp_path / "old.json", binding="ctypes")
    assert r.params["binding"] == "ctypes" and "backend" not in r.params


def test_load_refuses_a_saved_result_of_another_touch_binding_or_grid(known_result, tmp_path):
    data = known_result().to_dict()
    data["params"] = {**data["params"], "binding": "cffi"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="holds touch 'pages', not 'full'"):
        ab.load(path, touch="full")
    with pytest.raises(ValueError, match="holds binding 'cffi', not 'ctypes'"):
        ab.load(path, binding="ctypes")
    with pytest.raises(ValueError, match="there is no grid 1"):
        ab.load(path, grid=1)
    assert [r.strategies for r in ab.results.load_all(path)] == [known_result().strategies]
