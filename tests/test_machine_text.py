"""alloca_bench.present.machine_text: the machine metadata as aligned, grouped lines."""
import re

from alloca_bench.machine import machine_info
from alloca_bench.present.machine_text import format_machine


def rows(text):
    """format_machine output as [(key, value, column where the value starts)], blanks skipped."""
    matches = (re.match(r"(\S+)(\s+)(.*)$", line) for line in text.splitlines() if line)
    return [(m[1], m[3], m.start(3)) for m in matches]


def test_format_machine_lists_every_key_once():
    info = machine_info()
    assert sorted(key for key, _, _ in rows(format_machine(info))) == sorted(info)


def test_format_machine_aligns_values_in_one_column():
    text = format_machine({"cpu_count": 1, "python_implementation": "x", "zz": 4096})
    assert len({column for _, _, column in rows(text)}) == 1


def test_format_machine_orders_keys_by_domain_and_puts_unknown_keys_last():
    text = format_machine({"zz_build_flags": "-O2", "python_version": "3", "hostname": "h",
                           "page_size": 4096, "cpu_model": "c"})
    assert [key for key, _, _ in rows(text)] == [
        "hostname", "cpu_model", "page_size", "python_version", "zz_build_flags"]


def test_format_machine_shows_sizes_in_binary_units_and_none_rlimit_as_unlimited():
    text = format_machine({"page_size": 4096, "rlimit_stack_hard": None, "cpu_governor": None,
                           "mem_total_bytes": 3 * 1024**3})
    assert {key: value for key, value, _ in rows(text)} == {
        "page_size": "4096 (4 KiB)", "rlimit_stack_hard": "unlimited", "cpu_governor": "-",
        "mem_total_bytes": "3221225472 (3 GiB)"}
