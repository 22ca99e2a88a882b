"""The Linux kernel symbol table as /proc/kallsyms shows it, read from Python.

Each line of a kallsyms file is ``address type name [module]``: the address in hex, one type
letter, the symbol name, and for symbols of loaded modules the module name in brackets.

What the type letter means
    The letter (lowercased) gives the kind of place the symbol lives in: ``t`` text, ``d`` data,
    ``b`` bss, ``r`` read-only data, ``g``/``s`` small data/bss, ``a`` absolute, ``w`` weak,
    ``v`` weak object, ``u`` undefined, ``n`` debug (see ``SECTIONS``).
    For the kernel image (lines without a module) the case is the symbol's linkage, as ``nm``
    prints it: uppercase global (external linkage), lowercase local (``static``). Weak symbols
    are the exception: ``W``/``w`` and ``V``/``v`` are always external, the case only says
    whether a default is defined.
    For module lines the case means something else: the kernel prints the letter uppercase when
    the module *exports* the symbol and lowercase otherwise (``s_show()`` in kernel/kallsyms.c),
    whatever its linkage. So ``Symbol.is_global`` is None for module symbols.

Global is not exported
    Exported means listed by ``EXPORT_SYMBOL``/``EXPORT_SYMBOL_GPL`` for modules to link
    against. Thousands of kernel functions are global (uppercase ``T``) so that other files of
    the kernel can call them, yet are not exported, and a module cannot use them. For the
    kernel image the export list shows up in kallsyms as ``__ksymtab_<name>`` entries, but only
    on kernels built with CONFIG_KALLSYMS_ALL; it can also be read from the build's
    Module.symvers (``load(symvers=...)``). When neither is available, ``Symbol.exported`` is
    None: unknowable from this table, not False.

kallsyms_lookup_name()
    The kernel function returns the address of a name, or 0 (not NULL) when it is absent. It
    searches the kernel image first (for a name defined several times there, by static symbols
    in different files, it returns the lowest address), then loaded modules in list order; a
    ``module:name`` form searches one module. It was unexported in Linux 5.7, so modules can no
    longer call it. ``lookup_name()`` follows the same rules but returns None, not 0, for an
    absent name; ``lookup_all()`` returns every match. Names are matched exactly (kernels built
    with Clang LTO also match ``name.llvm.<hash>``; this reader does not).

Hidden addresses
    The kernel prints every address as 0 unless the reader may see them: kernel.kptr_restrict=2
    hides them from everyone, 1 from processes without CAP_SYSLOG, and 0 shows them to
    processes with CAP_SYSLOG, or to all when kernel.perf_event_paranoid <= 1. Then
    ``addresses_visible`` is False, ``Symbol.address`` is None, and ``lookup_name()`` raises
    PermissionError for a name the table has (it still returns None for an absent one).

Reading is lazy and not cached
    ``load()`` reads the file and parses nothing yet: a lookup searches the bytes for the name
    and parses only the lines that hold it, so ``lookup_name()`` takes about as long as
    ``cat /proc/kallsyms``. The whole table is parsed (once) when first needed: ``len()``,
    indexing, iteration, ``grep()``, ``stats()``, ``to_numpy()``; a malformed line is reported
    then, or by a lookup that reads it. /proc/kallsyms changes when modules load or unload and
    its mtime does not say so, so the module-level ``lookup_name()`` re-reads it on each call;
    for many lookups, ``load()`` once and query the returned ``SymbolTable``.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import operator
import os
import re
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from alloca_bench._reading import read_regular
from alloca_bench.exceptions import KallsymsFormatError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_PATH = "/proc/kallsyms"
# /proc/kallsyms with many modules loaded is tens of MiB; more is not a symbol table.
MAX_FILE_BYTES = 256 << 20

# Lowercased type letter -> where the symbol lives, as the kernel's elf_type() and nm assign them.
SECTIONS = {
    "t": "text",
    "d": "data",
    "b": "bss",
    "r": "rodata",
    "g": "small data",
    "s": "small bss",
    "a": "absolute",
    "w": "weak",
    "v": "weak object",
    "u": "undefined",
    "n": "debug",
}

# The kernel's own elf_type() emits '?' for a symbol it cannot classify.
_TYPE_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz?")

_HEX = re.compile(r"[0-9a-fA-F]+")

# A table is searched as bytes when it holds only printable ASCII, spaces, tabs and newlines (as
# the kernel writes it): then bytes split as str.split() and str.splitlines() do. Any other
# file is rewritten in the kernel's form when loaded.
_TEXT_BYTES = bytes(range(0x21, 0x7F)) + b" \t\n"
_FIRST_LINE_NONZERO_ADDRESS = re.compile(rb"[ \t]*0*[1-9a-fA-F]")
_LINE_WITH_NONZERO_ADDRESS = re.compile(rb"\n[ \t]*0*[1-9a-fA-F]")
_KSYMTAB_NAME = re.compile(rb"__ksymtab_[^\s]*")

# One parsed line: address, type letter, name, module (None for the kernel image).
_Row = tuple[int, str, str, "str | None"]
# One line's fields as text: address in hex, type letter, name, module ("" for the kernel
# image). The whole table is kept in this form: converting its ~120k addresses to int costs
# almost as much as reading the file, and len(), grep() and stats() need no address.
_Fields = tuple[str, str, str, str]

# A non-blank line that _line_problem() accepts, its fields in groups: one pass over the whole
# table splits every line in C. A line holding whitespace other than spaces and tabs does not
# match, so it is left to the line-by-line split, which says what str.split() says. After the
# name, the line ends at once (as most do: trying that first is faster) or after spacing and
# an optional [module].
_SYMBOL_LINE = re.compile(r"^[ \t]*([0-9a-fA-F]+)[ \t]+([A-Za-z?])[ \t]+(\S+)"
                          r"(?:\n|[ \t]+(?:\[(\S+)\][ \t]*)?\n)", re.MULTILINE)

# Bracketed names kallsyms prints for code that is not a loaded module (BPF programs, ftrace and
# kprobe trampolines); kallsyms_lookup_name() walks only real modules, so it never finds these.
PSEUDO_MODULES = frozenset({"bpf", "__builtin__ftrace", "__builtin__kprobes"})


@dataclasses.dataclass(frozen=True, repr=False)
class Symbol:
    """One line of a kallsyms file.

    ``address`` is None when the table hides addresses; ``module`` is None for the kernel image;
    ``exported`` is True/False, or None when this table cannot tell (see the module docstring).
    """

    address: int | None
    type: str
    name: str
    module: str | None
    exported: bool | None = None

    def __repr__(self) -> str:
        address = "None" if self.address is None else f"0x{self.address:x}"
        return (f"Symbol(address={address}, type={self.type!r}, name={self.name!r}, "
                f"module={self.module!r}, exported={self.exported!r})")

    @property
    def is_global(self) -> bool | None:
        """True for external linkage, False for static; None for module symbols (see above)."""
        return _is_global(self.type, self.module)

    @property
    def section(self) -> str | None:
        """Where the letter says the symbol lives ("text", "data", ...); None if unknown."""
        return SECTIONS.get(self.type.lower())

    def line(self) -> str:
        """This symbol as a kallsyms line (hidden addresses print as 0, as the kernel does)."""
        text = f"{self.address or 0:016x} {self.type} {self.name}"
        return text if self.module is None else f"{text}\t[{self.module}]"


def _is_global(letter: str, module: str | None) -> bool | None:
    if module is not None or letter == "?":
        return None
    # Weak binding is external linkage; for w/v the case only says whether a default exists.
    return letter in "WwVv" or letter.isupper()


class SymbolTable:
    """A kallsyms file, kept as its bytes: lookups search them, and the whole table is parsed
    into rows only when first needed (see the module docstring).

    ``path``: the file read. ``addresses_visible``: False when every address is 0 (hidden by
    the kernel, or an empty table). ``skipped``: 1-based numbers of the malformed lines that
    ``load(skip_malformed=True)`` left out.
    """

    def __init__(self, path: str, data: bytes, skipped: Sequence[int],
                 symvers_exports: frozenset[str] | None) -> None:
        self.path = path
        self._data = data  # see _TEXT_BYTES; ends with a newline unless empty
        self.skipped: tuple[int, ...] = tuple(skipped)
        self._symvers_exports = symvers_exports

    def __len__(self) -> int:
        return len(self._fields)

    def __getitem__(self, i: int) -> Symbol:
        return self._symbol(_typed(self._fields[i]))

    def __iter__(self) -> Iterator[Symbol]:
        return (self._symbol(_typed(fields)) for fields in self._fields)

    def __repr__(self) -> str:
        return f"<SymbolTable {self.path!r}>"

    @functools.cached_property
    def _fields(self) -> list[_Fields]:
        """Every symbol line's fields, in file order (blank lines left out)."""
        text = self._data.decode("utf-8")
        fields = _split_all(text)
        return fields if fields is not None else _split_by_line(self.path, text)

    @functools.cached_property
    def _index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = collections.defaultdict(list)
        for i, fields in enumerate(self._fields):
            index[fields[2]].append(i)
        return dict(index)

    @functools.cached_property
    def addresses_visible(self) -> bool:
        """False when every address is 0: hidden by the kernel, or an empty table."""
        # A line whose address has a nonzero digit; that line is parsed, so a malformed one
        # is reported rather than taken for an address.
        first = _FIRST_LINE_NONZERO_ADDRESS.match(self._data)
        found = _LINE_WITH_NONZERO_ADDRESS.search(self._data)
        if first is None and found is None:
            return False
        self._row_at(0 if first is not None else found.start() + 1)
        return True

    @functools.cached_property
    def _exports(self) -> frozenset[str] | None:
        if self._symvers_exports is not None:
            return self._symvers_exports
        names = set()
        for match in _KSYMTAB_NAME.finditer(self._data):
            name = match.group().decode("utf-8")
            if any(row[3] is None for row in self._rows_named(name, [match.start()])):
                names.add(name[len("__ksymtab_"):])
        return frozenset(names) or None

    @property
    def exports_known(self) -> bool:
        """Whether the kernel image's export list is known (kallsyms ``__ksymtab_`` or symvers)."""
        return self._exports is not None

    def _symbol(self, row: _Row) -> Symbol:
        address, letter, name, module = row
        return Symbol(address if self.addresses_visible else None, letter, name, module,
                      self._exported(letter, name, module))

    def _exported(self, letter: str, name: str, module: str | None) -> bool | None:
        if module is not None:
            return letter.isupper()  # the kernel cased the letter by export status
        if self._exports is None:
            return None
        # A static symbol sharing an exported name is not the exported one.
        return name in self._exports and bool(_is_global(letter, None))

    def _row_at(self, pos: int) -> tuple[int, _Row | None]:
        """(start offset, parsed row) of the line holding byte `pos`."""
        start = self._data.rfind(b"\n", 0, pos) + 1
        line = self._data[start:self._data.index(b"\n", pos)].decode("utf-8")
        try:
            return start, _parse(line)
        except _Malformed as exc:  # the line number is counted only for the error
            raise _format_error(self.path, self._data.count(b"\n", 0, start) + 1, exc,
                                line) from None

    def _rows_named(self, name: str, starts: Iterable[int]) -> list[_Row]:
        """The rows called `name` among the lines where a field starts at one of `starts`
        (byte offsets in file order; an offset not after a space or tab starts no field)."""
        rows, lines = [], set()
        for pos in starts:
            if pos == 0 or self._data[pos - 1] not in b" \t":
                continue
            start, row = self._row_at(pos)
            if row is not None and row[2] == name and start not in lines:
                lines.add(start)
                rows.append(row)
        return rows

    def _named(self, name: str) -> list[_Row]:
        """The rows called `name`, in file order: from the index once the table is parsed,
        else by searching the bytes and parsing only the lines found."""
        if "_fields" in self.__dict__:
            return [_typed(self._fields[i]) for i in self._index.get(name, ())]
        if not name or name.split() != [name]:
            return []  # a name never holds whitespace
        found = re.finditer(re.escape(name.encode("utf-8")) + rb"(?=[ \t\n])", self._data)
        return self._rows_named(name, (m.start() for m in found))

    def _choose(self, name: str, module: str | None) -> _Row | None:
        candidates = [row for row in self._named(_check_name(name)) if row[1] not in "Uu"]
        if module is not None:
            return next((row for row in candidates if row[3] == module), None)
        image = [row for row in candidates if row[3] is None]
        if image:
            return min(image, key=lambda row: row[0])  # ties keep file order
        return next((row for row in candidates if row[3] not in PSEUDO_MODULES), None)

    def lookup_all(self, name: str) -> list[Symbol]:
        """Every symbol called ``name``, in file order (empty if there is none)."""
        return [self._symbol(row) for row in self._named(_check_name(name))]

    def find(self, name: str, module: str | None = None) -> Symbol | None:
        """The symbol kallsyms_lookup_name() would pick for ``name`` (``module:name`` if given).

        Without a module: the lowest-address definition in the kernel image, else the first
        definition in a loaded module. Undefined symbols never match.
        """
        row = self._choose(name, module)
        return None if row is None else self._symbol(row)

    def lookup_name(self, name: str, module: str | None = None) -> int | None:
        """The address of ``name`` as kallsyms_lookup_name() finds it, or None when absent.

        Raises PermissionError when the name is present but the table hides addresses.
        """
        row = self._choose(name, module)
        if row is None:
            return None
        if row[0] == 0 and not self.addresses_visible:
            raise PermissionError(f"{self.path} lists {name!r} but shows every address as 0: "
                                  f"{_hidden_reason(self.path)}")
        return row[0]

    def grep(self, pattern: str, types: str | None = None) -> list[Symbol]:
        """Symbols whose name matches the regular expression ``pattern`` (``re.search``).

        ``types``, e.g. "T" or "Tt", keeps only those type letters.
        """
        try:
            regex = re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # 'a{99999999999}', '((...
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        if types is not None and not (types and set(types) <= _TYPE_LETTERS):
            raise ValueError(f"types must be kallsyms type letters such as 'T' or 'Tt', "
                             f"not {types!r}")
        names = map(operator.itemgetter(2), self._fields)
        matches = itertools.compress(self._fields, map(regex.search, names))  # in C
        return [self._symbol(_typed(fields)) for fields in matches
                if types is None or fields[1] in types]

    def stats(self) -> dict[str, dict[str, int]]:
        """Symbol counts: ``by_type`` letter; ``linkage`` global/local/unknown (module symbols
        are unknown); ``exported`` yes/no/unknown; ``by_module``, the kernel image as
        "vmlinux"."""
        rows = self._fields
        linkage = collections.Counter(_is_global(t, m or None) for _, t, _, m in rows)
        exported = collections.Counter(self._exported(t, n, m or None) for _, t, n, m in rows)
        by_module = collections.Counter(m or "vmlinux" for *_, m in rows)
        return {
            "by_type": dict(sorted(collections.Counter(t for _, t, _, _ in rows).items())),
            "linkage": {"global": linkage[True], "local": linkage[False],
                        "unknown": linkage[None]},
            "exported": {"yes": exported[True], "no": exported[False],
                         "unknown": exported[None]},
            "by_module": dict(by_module.most_common()),
        }

    def to_numpy(self) -> np.ndarray:
        """A new structured array: address (uint64, 0 where hidden), type, name, module ("" for
        the kernel image); string fields are as wide as the longest value in this table."""
        import numpy as np

        rows = self._fields
        width = max((len(n) for _, _, n, _ in rows), default=1)
        mod_width = max((len(m) for *_, m in rows if m), default=1)
        array = np.empty(len(rows), dtype=[("address", "u8"), ("type", "U1"),
                                           ("name", f"U{width}"), ("module", f"U{mod_width}")])
        array["address"] = [int(a, 16) for a, _, _, _ in rows]
        array["type"] = [t for _, t, _, _ in rows]
        array["name"] = [n for _, _, n, _ in rows]
        array["module"] = [m for *_, m in rows]
        return array


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"symbol name must be a str, not {type(name).__name__}")
    return name


def _hidden_reason(path: str) -> str:
    reason = ("the kernel shows addresses only to readers with CAP_SYSLOG (root) when "
              "kernel.kptr_restrict <= 1, or to anyone when kptr_restrict = 0 and "
              "kernel.perf_event_paranoid <= 1")
    if path == DEFAULT_PATH:
        try:
            with open("/proc/sys/kernel/kptr_restrict") as f:
                reason += f"; kptr_restrict is {f.read().strip()} here"
        except OSError:
            pass  # the reason stands without the current value
    return reason


def load(path: str | os.PathLike | None = None, *, symvers: str | None = None,
         skip_malformed: bool = False) -> SymbolTable:
    """Read a kallsyms-format file (default /proc/kallsyms) into a ``SymbolTable``, parsed
    lazily (see the module docstring).

    ``symvers``: the kernel build's Module.symvers, to know which kernel-image symbols are
    exported when kallsyms has no ``__ksymtab_`` entries. A malformed line raises
    ``KallsymsFormatError`` naming the file and line when it is read, unless ``skip_malformed``
    (which parses the whole file now) leaves it out and records its number in
    ``table.skipped``. Blank lines are ignored. KallsymsFormatError, before reading, for
    anything but a regular file (a FIFO, /dev/zero) or a file over MAX_FILE_BYTES (the table or
    the symvers); a missing or unreadable file raises the OSError from open().
    """
    path = DEFAULT_PATH if path is None else os.fspath(path)
    data = read_regular(path, MAX_FILE_BYTES, KallsymsFormatError, "a kallsyms table")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    skipped: list[int] = []
    if skip_malformed or not _searchable(data):
        data, skipped = _rewrite(path, data, skip_malformed)
    exports = None if symvers is None else _read_symvers(symvers, skip_malformed)
    return SymbolTable(path, data, skipped, exports)


def _searchable(data: bytes) -> bool:
    """Whether names can be found by a byte search (see _TEXT_BYTES)."""
    return not data.translate(None, _TEXT_BYTES)


def _rewrite(path: str, data: bytes, skip_malformed: bool) -> tuple[bytes, list[int]]:
    """Every well-formed line of `data`, written as the kernel would (searchable), and the
    numbers of the malformed lines left out (KallsymsFormatError unless `skip_malformed`)."""
    # kallsyms is ASCII; "replace" keeps a stray byte printable instead of failing the file.
    text = data.decode("utf-8", errors="replace")
    lines, skipped = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            row = _parse(line)
        except _Malformed as exc:
            if not skip_malformed:
                raise _format_error(path, lineno, exc, line) from None
            skipped.append(lineno)
            continue
        if row is not None:
            lines.append(Symbol(*row).line() + "\n")
    return "".join(lines).encode("utf-8"), skipped


class _Malformed(Exception):
    """A line that is not ``address type name [module]``; the message says why."""


def _parse(line: str) -> _Row | None:
    """One line as (address, type, name, module), None for a blank line; _Malformed if it is
    not a kallsyms line."""
    fields = _split(line)
    return None if fields is None else _typed(fields)


def _split(line: str) -> _Fields | None:
    """One line's fields as text (see _Fields), None for a blank line; _Malformed if it is
    not a kallsyms line."""
    fields = line.split()
    if not fields:
        return None
    problem = _line_problem(fields)
    if problem is not None:
        raise _Malformed(problem)
    return fields[0], fields[1], fields[2], fields[3][1:-1] if len(fields) == 4 else ""


def _typed(fields: _Fields) -> _Row:
    """The fields as a row: the address an int, the module None for the kernel image."""
    address, letter, name, module = fields
    return int(address, 16), letter, name, module or None


def _split_all(text: str) -> list[_Fields] | None:
    """The fields of every line of `text` from one pass of _SYMBOL_LINE (in C), or None when
    a line is blank or malformed: then only _split_by_line() can tell which, and why."""
    found = _SYMBOL_LINE.findall(text)
    return found if len(found) == text.count("\n") else None  # each match is one whole line


def _split_by_line(path: str, text: str) -> list[_Fields]:
    """The fields of every non-blank line of `text`, split one line at a time; the first
    malformed line raises KallsymsFormatError naming `path` and the line's number."""
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):
        try:
            fields = _split(line)
        except _Malformed as exc:
            raise _format_error(path, lineno, exc, line) from None
        if fields is not None:
            rows.append(fields)
    return rows


def _format_error(path: str, lineno: int, problem: _Malformed, line: str) -> KallsymsFormatError:
    return KallsymsFormatError(f"{path}:{lineno}: {problem} (expected 'address type name "
                               f"[module]'): {line[:80]!r}")


def _line_problem(fields: list[str]) -> str | None:
    """Why these whitespace-split fields are not a kallsyms line, or None if they are."""
    if len(fields) not in (3, 4):
        return f"{len(fields)} field(s), not 3 or 4"
    if fields[1] not in _TYPE_LETTERS:
        return f"type {fields[1]!r} is not a type letter"
    if not _HEX.fullmatch(fields[0]):
        return f"address {fields[0]!r} is not a hexadecimal number"
    if len(fields) == 4 and not (len(fields[3]) > 2 and fields[3][0] == "["
                                 and fields[3][-1] == "]"):
        return f"module {fields[3]!r} is not of the form [name]"
    return None


def _read_symvers(path: str, skip_malformed: bool) -> frozenset[str]:
    """Names Module.symvers lists as exported by vmlinux.

    The column order changed across kernel versions (the namespace moved), so the module is
    taken as the field just before the EXPORT_SYMBOL* one.
    """
    exports = set()
    # Bounded, and refused unless a regular file, as the table is: /dev/zero has no line end.
    text = read_regular(path, MAX_FILE_BYTES, KallsymsFormatError, "a Module.symvers").decode(
        "utf-8", errors="replace")
    for lineno, line in enumerate(text.split("\n"), 1):
        fields = line.split("\t")
        kinds = [k for k, field in enumerate(fields) if field.startswith("EXPORT_SYMBOL")]
        if not kinds or kinds[0] < 3:  # crc, name, module at least precede it
            if line.strip() and not skip_malformed:
                raise KallsymsFormatError(
                    f"{path}:{lineno}: expected 'crc<TAB>name<TAB>module<TAB>EXPORT_SYMBOL"
                    f"...' (Module.symvers): {line[:80]!r}")
            continue
        if fields[kinds[0] - 1] == "vmlinux":
            exports.add(fields[1])
    return frozenset(exports)


def lookup_name(name: str, module: str | None = None) -> int | None:
    """Read /proc/kallsyms now and return ``name``'s address as kallsyms_lookup_name() finds
    it, or None when absent; PermissionError when the kernel hides addresses."""
    return load().lookup_name(name, module)
