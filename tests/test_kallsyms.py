"""Tests of alloca_bench.kallsyms and the `alloca-bench kallsyms` command.

Fixtures under tests/fixtures/kallsyms/ are small hand-written tables; the live tests read
/proc/kallsyms and skip, with the reason, where it is unreadable or its addresses are hidden.
"""
import collections
import os
from pathlib import Path

import numpy as np
import pytest

from alloca_bench import kallsyms
from alloca_bench.cli import main
from alloca_bench.exceptions import AllocaBenchError, KallsymsFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "kallsyms"
BASIC = str(FIXTURES / "basic.kallsyms")
ZEROED = str(FIXTURES / "zeroed.kallsyms")
MALFORMED = str(FIXTURES / "malformed.kallsyms")
KSYMTAB = str(FIXTURES / "ksymtab.kallsyms")
SYMVERS = str(FIXTURES / "Module.symvers")
EMPTY = str(FIXTURES / "empty.kallsyms")


@pytest.fixture(scope="module")
def basic():
    return kallsyms.load(BASIC)


def by_name(table, name, module=None):
    (symbol,) = [s for s in table.lookup_all(name) if s.module == module]
    return symbol


# --- parsing --------------------------------------------------------------------------------------

def test_lines_become_symbols_with_int_address_and_optional_module(basic):
    assert len(basic) == 18  # the blank line in the fixture is ignored
    assert basic[0] == kallsyms.Symbol(0xFFFFFFFF81000000, "T", "_stext", None)
    assert basic[-1].module == "bpf"
    assert by_name(basic, "ext4_fill_super", "ext4").address == 0xFFFFFFFFC0001000
    assert basic.addresses_visible and basic.skipped == ()


def test_symbol_line_round_trips_the_file_format(basic):
    lines = [line for line in Path(BASIC).read_text().splitlines() if line]
    assert [s.line() for s in basic] == lines


def test_to_numpy_holds_the_same_columns(basic):
    array = basic.to_numpy()
    assert array.dtype.names == ("address", "type", "name", "module")
    assert array["address"].dtype == np.uint64
    assert array.shape == (len(basic),)
    assert [int(a) for a in array["address"]] == [s.address for s in basic]
    assert list(array["name"]) == [s.name for s in basic]
    assert list(array["module"]) == [s.module or "" for s in basic]


def test_empty_file_is_an_empty_table_without_visible_addresses():
    table = kallsyms.load(EMPTY)
    assert len(table) == 0 and not table.addresses_visible
    assert table.lookup_name("anything") is None
    assert table.to_numpy().shape == (0,)


def _without_blank_lines(path):
    return "".join(line + "\n" for line in Path(path).read_text().splitlines() if line.strip())


@pytest.mark.parametrize("path", [BASIC, ZEROED, KSYMTAB, EMPTY])
def test_the_one_pass_split_gives_the_fields_of_the_line_by_line_split(path):
    text = _without_blank_lines(path)
    assert kallsyms._split_all(text) == kallsyms._split_by_line(path, text)


@pytest.mark.parametrize("line", [
    "0 a x",
    "  FFFFffff81000000 \t T \t name  \t",  # leading, mixed, trailing spacing; uppercase hex
    "ffff ? unclassified",
    "ffff T [looks_like_a_module]",  # three fields: a bracketed name
    "ffff t name [[nested]]",
    "ffff t name\t[a]b]",
    "ffff t name\t[mod] \t",  # spacing after the module
    "ffff T caf\u00e9\t[m\u00f6d]",
])
def test_odd_but_well_formed_lines_split_in_one_pass_as_line_by_line(line):
    text = f"ffffffff81000000 T _text\n{line}\n"
    fields = kallsyms._split_all(text)
    assert fields is not None and fields == kallsyms._split_by_line("t", text)


def test_a_table_without_blank_lines_reads_as_the_same_symbols(tmp_path, basic):
    path = tmp_path / "basic.kallsyms"
    path.write_text(_without_blank_lines(BASIC))
    assert kallsyms._split_all(path.read_text()) is not None  # the one-pass split is used
    table = kallsyms.load(path)
    assert list(table) == list(basic) and len(table) == len(basic) and table[3] == basic[3]
    assert table.grep("dup|mod_only", types="tT") == basic.grep("dup|mod_only", types="tT")
    assert table.stats() == basic.stats()
    assert table.to_numpy().tolist() == basic.to_numpy().tolist()
    assert table.lookup_all("dup_static") == basic.lookup_all("dup_static")


GOOD_LINES = ["ffffffff81000000 T _text", "ffffffff81001000 t in_between\t[ext4]",
              "ffffffff81002000 T last"]


@pytest.mark.parametrize("line, problem", [
    ("ffffffff81002000 T", "2 field(s), not 3 or 4"),
    ("ffff t name [m] extra", "5 field(s), not 3 or 4"),
    ("zzzzzzzzzzzzzzzz T bad_hex", "address 'zzzzzzzzzzzzzzzz' is not a hexadecimal number"),
    ("0x10 T hex_prefix", "address '0x10' is not a hexadecimal number"),
    ("-ffffffff81005000 T negative", "address '-ffffffff81005000' is not a hexadecimal number"),
    ("ffff TT bad_type", "type 'TT' is not a type letter"),
    ("ffff ! bad_letter", "type '!' is not a type letter"),
    ("ffff t mod_sym ext4", "module 'ext4' is not of the form [name]"),
    ("ffff t mod_sym []", "module '[]' is not of the form [name]"),
    ("ffff t mod_sym\t[ext4", "module '[ext4' is not of the form [name]"),
])
@pytest.mark.parametrize("where", ["first", "middle", "last", "after a blank line"])
def test_a_malformed_line_anywhere_is_named_with_its_number_and_problem(tmp_path, line,
                                                                        problem, where):
    lines = GOOD_LINES + [""] if where == "after a blank line" else list(GOOD_LINES)
    at = {"first": 0, "middle": 2}.get(where, len(lines))
    lines.insert(at, line)
    path = tmp_path / "bad.kallsyms"
    path.write_text("".join(f"{text}\n" for text in lines))
    table = kallsyms.load(path)
    with pytest.raises(KallsymsFormatError) as info:
        len(table)
    assert str(info.value) == (f"{path}:{at + 1}: {problem} (expected 'address type name "
                               f"[module]'): {line!r}")
    with pytest.raises(KallsymsFormatError, match=f":{at + 1}: "):
        table.grep(".")  # the same error from every use of the whole table


# --- bad input ------------------------------------------------------------------------------------

def test_malformed_line_raises_with_path_and_line_number_when_the_table_is_read():
    table = kallsyms.load(MALFORMED)  # reading the file parses nothing yet
    with pytest.raises(KallsymsFormatError, match=r"malformed\.kallsyms:3: 2 field") as info:
        len(table)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AllocaBenchError)


def test_a_lookup_parses_only_the_lines_holding_the_name():
    table = kallsyms.load(MALFORMED)
    assert table.lookup_name("good_two") == 0xFFFFFFFF81006000  # line 8, after the bad ones
    with pytest.raises(KallsymsFormatError, match=r"malformed\.kallsyms:5: type 'TT'"):
        table.lookup_name("bad_type")


@pytest.mark.parametrize("text", [
    "  ffffffff81000000\tT   spaced \r\n00 t after_cr\n",  # leading, doubled and CR spacing
    "ffffffff81000000 T spaced\f\n0 t after_cr\n",  # a form feed: not printable, rewritten
    "ffffffff81000000 T spaced\n0 t after_cr",  # no final newline
])
def test_spacing_and_line_ends_parse_as_str_split_does(tmp_path, text):
    path = tmp_path / "odd.kallsyms"
    path.write_bytes(text.encode())
    cold = kallsyms.load(path)
    assert cold.lookup_name("spaced") == 0xFFFFFFFF81000000
    assert cold.lookup_name("after_cr") == 0 and cold.addresses_visible
    assert [s.name for s in kallsyms.load(path)] == ["spaced", "after_cr"]


def test_non_ascii_bytes_are_kept_replaced_and_found(tmp_path):
    path = tmp_path / "odd.kallsyms"
    path.write_bytes("ffffffff81000000 T caf\u00e9\nffffffff81000010 t bad\xff\n".encode()
                     .replace(b"\xc3\xbf", b"\xff"))
    table = kallsyms.load(path)
    assert table.lookup_name("caf\u00e9") == 0xFFFFFFFF81000000
    assert table.lookup_name("bad\ufffd") == 0xFFFFFFFF81000010
    assert table.lookup_name("caf") is None


@pytest.mark.parametrize("name", ["dup_static", "mod_only", "ext4_exported", "weak_fn", "_text",
                                  "bpf_prog_6deef7357e7b4530_probe", "T", "ext4", "[ext4]",
                                  "ffffffff81002000", "kallsyms", "", "two words"])
def test_lookups_agree_before_and_after_the_whole_table_is_parsed(name):
    searched, parsed = kallsyms.load(BASIC), kallsyms.load(BASIC)
    list(parsed)  # from here lookups use the index of the parsed rows
    for module in (None, "ext4", "xfs", "bpf"):
        assert searched.lookup_name(name, module) == parsed.lookup_name(name, module)
        assert searched.find(name, module) == parsed.find(name, module)
    assert searched.lookup_all(name) == parsed.lookup_all(name)


def test_a_name_that_is_another_field_of_its_line_is_found_once(tmp_path):
    path = tmp_path / "t.kallsyms"
    path.write_text("ffffffff81000000 T T\nffffffff81000010 t x\t[T]\n")
    assert [s.address for s in kallsyms.load(path).lookup_all("T")] == [0xFFFFFFFF81000000]


def test_skip_malformed_keeps_good_lines_and_records_bad_line_numbers():
    table = kallsyms.load(MALFORMED, skip_malformed=True)
    assert [s.name for s in table] == ["_text", "good_one", "good_two"]
    # 2 fields, bad hex, two-letter type, module without brackets, negative address
    assert table.skipped == (3, 4, 5, 6, 7)


KALLSYMS_IN_CHILD = """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from alloca_bench import kallsyms
    try:
        kallsyms.load(sys.argv[1])
    except kallsyms.KallsymsFormatError as exc:
        print("refused:", exc)
"""  # in a child with a memory limit of 1 GiB: a hang or an endless read fails the test only


def test_a_fifo_or_device_is_refused_without_reading(tmp_path, python_child):
    fifo = tmp_path / "kallsyms"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        child = python_child(KALLSYMS_IN_CHILD, path, timeout=60)
        assert child.returncode == 0, child.stderr
        assert f"refused: {path} is not a regular file" in child.stdout


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.kallsyms"
    with open(path, "wb") as f:
        f.truncate(kallsyms.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(KallsymsFormatError, match="more than a kallsyms table may have"):
        kallsyms.load(path)


def test_missing_file_is_a_file_not_found_error():
    with pytest.raises(FileNotFoundError):
        kallsyms.load(str(FIXTURES / "no-such-file"))


# --- the type letter, linkage and export ----------------------------------------------------------

@pytest.mark.parametrize("name, module, is_global, section", [
    ("kallsyms_lookup_name", None, True, "text"),
    ("global_data", None, True, "data"),
    ("local_data", None, False, "data"),
    ("global_ro", None, True, "rodata"),
    ("local_bss", None, False, "bss"),
    ("weak_fn", None, True, "weak"),          # weak binding is external linkage
    ("weak_obj", None, True, "weak object"),
    ("ext4_exported", "ext4", None, "text"),  # module letter case means export, not linkage
    ("data_in_mod", "xfs", None, "data"),
])
def test_type_letter_gives_linkage_and_section(basic, name, module, is_global, section):
    symbol = by_name(basic, name, module)
    assert symbol.is_global is is_global
    assert symbol.section == section


def test_exported_is_unknown_for_the_kernel_image_without_ksymtab_entries(basic):
    assert not basic.exports_known
    assert by_name(basic, "kallsyms_lookup_name").exported is None  # uppercase proves nothing


def test_module_symbol_exported_follows_the_letter_case(basic):
    assert by_name(basic, "ext4_exported", "ext4").exported is True
    assert by_name(basic, "ext4_fill_super", "ext4").exported is False


def test_ksymtab_entries_tell_which_global_symbols_are_exported():
    table = kallsyms.load(KSYMTAB)
    assert table.exports_known
    assert by_name(table, "gpl_only").exported is True
    assert by_name(table, "not_exported").exported is False  # global, yet not exported
    assert [s.exported for s in table.lookup_all("printk")] == [True, False]  # static twin


def test_module_symvers_tells_which_kernel_symbols_are_exported():
    table = kallsyms.load(BASIC, symvers=SYMVERS)
    assert table.exports_known
    assert by_name(table, "kallsyms_lookup_name").exported is True  # 5.10+ column order
    assert by_name(table, "global_data").exported is True  # 5.4-5.9 order, namespace third
    assert by_name(table, "weak_fn").exported is False  # Module.symvers says xfs exports it
    assert by_name(table, "global_ro").exported is False


@pytest.mark.parametrize("kind, make", [("not a regular file", lambda d: "/dev/zero"),
                                         ("a directory", lambda d: d)])
def test_a_symvers_that_is_no_regular_file_is_refused_before_reading(kind, make, tmp_path,
                                                                    python_child):
    """As --file is: /dev/zero as --symvers read forever (a line that never ends), in memory."""
    child = python_child(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from alloca_bench import kallsyms
        from alloca_bench.exceptions import KallsymsFormatError
        try:
            kallsyms.load({BASIC!r}, symvers={make(str(tmp_path))!r})
        except KallsymsFormatError as exc:
            print(exc)
    """, timeout=30)
    assert child.returncode == 0, child.stderr
    assert child.stdout == f"{make(str(tmp_path))} is {kind}; a Module.symvers is a regular file\n"


def test_malformed_symvers_line_is_reported_with_its_number(tmp_path):
    bad = tmp_path / "Module.symvers"
    bad.write_text("0x1\tfoo\tvmlinux\tEXPORT_SYMBOL\t\nnot a symvers line\n")
    with pytest.raises(KallsymsFormatError, match=r"Module\.symvers:2:"):
        kallsyms.load(BASIC, symvers=str(bad))


# --- lookup ---------------------------------------------------------------------------------------

def test_lookup_name_returns_the_address_or_none(basic):
    assert basic.lookup_name("kallsyms_lookup_name") == 0xFFFFFFFF81002000
    assert basic.lookup_name("no_such_symbol") is None


def test_lookup_name_prefers_the_lowest_kernel_address_over_modules(basic):
    assert basic.lookup_name("dup_static") == 0xFFFFFFFF81001000
    assert basic.lookup_name("dup_static", module="ext4") == 0xFFFFFFFFC0003000


def test_lookup_name_searches_modules_in_file_order_or_the_one_named(basic):
    assert basic.lookup_name("mod_only") == 0xFFFFFFFFC0004000
    assert basic.lookup_name("mod_only", module="xfs") == 0xFFFFFFFFC0005000
    assert basic.lookup_name("mod_only", module="btrfs") is None


def test_lookup_name_skips_bpf_pseudo_module_like_the_kernel(basic):
    name = "bpf_prog_6deef7357e7b4530_probe"
    assert basic.lookup_name(name) is None
    assert basic.lookup_name(name, module="bpf") == 0xFFFFFFFFC0007000


def test_lookup_all_returns_every_duplicate_in_file_order(basic):
    found = basic.lookup_all("dup_static")
    assert [(s.address, s.module) for s in found] == [
        (0xFFFFFFFF81001000, None), (0xFFFFFFFF81003000, None), (0xFFFFFFFFC0003000, "ext4")]


def test_lookup_name_rejects_a_non_string_name(basic):
    with pytest.raises(TypeError, match="str"):
        basic.lookup_name(0xFFFFFFFF81002000)


# --- hidden addresses -----------------------------------------------------------------------------

def test_zeroed_table_reports_hidden_addresses_not_zeros():
    table = kallsyms.load(ZEROED)
    assert not table.addresses_visible
    assert all(s.address is None for s in table)
    with pytest.raises(PermissionError, match="CAP_SYSLOG"):
        table.lookup_name("kallsyms_lookup_name")
    assert table.lookup_name("no_such_symbol") is None  # absence is still known


# --- grep and stats -------------------------------------------------------------------------------

def test_grep_matches_a_regex_and_filters_type_letters(basic):
    assert [s.name for s in basic.grep("^global_")] == ["global_data", "global_ro"]
    assert [s.name for s in basic.grep("data", types="d")] == ["local_data", "data_in_mod"]


@pytest.mark.parametrize("pattern, types", [("(", None), ("x", "T!"), ("x", "")])
def test_grep_bad_pattern_or_types_is_a_value_error(basic, pattern, types):
    with pytest.raises(ValueError):
        basic.grep(pattern, types)


def test_stats_counts_types_linkage_exports_and_modules(basic):
    stats = basic.stats()
    assert stats["by_type"] == {"D": 1, "R": 1, "T": 4, "V": 1, "W": 1, "b": 1, "d": 2, "t": 7}
    assert stats["linkage"] == {"global": 7, "local": 4, "unknown": 7}
    assert stats["exported"] == {"yes": 1, "no": 6, "unknown": 11}
    assert stats["by_module"] == {"vmlinux": 11, "ext4": 4, "xfs": 2, "bpf": 1}


# --- the command line -----------------------------------------------------------------------------

def test_cli_lookup_prints_the_kallsyms_line(capsys):
    assert main(["kallsyms", "lookup", "kallsyms_lookup_name", "--file", BASIC]) == 0
    assert capsys.readouterr().out == "ffffffff81002000 T kallsyms_lookup_name\n"


def test_cli_lookup_of_duplicates_notes_them_and_all_lists_them(capsys):
    assert main(["kallsyms", "lookup", "dup_static", "--file", BASIC]) == 0
    out, err = capsys.readouterr()
    assert out == "ffffffff81001000 t dup_static\n" and "3 symbols" in err
    assert main(["kallsyms", "lookup", "dup_static", "--all", "--file", BASIC]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["kallsyms", "lookup", "dup_static", "--module", "ext4", "--file", BASIC]) == 0
    assert capsys.readouterr().out == "ffffffffc0003000 t dup_static\t[ext4]\n"


def test_cli_lookup_of_a_missing_name_exits_1_with_a_message(capsys):
    assert main(["kallsyms", "lookup", "no_such_symbol", "--file", BASIC]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no symbol 'no_such_symbol'" in err


def test_cli_lookup_in_a_zeroed_table_exits_2_and_prints_no_address(capsys):
    assert main(["kallsyms", "lookup", "kallsyms_lookup_name", "--file", ZEROED]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "shows every address as 0" in err


def test_cli_malformed_file_is_an_error_naming_the_line(capsys):
    assert main(["kallsyms", "stats", "--file", MALFORMED]) == 2
    assert "malformed.kallsyms:3:" in capsys.readouterr().err


def test_cli_stats_of_a_malformed_file_prints_nothing_before_the_error(capsys):
    """The table parses lazily: stats printed 'file: PATH' on stdout before failing."""
    assert main(["kallsyms", "stats", "--file", MALFORMED]) == 2
    assert capsys.readouterr().out == ""


def test_cli_skip_malformed_counts_skipped_lines(capsys):
    assert main(["kallsyms", "stats", "--skip-malformed", "--file", MALFORMED]) == 0
    out, err = capsys.readouterr()
    assert "symbols: 3" in out and "skipped 5 malformed line(s)" in err


def test_cli_file_that_is_a_device_is_refused(python_child):
    child = python_child("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from alloca_bench.cli import main
        sys.exit(main(["kallsyms", "grep", "x", "--file", "/dev/zero"]))
    """, timeout=60)
    assert child.returncode == 2
    assert "alloca-bench kallsyms: error: /dev/zero is not a regular file" in child.stderr


def test_cli_missing_file_is_a_clear_error(capsys):
    assert main(["kallsyms", "stats", "--file", str(FIXTURES / "no-such-file")]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_cli_grep_prints_matches_and_exits_1_on_none(capsys):
    assert main(["kallsyms", "grep", "mod_only", "--type", "t", "--file", BASIC]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ffffffffc0004000 t mod_only\t[ext4]", "ffffffffc0005000 t mod_only\t[xfs]"]
    assert main(["kallsyms", "grep", "nothing_matches", "--file", BASIC]) == 1


def test_cli_stats_prints_the_counts(capsys):
    assert main(["kallsyms", "stats", "--file", BASIC]) == 0
    out = capsys.readouterr().out
    assert "symbols: 18" in out
    assert any(line.split() == ["global", "7"] for line in out.splitlines())
    assert any(line.split() == ["ext4", "4"] for line in out.splitlines())


# --- the live table -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live():
    if not os.access(kallsyms.DEFAULT_PATH, os.R_OK):
        pytest.skip(f"{kallsyms.DEFAULT_PATH} is not readable here")
    table = kallsyms.load()
    if not table.addresses_visible:
        pytest.skip("the kernel hides kallsyms addresses from this process (kptr_restrict, "
                    "CAP_SYSLOG)")
    return table


def _independent_parse():
    """/proc/kallsyms read the plain way, without the module under test."""
    with open(kallsyms.DEFAULT_PATH) as f:
        return [line.split() for line in f]


def test_live_lookup_name_equals_the_address_in_the_file(live):
    rows = _independent_parse()
    first = {}
    for row in rows:
        if len(row) == 3:
            first.setdefault(row[2], int(row[0], 16))
    assert kallsyms.lookup_name("kallsyms_lookup_name") == first["kallsyms_lookup_name"]
    for name in ("_text", "schedule", "do_sys_open", "__x64_sys_read"):
        if name in first:
            assert live.lookup_name(name) == first[name]


def test_live_stats_match_an_independent_count(live):
    rows = _independent_parse()
    stats = live.stats()
    assert len(live) == len(rows)
    assert stats["by_type"] == dict(sorted(collections.Counter(r[1] for r in rows).items()))
    modules = collections.Counter(r[3][1:-1] if len(r) == 4 else "vmlinux" for r in rows)
    assert stats["by_module"] == dict(modules)


def test_live_one_pass_split_gives_the_fields_of_the_line_by_line_split():
    if not os.access(kallsyms.DEFAULT_PATH, os.R_OK):
        pytest.skip(f"{kallsyms.DEFAULT_PATH} is not readable here")
    with open(kallsyms.DEFAULT_PATH) as f:
        text = f.read()
    fields = kallsyms._split_all(text)
    assert fields is not None and fields == kallsyms._split_by_line(kallsyms.DEFAULT_PATH, text)


def test_live_table_loads_even_when_addresses_are_hidden():
    if not os.access(kallsyms.DEFAULT_PATH, os.R_OK):
        pytest.skip(f"{kallsyms.DEFAULT_PATH} is not readable here")
    table = kallsyms.load()
    assert len(table) > 0
    if not table.addresses_visible:
        with pytest.raises(PermissionError):
            table.lookup_name(table[0].name)


@pytest.mark.parametrize("pattern", ["a{99999999999}", "(" * 100_000 + ")" * 100_000],
                         ids=["repeat-too-large", "nested-too-deep"])
def test_grep_of_a_pattern_re_cannot_compile_is_a_value_error(basic, pattern):
    """Not the OverflowError or RecursionError of re.compile: the command shows a ValueError
    as one line, anything else as a traceback."""
    with pytest.raises(ValueError, match="bad regular expression"):
        basic.grep(pattern)
