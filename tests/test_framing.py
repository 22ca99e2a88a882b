"""The runner's wire format: records round-trip through encode/Reader whatever the chunking,
the Python constants mirror csrc/ab_framing.h, and plans refuse values the C parser would split."""
import os
import re

import pytest

from alloca_bench.measuring import _framing

HEADER_H = os.path.join(os.path.dirname(__file__), os.pardir, "csrc", "ab_framing.h")


def test_records_round_trip_in_any_chunking():
    records = [(_framing.HELLO, {"pid": 1, "build_info": {"x": "y"}}),
               (_framing.CELL, {"cell": 0, "iterations": 10}),
               (_framing.SAMPLE, _framing.Sample(3, 7, 12.5, 0.25, 0.0, 0, 1, 12.5, 12.25, 1, 3)),
               (_framing.SAMPLE, (_framing.Sample(2, 1, 9.0, 0.0, 0.0, 0, 2, 11.5, 9.0),
                                 _framing.Sample(2, 1, 11.0, 0.0, 0.0, 1, 2, 11.5, 10.5, 2))),
               (_framing.FAILED, {"cell": 3, "status": -5, "reason": "r"}),
               (_framing.DONE, None)]
    stream = b"".join(_framing.encode(kind, payload) for kind, payload in records)
    for chunk in (1, 7, len(stream)):
        reader = _framing.Reader()
        got = [r for i in range(0, len(stream), chunk) for r in reader.feed(stream[i:i + chunk])]
        assert got == records
        assert reader.pending == 0


def test_constants_mirror_the_c_header():
    text = open(HEADER_H, encoding="utf-8").read()
    c = {name: int(value) for name, value in re.findall(r"AB_(\w+) = (-?\d+)", text)}
    assert (c["REC_HELLO"], c["REC_CELL"], c["REC_SAMPLE"], c["REC_FAILED"], c["REC_DONE"],
            c["REC_BUSY"]) == (_framing.HELLO, _framing.CELL, _framing.SAMPLE, _framing.FAILED,
                               _framing.DONE, _framing.BUSY)
    assert (c["STATUS_CELL_LOST"], c["STATUS_WRONG_ALLOCATOR"]) == (_framing.CELL_LOST,
                                                                  _framing.WRONG_ALLOCATOR)
    assert (c["EXIT_USAGE"], c["EXIT_PLAN"], c["EXIT_IO"]) == (
        _framing.EXIT_USAGE, _framing.EXIT_PLAN, _framing.EXIT_IO)
    assert re.search(rf'AB_PLAN_MAGIC "{_framing.PLAN_MAGIC}"', text)
    # struct ab_sample: two uint32, three doubles, two uint32 (thread, threads), two doubles
    # (span, CPU time), two uint32 (switches, retakes)
    assert _framing.SAMPLE_STRUCT.size == 64


def test_malformed_records_are_value_errors():
    with pytest.raises(ValueError, match="unknown record type 9"):
        list(_framing.Reader().feed(_framing.HEADER.pack(9, 0)))
    with pytest.raises(ValueError, match="sample record has 3 bytes"):
        list(_framing.Reader().feed(_framing.HEADER.pack(_framing.SAMPLE, 3) + b"abc"))
    with pytest.raises(ValueError, match="more than"):
        list(_framing.Reader().feed(_framing.HEADER.pack(_framing.CELL, _framing.MAX_PAYLOAD + 1)))
    with pytest.raises(ValueError, match="not a JSON object"):
        list(_framing.Reader().feed(_framing.encode(_framing.CELL, b"[1]")))


def test_plan_text_lists_cells_and_rounds_and_refuses_spaces():
    plan = _framing.plan_text([{"id": 0, "strategy": 4, "touch": 0, "size": 64, "preload": ""}],
                             [(0, [0]), (1, [])])
    assert plan.splitlines() == [_framing.PLAN_MAGIC, "options setup_parallel=1 pin=1",
                                 "cell id=0 strategy=4 touch=0 size=64",
                                 "round index=0 cells=0", "end"]
    with pytest.raises(ValueError, match="without spaces"):
        _framing.cell_line({"id": 0, "preload": "/a b/lib.so"})


def test_plan_text_names_the_cpus_the_runner_starts_on_when_asked():
    plan = _framing.plan_text([], [], setup_parallel=2, cpus=(0, 2))
    assert plan.splitlines()[1] == "options setup_parallel=2 pin=1 cpus=0,2"
