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

Reading is not cached: /proc/kallsyms changes when modules load or unload and its mtime does not
say so. ``lookup_name()`` re-reads it on each call (about 0.2 s); for many lookups, ``load()``
once and query the returned ``SymbolTable``.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import re
from typing import Iterator, Sequence

import numpy as np

from alloca_bench.exceptions import KallsymsFormatError

DEFAULT_PATH = "/proc/kallsyms"

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
    """A parsed kallsyms file, kept as columns; ``Symbol`` objects are made on demand.

    ``path``: the file read. ``addresses_visible``: False when every address is 0 (hidden by
    the kernel, or an empty table). ``skipped``: 1-based numbers of the malformed lines that
    ``load(skip_malformed=True)`` left out.
    """

    def __init__(self, path: str, addresses: list[int], types: list[str], names: list[str],
                 modules: list[str | None], skipped: Sequence[int],
                 vmlinux_exports: frozenset[str] | None) -> None:
        self.path = path
        self._addresses = addresses
        self._types = types
        self._names = names
        self._modules = modules
        self.skipped: tuple[int, ...] = tuple(skipped)
        self._exports = vmlinux_exports
        # An empty table shows nothing either; a real table has nonzero addresses when visible.
        self.addresses_visible: bool = any(addresses)

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, i: int) -> Symbol:
        address = self._addresses[i] if self.addresses_visible else None
        return Symbol(address, self._types[i], self._names[i], self._modules[i],
                      self._exported(i))

    def __iter__(self) -> Iterator[Symbol]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"<SymbolTable {self.path!r}: {len(self)} symbols>"

    @property
    def exports_known(self) -> bool:
        """Whether the kernel image's export list is known (kallsyms ``__ksymtab_`` or symvers)."""
        return self._exports is not None

    def _exported(self, i: int) -> bool | None:
        if self._modules[i] is not None:
            return self._types[i].isupper()  # the kernel cased the letter by export status
        if self._exports is None:
            return None
        # A static symbol sharing an exported name is not the exported one.
        return self._names[i] in self._exports and bool(_is_global(self._types[i], None))

    @functools.cached_property
    def _index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = collections.defaultdict(list)
        for i, name in enumerate(self._names):
            index[name].append(i)
        return dict(index)

    def lookup_all(self, name: str) -> list[Symbol]:
        """Every symbol called ``name``, in file order (empty if there is none)."""
        return [self[i] for i in self._index.get(_check_name(name), ())]

    def find(self, name: str, module: str | None = None) -> Symbol | None:
        """The symbol kallsyms_lookup_name() would pick for ``name`` (``module:name`` if given).

        Without a module: the lowest-address definition in the kernel image, else the first
        definition in a loaded module. Undefined symbols never match.
        """
        candidates = [i for i in self._index.get(_check_name(name), ())
                      if self._types[i] not in "Uu"]
        if module is not None:
            chosen = [i for i in candidates if self._modules[i] == module][:1]
        else:
            chosen = [i for i in candidates if self._modules[i] is None]
            # Ties keep file order: min() returns the first of equal addresses.
            chosen = ([min(chosen, key=self._addresses.__getitem__)] if chosen else
                      [i for i in candidates if self._modules[i] not in PSEUDO_MODULES][:1])
        return self[chosen[0]] if chosen else None

    def lookup_name(self, name: str, module: str | None = None) -> int | None:
        """The address of ``name`` as kallsyms_lookup_name() finds it, or None when absent.

        Raises PermissionError when the name is present but the table hides addresses.
        """
        symbol = self.find(name, module)
        if symbol is None:
            return None
        if symbol.address is None:
            raise PermissionError(f"{self.path} lists {name!r} but shows every address as 0: "
                                  f"{_hidden_reason(self.path)}")
        return symbol.address

    def grep(self, pattern: str, types: str | None = None) -> list[Symbol]:
        """Symbols whose name matches the regular expression ``pattern`` (``re.search``).

        ``types``, e.g. "T" or "Tt", keeps only those type letters.
        """
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        if types is not None and not (types and set(types) <= _TYPE_LETTERS):
            raise ValueError(f"types must be kallsyms type letters such as 'T' or 'Tt', "
                             f"not {types!r}")
        return [self[i] for i, name in enumerate(self._names)
                if regex.search(name) and (types is None or self._types[i] in types)]

    def stats(self) -> dict[str, dict[str, int]]:
        """Symbol counts: ``by_type`` letter; ``linkage`` global/local/unknown (module symbols
        are unknown); ``exported`` yes/no/unknown; ``by_module``, the kernel image as
        "vmlinux"."""
        linkage = collections.Counter(_is_global(t, m) for t, m in zip(self._types, self._modules))
        exported = collections.Counter(self._exported(i) for i in range(len(self)))
        by_module = collections.Counter("vmlinux" if m is None else m for m in self._modules)
        return {
            "by_type": dict(sorted(collections.Counter(self._types).items())),
            "linkage": {"global": linkage[True], "local": linkage[False],
                        "unknown": linkage[None]},
            "exported": {"yes": exported[True], "no": exported[False],
                         "unknown": exported[None]},
            "by_module": dict(by_module.most_common()),
        }

    def to_numpy(self) -> np.ndarray:
        """A new structured array: address (uint64, 0 where hidden), type, name, module ("" for
        the kernel image); string fields are as wide as the longest value in this table."""
        width = max(map(len, self._names), default=1)
        mod_width = max((len(m) for m in self._modules if m is not None), default=1)
        array = np.empty(len(self), dtype=[("address", "u8"), ("type", "U1"),
                                           ("name", f"U{width}"), ("module", f"U{mod_width}")])
        array["address"] = self._addresses
        array["type"] = self._types
        array["name"] = self._names
        array["module"] = [m or "" for m in self._modules]
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


def load(path: str | None = None, *, symvers: str | None = None,
         skip_malformed: bool = False) -> SymbolTable:
    """Parse a kallsyms-format file (default /proc/kallsyms) into a ``SymbolTable``.

    ``symvers``: the kernel build's Module.symvers, to know which kernel-image symbols are
    exported when kallsyms has no ``__ksymtab_`` entries. A malformed line raises
    ``KallsymsFormatError`` naming the file and line, unless ``skip_malformed`` leaves it out
    (its line number goes to ``table.skipped``). Blank lines are ignored. Unreadable files
    raise the OSError from open().
    """
    path = DEFAULT_PATH if path is None else str(path)
    with open(path, "rb") as f:
        # kallsyms is ASCII; "replace" keeps a stray byte printable instead of failing the file.
        text = f.read().decode("utf-8", errors="replace")
    addresses: list[int] = []
    types: list[str] = []
    names: list[str] = []
    modules: list[str | None] = []
    skipped: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        problem = _line_problem(fields)
        if problem is None:
            try:
                address = int(fields[0], 16)
            except ValueError:
                address = -1
            if address < 0:
                problem = f"address {fields[0]!r} is not a hexadecimal number"
        if problem is not None:
            if not skip_malformed:
                raise KallsymsFormatError(f"{path}:{lineno}: {problem} (expected 'address "
                                          f"type name [module]'): {line[:80]!r}")
            skipped.append(lineno)
            continue
        addresses.append(address)
        types.append(fields[1])
        names.append(fields[2])
        modules.append(fields[3][1:-1] if len(fields) == 4 else None)
    if symvers is not None:
        exports: frozenset[str] | None = _read_symvers(symvers, skip_malformed)
    else:
        exports = frozenset(name[len("__ksymtab_"):] for name, module in zip(names, modules)
                            if module is None and name.startswith("__ksymtab_")) or None
    return SymbolTable(path, addresses, types, names, modules, skipped, exports)


def _line_problem(fields: list[str]) -> str | None:
    """Why these whitespace-split fields are not a kallsyms line, or None if they are."""
    if len(fields) not in (3, 4):
        return f"{len(fields)} field(s), not 3 or 4"
    if fields[1] not in _TYPE_LETTERS:
        return f"type {fields[1]!r} is not a type letter"
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
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
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
