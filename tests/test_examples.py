"""examples/tour.ipynb runs top to bottom in a fresh kernel (so it never rots), and is stored
without outputs."""
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TOUR = pathlib.Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def test_tour_is_committed_without_outputs():
    nb = nbformat.read(TOUR, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_tour_runs_top_to_bottom(tmp_path):
    nb = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    kinds = {key for out in outputs for key in out.get("data", {})}
    assert "text/html" in kinds  # the Result's table
    assert "image/png" in kinds  # the figures
    text = "".join(out.get("text", "") for out in outputs)
    assert "alloca vs malloc" in text and "geomean" in text
