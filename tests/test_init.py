"""alloca_bench/__init__.py: a small front door (at most 16 names, DESIGN.md's list), no
compatibility shims, and no public function sharing its name with a subpackage."""
import ast
import importlib
import pathlib
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


# What `import alloca_bench` must leave alone: numpy, cffi's backend, the compiled module and
# the measuring layer load when a name that needs them is first used.
HEAVY = ("numpy", "cffi", "_cffi_backend", "alloca_bench._native", "alloca_bench.measuring")


def test_importing_the_package_imports_no_numpy_cffi_or_compiled_module(python_child):
    child = python_child(f"""
        import sys
        import alloca_bench
        print([name for name in {HEAVY!r} if name in sys.modules])
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"


def test_a_name_is_imported_on_first_use_and_then_kept_in_the_module(python_child):
    child = python_child("""
        import alloca_bench as ab
        assert "sweep" not in vars(ab)
        from alloca_bench.measuring import sweep
        assert ab.sweep is sweep and vars(ab)["sweep"] is sweep
        assert ab.kallsyms.__name__ == "alloca_bench.kallsyms" and ab.sizes.KINDS
    """)
    assert child.returncode == 0, child.stderr


def test_star_import_binds_every_name_of_all(python_child):
    child = python_child("""
        import alloca_bench
        names = {}
        exec("from alloca_bench import *", names)
        assert all(names[name] is getattr(alloca_bench, name) for name in alloca_bench.__all__)
    """)
    assert child.returncode == 0, child.stderr


def test_without_the_compiled_module_results_open_and_measuring_names_say_why(python_child):
    """The names that measure raise an ImportError naming the extension and the remedy; the
    others, and every later attempt, still work as before."""
    child = python_child("""
        import sys
        sys.modules["alloca_bench._native"] = None  # as if it was never built
        import alloca_bench as ab
        assert ab.load and ab.Result and ab.compare and ab.kallsyms
        for name in ("kernel", "measure", "stack_headroom", "sweep", "threads"):
            try:
                getattr(ab, name)
            except ImportError as exc:
                print(exc)
    """)
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert len(lines) == 5
    assert all("needs the compiled extension" in line and "pip install -e ." in line
               for line in lines)


def test_a_subpackage_is_an_attribute_once_asked_for_as_before(python_child):
    """`ab.results.load_all` after `import alloca_bench as ab` (the front door imported every
    layer before names were imported on first use)."""
    child = python_child("""
        import alloca_bench as ab
        assert ab.results.load_all.__module__ == "alloca_bench.results.io"
        assert ab.measuring.sweep is ab.sweep and ab.exceptions.WorkerError
    """)
    assert child.returncode == 0, child.stderr


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="module 'alloca_bench' has no attribute 'sweeps'"):
        ab.sweeps  # noqa: B018


def test_dir_lists_every_name_of_all():
    assert set(ab.__all__) <= set(dir(ab))


def test_the_names_static_tools_read_are_the_names_imported_at_run_time():
    """The `if TYPE_CHECKING:` imports (for type checkers and the API reference) and the table
    the module's __getattr__ imports from name the same modules for the same names."""
    tree = ast.parse(pathlib.Path(ab.__file__).read_text())
    (block,) = [node for node in tree.body
                if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    static = {alias.name: (node.module if node.module != "alloca_bench"
                           else f"alloca_bench.{alias.name}")
              for node in block.body for alias in node.names}
    assert static == ab._HOMES
    assert sorted(ab._HOMES) == ab.__all__
