"""The layout's promises: the import contracts of pyproject.toml hold (the layers, and results,
analysis and present never import the compiled module or measuring), no import circle runs
through results, analysis or present once the notebook conveniences are left out, and a saved
result opens, compares and plots where the compiled module cannot be loaded."""
import pathlib
import tomllib

import pytest

PYPROJECT = pathlib.Path(__file__).parent.parent / "pyproject.toml"


def test_import_contracts_hold():
    """lint-imports keeps every contract of pyproject.toml."""
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports() == 0


def test_no_import_circle_runs_through_results_analysis_or_present():
    """With the imports the layers contract ignores by name (the notebook conveniences) left
    out, no module of results/, analysis/ or present/ imports anything that imports it back."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("alloca_bench", exclude_type_checking_imports=True)
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    for line in layers["ignore_imports"]:
        importer, imported = (part.strip() for part in line.split("->"))
        graph.remove_import(importer=importer, imported=imported)
    ours = ("alloca_bench.results", "alloca_bench.analysis", "alloca_bench.present")
    circles = [(a, b) for a in sorted(graph.modules) if a.startswith(ours)
               for b in sorted(graph.find_modules_directly_imported_by(a))
               if graph.chain_exists(importer=b, imported=a)]
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
