"""The layout's promises: the import contracts of pyproject.toml hold, and a saved result opens,
compares and plots where the compiled module cannot be loaded."""
import subprocess
import sys
import textwrap

import pytest


def test_import_contracts_hold():
    """results/analysis/present never import native or measure; nothing imports cli."""
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports() == 0


def test_a_saved_result_loads_compares_and_plots_without_the_extension(tmp_path, make_result,
                                                                       noisy):
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.json"
    make_result(noisy([2, 3, 20])).save(path)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["alloca_bench._native"] = None  # as if it was never built
        import matplotlib
        matplotlib.use("Agg")
        import alloca_bench as ab
        r = ab.load({str(path)!r})
        print(r.table().splitlines()[0])
        print(ab.compare(r, r).table().splitlines()[0])
        r.plot()
        print(r.crossover("alloca", "malloc").speedup.shape)
        try:
            ab.sweep()
        except ImportError as error:
            print("sweep:", error)
        assert "alloca_bench.native" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ns/op" in done.stdout and "(2,)" in done.stdout
    assert "sweep: alloca_bench.sweep needs the compiled extension" in done.stdout
