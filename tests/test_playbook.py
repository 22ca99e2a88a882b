"""examples/fleet/playbook.yml, run with ansible-core against this machine: it installs
alloca-bench from this checkout into a fresh virtual environment, measures with run --store
and fetches the result into a local store that ab.fleet reads."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import alloca_bench as ab
from alloca_bench.results.store import list_store, machine_id

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK = os.path.join(ROOT, "examples", "fleet", "playbook.yml")


def _ansible_playbook() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    found = beside if os.path.exists(beside) else shutil.which("ansible-playbook")
    if found is None:
        pytest.skip("ansible-playbook is not installed (pip install 'alloca-bench[fleet]')")
    return found


def test_the_playbook_measures_localhost_and_fetches_into_a_local_store(tmp_path):
    playbook = _ansible_playbook()
    local_store = tmp_path / "fleet-store"
    extra = {
        "ansible_python_interpreter": sys.executable,
        "alloca_bench_spec": ROOT,
        "alloca_bench_python": sys.executable,
        "alloca_bench_venv": str(tmp_path / "venv"),
        "alloca_bench_host_store": str(tmp_path / "host-store"),
        "alloca_bench_local_store": str(local_store),
        "alloca_bench_run_args": "--sizes 64,4K --repeats 3 --strategies alloca,malloc",
    }
    args = [playbook, "-i", "localhost,", "-c", "local", PLAYBOOK, "-e", json.dumps(extra)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"))
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    (machine,) = list_store(local_store)
    (path,) = machine.files
    result = ab.load(path)
    assert machine.machine_id == machine_id(result.machine)
    assert {"alloca", "malloc"} <= set(result.strategies)
    assert len(ab.fleet(local_store).machines) == 1
