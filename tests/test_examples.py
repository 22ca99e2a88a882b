"""examples/tour.ipynb runs top to bottom in a fresh kernel (so it never rots), is stored
without outputs, prints no warning, and says only what its numbers show."""
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TOUR = pathlib.Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def test_tour_is_committed_without_outputs():
    nb = nbformat.read(TOUR, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_tour_says_nothing_its_numbers_may_contradict():
    """"most cells n.s." sat beside a table flagging 7 of 15: the text stays neutral and a cell
    counts the flagged ones."""
    nb = nbformat.read(TOUR, as_version=4)
    text = " ".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "most cells" not in text and "should be `n.s.`" not in text


def test_tour_runs_top_to_bottom(tmp_path):
    nb = nbformat.read(TOUR, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    kinds = {key for out in outputs for key in out.get("data", {})}
    assert "text/html" in kinds  # the Result's and the Comparison's tables
    assert "image/png" in kinds  # the figures
    text = "".join(out.get("text", "") for out in outputs)
    assert "alloca vs malloc" in text and "geomean" in text
    # Without ipywidgets the progress bar is text, and tqdm's IProgress warning is not shown.
    stderr = "".join(out.get("text", "") for out in outputs if out.get("name") == "stderr")
    assert "IProgress" not in stderr and "Warning" not in stderr
    # The Comparison displays as HTML, and the count printed below it is the table's own.
    pages = [out["data"]["text/html"] for out in outputs
             if "alloca_bench.Comparison" in out.get("data", {}).get("text/plain", "")]
    assert len(pages) == 1 and "<table>" in pages[0]
    shown = re.search(r"(\d+) of (\d+) cells significant", pages[0]).groups()
    printed = re.search(r"(\d+) of (\d+) cells flagged significant", text).groups()
    assert shown == printed
