"""The runner's C units (csrc/runner*.c, patterns.c) call each other without a circle: the wire
(JSON, records) calls no other unit, the team code calls only the wire, the plan parser
(runner_plan) and the cell's process call down; read from the symbols each object file defines
and needs."""
import os
import shutil
import subprocess

import pytest

CSRC = os.path.join(os.path.dirname(__file__), os.pardir, "csrc")
UNITS = ("runner_wire", "patterns", "runner_plan", "runner_cell", "runner")


def symbols(obj):
    """(defined, undefined) global symbols of an object file."""
    lines = subprocess.run(["nm", "-g", str(obj)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    defined = {line.split()[-1] for line in lines if len(line.split()) == 3}
    needed = {line.split()[-1] for line in lines if line.split()[0] == "U"}
    return defined, needed


def test_the_runner_units_call_each_other_without_a_circle(tmp_path):
    if not os.path.isdir(CSRC) or not shutil.which("gcc") or not shutil.which("nm"):
        pytest.skip("needs csrc/, gcc and nm")
    table = {}
    for unit in UNITS:
        obj = tmp_path / f"{unit}.o"
        subprocess.run(["gcc", "-std=gnu11", "-O2", "-c", "-I", CSRC,
                        os.path.join(CSRC, f"{unit}.c"), "-o", str(obj)], check=True)
        table[unit] = symbols(obj)
    calls = {unit: {other for other in UNITS if other != unit
                    and table[unit][1] & table[other][0]} for unit in UNITS}
    assert calls["runner_wire"] == set()
    assert calls["patterns"] == {"runner_wire"}  # the team never calls back into the plan/cell
    # a topological order exists: each unit calls only units listed before it
    assert all(calls[unit] <= set(UNITS[:k]) for k, unit in enumerate(UNITS)), calls
