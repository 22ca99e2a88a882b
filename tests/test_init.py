"""alloca_bench/__init__.py: a small front door (at most 16 names, DESIGN.md's list), no
compatibility shims, and no public function sharing its name with a subpackage."""
import importlib
import pkgutil

import pytest

import alloca_bench as ab

# DESIGN.md, "Public API": the only names the front door may export.
DESIGNED = {"measure", "sweep", "threads", "kernel", "load", "compare", "fleet", "allocators",
            "stack_headroom", "STRATEGIES", "TOUCHES", "Result", "AllocaBenchError",
            "StackLimitError", "kallsyms", "sizes"}


def test_all_holds_at_most_sixteen_names_all_from_the_designed_list():
    assert len(ab.__all__) <= 16
    assert set(ab.__all__) <= DESIGNED
    assert len(set(ab.__all__)) == len(ab.__all__) and sorted(ab.__all__) == ab.__all__


def test_every_exported_name_resolves():
    for name in ab.__all__:
        assert getattr(ab, name) is not None, name


@pytest.mark.parametrize("module", ["alloca_bench.result", "alloca_bench.compare"])
def test_the_old_module_paths_are_gone(module):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(module)


def test_no_exported_function_shares_its_name_with_a_subpackage():
    """`import alloca_bench.measure` once gave the function, not the package."""
    submodules = {info.name for info in pkgutil.iter_modules(ab.__path__)}
    assert not submodules & {name for name in ab.__all__ if callable(getattr(ab, name))}


@pytest.mark.parametrize("name", ["load_all", "machine_info", "BUILD_INFO", "WorkerError",
                                  "loop_stack_span", "ffi_overhead", "Measurement"])
def test_names_outside_the_front_door_are_not_attributes_of_it(name):
    """They live in their subpackages (alloca_bench.results.load_all, ...), named once."""
    assert not hasattr(ab, name)
