"""Machine metadata recorded with every result: what ran the benchmark, and in what state.

`machine_info()` returns a flat dict of str/int/float/bool/None, collected per domain (system,
cpu, memory, libc, allocator environment, python) in the manner of pyperf's
`_collect_metadata.py`. Every key is always present so results from different machines line up;
a value that cannot be read here (a missing `/proc` or `/sys` file, a non-Linux system) is None,
never an exception.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import time
from typing import Dict, Optional, Sequence, Tuple, Union


try:
    import resource
except ImportError:  # not POSIX: no rlimits to record
    resource = None  # type: ignore[assignment]

Value = Union[str, int, float, None]  # bool (virtualized) is an int, and JSON has it too

# Keys whose difference between two results changes what a stack-versus-heap number means.
IMPORTANT_KEYS: Tuple[str, ...] = (
    "hostname", "cpu_model", "cpu_count", "cpu_governor", "kernel_release",
    "libc_name", "libc_version", "page_size", "thp_enabled", "clocksource",
    "rlimit_stack_soft", "python_version", "ld_preload", "glibc_tunables",
)

# Display order for format_machine: one group per domain, in the order machine_info fills them.
DOMAINS: Tuple[Tuple[str, ...], ...] = (
    ("hostname", "timestamp", "platform", "arch", "kernel_release", "kernel_version",
     "clocksource"),
    ("cpu_model", "cpu_count", "cpu_affinity_count", "cpu_mhz", "cpu_governor", "virtualized"),
    ("mem_total_bytes", "page_size", "thp_enabled", "thp_defrag", "overcommit_memory", "aslr",
     "rlimit_stack_soft", "rlimit_stack_hard"),
    ("libc_name", "libc_version", "glibc_tunables", "ld_preload", "malloc_env"),
    ("python_implementation", "python_version", "python_compiler", "numpy_version",
     "cffi_version"),
)

# Markers of a virtual machine in /sys/class/dmi/id/product_name.
_VM_PRODUCTS = ("KVM", "QEMU", "VMware", "VirtualBox", "Virtual Machine", "HVM domU", "Bochs")


def _read(path: str) -> Optional[str]:
    """The stripped text of a /proc or /sys file, or None if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_int(path: str) -> Optional[int]:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _bracketed(text: Optional[str]) -> Optional[str]:
    """The selected mode of a sysfs choice list: "always [madvise] never" -> "madvise"."""
    match = re.search(r"\[([^\]]+)\]", text or "")
    return match.group(1) if match else None


def _fields(text: Optional[str]) -> Dict[str, str]:
    """"key : value" lines (/proc/cpuinfo, /proc/meminfo) as a dict; the first occurrence wins,
    which for cpuinfo means cpu0."""
    fields: Dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _system() -> Dict[str, Value]:
    uname = platform.uname()
    return {
        "hostname": uname.node or None,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "arch": uname.machine or None,
        "kernel_release": uname.release or None,
        "kernel_version": uname.version or None,
        # The clock behind every timing: tsc is read in user space in tens of ns; hpet or
        # acpi_pm (VMs fall back to them when tsc looks unstable) need a system call per read,
        # about a microsecond, which swamps a 1-op batch.
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
    }


def _virtualized(flags: Optional[str]) -> Optional[bool]:
    """True in a virtual machine, False on bare metal, None when this cannot tell.

    In a guest a TLB miss walks two levels of page tables, and first touch of guest memory can
    fault in the host too, so fault-heavy figures run higher than on bare metal."""
    product = _read("/sys/class/dmi/id/product_name") or ""
    if "hypervisor" in (flags or "").split() or any(vm in product for vm in _VM_PRODUCTS):
        return True
    # Mainstream x86 hypervisors set the flag; other architectures have no "flags" line.
    return False if flags is not None else None


def _cpu() -> Dict[str, Value]:
    cpuinfo = _fields(_read("/proc/cpuinfo"))
    try:
        affinity: Optional[int] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        affinity = None
    try:
        mhz: Optional[float] = float(cpuinfo["cpu MHz"])
    except (KeyError, ValueError):  # not x86, or no frequency exposed
        mhz = None
    return {
        "cpu_model": cpuinfo.get("model name") or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "cpu_affinity_count": affinity,
        # cpu0's clock when sampled (MHz): a snapshot, not the frequency during the run.
        "cpu_mhz": mhz,
        # Any governor but "performance" lets the clock move during a run: drift between rounds.
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "virtualized": _virtualized(cpuinfo.get("flags")),
    }


def _rlimit_stack() -> Tuple[Optional[int], Optional[int]]:
    """Soft and hard RLIMIT_STACK in bytes; None for unlimited (or no rlimits on this system)."""
    if resource is None:
        return None, None
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    unlimited = resource.RLIM_INFINITY
    return (None if soft == unlimited else soft), (None if hard == unlimited else hard)


def _memory() -> Dict[str, Value]:
    mem_total = _fields(_read("/proc/meminfo")).get("MemTotal", "").split()  # ["24731708", "kB"]
    try:
        page_size: Optional[int] = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        page_size = None
    stack_soft, stack_hard = _rlimit_stack()
    thp = "/sys/kernel/mm/transparent_hugepage/"
    return {
        "mem_total_bytes": int(mem_total[0]) * 1024 if mem_total[:1] and mem_total[0].isdecimal()
        else None,
        # Bytes per page: each page a touch=pages kernel writes to is one potential fault.
        "page_size": page_size,
        # With THP "always" a large malloc/mmap region may be backed by 2 MiB pages: far fewer
        # faults than pages touched. "madvise" does that only for regions that ask (glibc does
        # with GLIBC_TUNABLES=glibc.malloc.hugetlb=1); "never" keeps one fault per page.
        "thp_enabled": _bracketed(_read(thp + "enabled")),
        # Whether such a fault may stall to compact memory into a huge page.
        "thp_defrag": _bracketed(_read(thp + "defrag")),
        # 2 (strict accounting) makes a large malloc or mmap fail when asked for, rather than
        # the OOM killer acting at first touch.
        "overcommit_memory": _read_int("/proc/sys/vm/overcommit_memory"),
        # Randomisation also shifts the stack start within a page, so the same alloca can
        # straddle one page more or fewer from run to run.
        "aslr": _read_int("/proc/sys/kernel/randomize_va_space"),
        # The main thread's stack limit bounds the largest safe alloca/VLA.
        "rlimit_stack_soft": stack_soft,
        "rlimit_stack_hard": stack_hard,
    }


def _libc() -> Dict[str, Value]:
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):  # not glibc (musl has no such name)
        name, version = platform.libc_ver()
    return {"libc_name": name or None, "libc_version": version or None}


def _allocator_env() -> Dict[str, Value]:
    """Environment that changes malloc's behaviour, hence every heap figure."""
    # glibc's MALLOC_* (and jemalloc's MALLOC_CONF), then the other allocators' own variables.
    malloc = sorted(f"{k}={v}" for k, v in os.environ.items()
                    if k.startswith(("MALLOC_", "JE_MALLOC_", "MIMALLOC_", "TCMALLOC_")))
    return {
        # e.g. glibc.malloc.mmap_threshold pins the threshold that otherwise moves at run time.
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        # A preloaded allocator replaces plain "malloc" for the whole process.
        "ld_preload": os.environ.get("LD_PRELOAD"),
        "malloc_env": ";".join(malloc) or None,
    }


def _version(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python() -> Dict[str, Value]:
    return {
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        "python_compiler": platform.python_compiler(),
        "numpy_version": _version("numpy"),
        "cffi_version": _version("cffi"),
    }


def machine_info() -> Dict[str, Value]:
    """Metadata about this machine and process, as a flat JSON-serializable dict.

    Units: `*_bytes`, `page_size` and `rlimit_stack_*` in bytes (rlimits None when unlimited),
    `cpu_mhz` in MHz, `timestamp` ISO 8601 UTC. `virtualized` is True, False or None (unknown).
    """
    info: Dict[str, Value] = {}
    for collect in (_system, _cpu, _memory, _libc, _allocator_env, _python):
        info.update(collect())
    return info


def busy_cpu_seconds() -> Optional[float]:
    """CPU-seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq and
    steal: time the hypervisor gave the vCPU to others) from /proc/stat, or None without it."""
    text = _read("/proc/stat")
    fields = text.splitlines()[0].split() if text else []
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_conditions() -> Dict[str, Value]:
    """What the warnings need at the start of a run: the 1-minute load average, whether turbo
    boost is on, and the clock's resolution and read cost (ns).  Stopgap: the clock is measured
    here from Python (clock_getres, and the smallest step between back-to-back
    perf_counter_ns() reads, which includes Python's call overhead) until the C side records
    its own figures."""
    out: Dict[str, Value] = {"clock_measured_by": "python"}
    try:
        out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    for path, on in (("/sys/devices/system/cpu/intel_pstate/no_turbo", "0"),
                     ("/sys/devices/system/cpu/cpufreq/boost", "1")):
        text = _read(path)
        if text is not None:
            out["cpu_turbo"] = text == on
            break
    out["clock_resolution_ns"] = time.clock_getres(time.CLOCK_MONOTONIC) * 1e9
    read = time.perf_counter_ns
    steps = [-(read() - read()) for _ in range(2000)]
    positive = [d for d in steps if d > 0]
    out["clock_read_ns"] = float(min(positive)) if positive else None
    return out


def differences(a: Dict[str, Value], b: Dict[str, Value],
                keys: Sequence[str] = IMPORTANT_KEYS) -> Dict[str, Tuple[Value, Value]]:
    """{key: (a's value, b's value)} for each of `keys` whose values differ; a missing key counts
    as None, so an older result lacking a key does not differ from one that could not read it."""
    return {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}
