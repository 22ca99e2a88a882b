"""Tests for alloca_bench.machine: the metadata recorded with every result."""
import datetime
import json
import os

import pytest

from alloca_bench import machine
from alloca_bench.machine import IMPORTANT_KEYS, differences, machine_info

OPT_STR = (str, type(None))
OPT_INT = (int, type(None))
EXPECTED_TYPES = {
    "hostname": OPT_STR, "timestamp": str, "platform": str, "arch": OPT_STR,
    "kernel_release": OPT_STR, "kernel_version": OPT_STR, "clocksource": OPT_STR,
    "cpu_model": OPT_STR, "cpu_count": OPT_INT, "cpu_affinity_count": OPT_INT,
    "cpu_mhz": (float, type(None)), "cpu_governor": OPT_STR, "virtualized": (bool, type(None)),
    "mem_total_bytes": OPT_INT, "page_size": OPT_INT, "thp_enabled": OPT_STR,
    "thp_defrag": OPT_STR, "overcommit_memory": OPT_INT, "aslr": OPT_INT,
    "rlimit_stack_soft": OPT_INT, "rlimit_stack_hard": OPT_INT,
    "libc_name": OPT_STR, "libc_version": OPT_STR,
    "glibc_tunables": OPT_STR, "ld_preload": OPT_STR, "malloc_env": OPT_STR,
    "python_implementation": str, "python_version": str, "python_compiler": str,
    "numpy_version": OPT_STR, "cffi_version": OPT_STR,
}
# Keys whose value comes only from a /proc or /sys file.
FILE_KEYS = ("clocksource", "cpu_mhz", "cpu_governor", "virtualized", "mem_total_bytes",
             "thp_enabled", "thp_defrag", "overcommit_memory", "aslr")


@pytest.fixture
def fake_files(monkeypatch):
    """Replace the /proc and /sys reader with a dict {path: text}; absent paths read as None."""
    files = {}
    monkeypatch.setattr(machine, "_read", files.get)
    return files


def test_machine_info_has_exactly_the_documented_keys():
    assert set(machine_info()) == set(EXPECTED_TYPES)


@pytest.mark.parametrize("key", sorted(EXPECTED_TYPES))
def test_machine_info_value_has_its_documented_type(key):
    assert isinstance(machine_info()[key], EXPECTED_TYPES[key])


def test_machine_info_is_json_serializable_and_round_trips():
    info = machine_info()
    assert json.loads(json.dumps(info)) == info


def test_timestamp_is_iso8601_utc():
    stamp = datetime.datetime.fromisoformat(machine_info()["timestamp"])
    assert stamp.utcoffset() == datetime.timedelta(0)


def test_read_returns_none_for_a_missing_file(tmp_path):
    assert machine._read(str(tmp_path / "absent")) is None


def test_read_strips_the_file_text(tmp_path):
    path = tmp_path / "governor"
    path.write_text("performance\n")
    assert machine._read(str(path)) == "performance"


def test_machine_info_tolerates_unreadable_proc_and_sys(monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError("no /proc here")

    # Shadows the builtin for machine.py only, so _read's own OSError handling is what runs.
    monkeypatch.setattr(machine, "open", unreadable, raising=False)
    info = machine_info()
    assert set(info) == set(EXPECTED_TYPES)
    assert {key: info[key] for key in FILE_KEYS} == dict.fromkeys(FILE_KEYS)
    assert info["python_version"]


def test_thp_mode_is_the_bracketed_choice():
    assert machine._bracketed("always [madvise] never") == "madvise"
    assert machine._bracketed("always defer defer+madvise [madvise] never") == "madvise"
    assert machine._bracketed("[always] madvise never") == "always"


def test_thp_mode_is_none_without_a_bracketed_choice():
    assert machine._bracketed("always madvise never") is None
    assert machine._bracketed(None) is None


def test_thp_settings_are_read_from_sysfs(fake_files):
    fake_files["/sys/kernel/mm/transparent_hugepage/enabled"] = "[always] madvise never"
    fake_files["/sys/kernel/mm/transparent_hugepage/defrag"] = "always defer [never]"
    info = machine_info()
    assert (info["thp_enabled"], info["thp_defrag"]) == ("always", "never")


def test_mem_total_is_converted_from_kib_to_bytes(fake_files):
    fake_files["/proc/meminfo"] = "MemTotal:       16384 kB\nMemFree:   1024 kB"
    assert machine_info()["mem_total_bytes"] == 16384 * 1024


def test_cpu_model_and_mhz_come_from_the_first_cpu_in_cpuinfo(fake_files):
    fake_files["/proc/cpuinfo"] = (
        "processor\t: 0\nmodel name\t: Test CPU A\ncpu MHz\t\t: 2100.000\n\n"
        "processor\t: 1\nmodel name\t: Test CPU B\ncpu MHz\t\t: 3000.000\n")
    info = machine_info()
    assert (info["cpu_model"], info["cpu_mhz"]) == ("Test CPU A", 2100.0)


def test_proc_integers_are_parsed_and_garbage_is_none(fake_files):
    fake_files["/proc/sys/vm/overcommit_memory"] = "2"
    fake_files["/proc/sys/kernel/randomize_va_space"] = "not a number"
    info = machine_info()
    assert (info["overcommit_memory"], info["aslr"]) == (2, None)


def test_hypervisor_flag_means_virtualized(fake_files):
    fake_files["/proc/cpuinfo"] = "flags\t\t: fpu vme sse2 hypervisor avx2"
    assert machine_info()["virtualized"] is True


def test_x86_flags_without_hypervisor_mean_bare_metal(fake_files):
    fake_files["/proc/cpuinfo"] = "flags\t\t: fpu vme sse2 avx2"
    assert machine_info()["virtualized"] is False


def test_dmi_product_name_of_a_vm_means_virtualized(fake_files):
    fake_files["/sys/class/dmi/id/product_name"] = "KVM Virtual Machine"
    assert machine_info()["virtualized"] is True


def test_virtualized_is_unknown_without_cpu_flags_or_dmi(fake_files):
    assert machine_info()["virtualized"] is None


def test_unlimited_stack_rlimit_is_none_and_finite_one_is_bytes(monkeypatch):
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit",
                        lambda which: (8 * 1024 * 1024, resource.RLIM_INFINITY))
    info = machine_info()
    assert (info["rlimit_stack_soft"], info["rlimit_stack_hard"]) == (8 * 1024 * 1024, None)


def test_allocator_environment_is_recorded(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libjemalloc.so.2")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setenv("MALLOC_CHECK_", "3")
    info = machine_info()
    assert info["glibc_tunables"] == "glibc.malloc.mmap_threshold=131072"
    assert info["ld_preload"] == "/usr/lib/libjemalloc.so.2"
    assert info["malloc_env"] == "MALLOC_ARENA_MAX=2;MALLOC_CHECK_=3"


def test_allocator_environment_is_none_when_unset(monkeypatch):
    for name in list(os.environ):
        if name in ("GLIBC_TUNABLES", "LD_PRELOAD") or name.startswith("MALLOC_"):
            monkeypatch.delenv(name)
    info = machine_info()
    assert (info["glibc_tunables"], info["ld_preload"], info["malloc_env"]) == (None, None, None)


def test_differences_reports_only_differing_important_keys():
    a = machine_info()
    b = dict(a, cpu_model="Other CPU", timestamp="2000-01-01T00:00:00+00:00")
    assert differences(a, b) == {"cpu_model": (a["cpu_model"], "Other CPU")}


def test_differences_of_identical_machines_is_empty():
    info = machine_info()
    assert differences(info, dict(info)) == {}


def test_differences_checks_only_the_given_keys():
    a, b = {"page_size": 4096, "aslr": 2}, {"page_size": 65536, "aslr": 0}
    assert differences(a, b, keys=["aslr"]) == {"aslr": (2, 0)}


def test_differences_treats_a_missing_key_as_none():
    assert differences({"ld_preload": None}, {}) == {}
    assert differences({"ld_preload": "libx.so"}, {}) == {"ld_preload": ("libx.so", None)}


def test_important_keys_are_all_collected():
    assert set(IMPORTANT_KEYS) <= set(machine_info())


@pytest.mark.parametrize("files, turbo", [
    ({"/sys/devices/system/cpu/intel_pstate/no_turbo": "1"}, False),
    ({"/sys/devices/system/cpu/intel_pstate/no_turbo": "0"}, True),
    ({"/sys/devices/system/cpu/cpufreq/boost": "1"}, True),
    ({}, "absent"),
])
def test_run_conditions_read_turbo_from_sysfs(fake_files, files, turbo):
    fake_files.update(files)
    conditions = machine.run_conditions()
    assert conditions.get("cpu_turbo", "absent") == turbo
    assert conditions["clock_resolution_ns"] > 0 and conditions["clock_read_ns"] > 0
