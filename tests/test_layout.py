"""The layout's promises: the import contracts of pyproject.toml hold (the layers, and results,
analysis and present never import the compiled module or measuring), no import circle runs
between the package's files, counting every import statement (the notebook conveniences' lazy
ones too), and a saved result opens, compares and plots where the compiled module cannot be
loaded."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parent.parent / "alloca_bench"


def test_import_contracts_hold():
    """lint-imports keeps every contract of pyproject.toml."""
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports() == 0


def _module_files() -> dict[str, pathlib.Path]:
    """Module name -> file, for the .py files of the package and its compiled modules."""
    files = {}
    for path in [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.so")]:
        parts = path.relative_to(PACKAGE.parent).parts
        stem = path.name.split(".")[0]
        name = ".".join(parts[:-1] + (() if stem == "__init__" else (stem,)))
        files[name] = path
    return files


def _file_imports(files: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Module -> the package's modules named by any of its import statements: at module level,
    inside functions and under TYPE_CHECKING alike (as a drawing of the files counts them)."""
    def owner(name: str) -> str | None:  # the module itself, or the package a name is from
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        if path.suffix != ".py":
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        named = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                named.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + [base] if base else up)
                named.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                             for alias in node.names)
        graph[module] = {owner(name) for name in named} - {None, module}
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module == goal:
            return True
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return False


def test_no_import_circle_between_files_counting_every_import_statement():
    """Every import statement counts, the conveniences' lazy ones and TYPE_CHECKING ones too:
    the public classes (Result, ThreadsResult, Comparison, Crossover) import present/ inside,
    and present/ reads their data classes, which import nothing back."""
    graph = _file_imports(_module_files())
    assert "alloca_bench.present.answers" in graph["alloca_bench.analysis.crossover"]  # lazy
    circles = sorted((a, b) for a in graph for b in graph[a] if _reaches(graph, b, a))
    assert circles == []


def test_a_saved_result_loads_compares_and_plots_without_the_extension(tmp_path, make_result,
                                                                       noisy, python_child):
    """The library and the command line (compare, check); the commands that measure fail with
    one line, not a traceback."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.json"
    make_result(noisy([2, 3, 20])).save(path)
    done = python_child(f"""
        import sys
        sys.modules["alloca_bench._native"] = None  # as if it was never built
        import matplotlib
        matplotlib.use("Agg")
        import alloca_bench as ab
        r = ab.load({str(path)!r})
        print(r.table().splitlines()[0])
        print(str(ab.compare(r, r)).splitlines()[0])
        r.plot()
        print(r.crossover("alloca", "malloc").speedup.shape)
        try:
            ab.sweep()
        except ImportError as error:
            print("sweep:", error)
        from alloca_bench.cli import main
        print("compare:", main(["compare", {str(path)!r}, {str(path)!r}]))
        print("check:", main(["check", {str(path)!r}]))
        print("machine:", main(["machine"]))
        assert "alloca_bench.native" not in sys.modules
    """)
    assert done.returncode == 0, done.stderr
    assert "ns/op" in done.stdout and "(2,)" in done.stdout
    assert "sweep: alloca_bench.sweep needs the compiled extension" in done.stdout
    assert "compare: 0" in done.stdout and "against a:r; touch=pages" in done.stdout
    assert "check: " in done.stdout and "r.json: " in done.stdout
    assert "machine: 2" in done.stdout and "Traceback" not in done.stderr
    assert "alloca-bench machine: error: import of alloca_bench._native halted" in done.stderr
