"""alloca_bench.analysis.comparison_model: the numbers of a comparison (ComparisonData), and the
public Comparison as that data with its words and pictures."""
import dataclasses

import numpy as np

from alloca_bench.analysis.compare import Comparison, compare
from alloca_bench.analysis.comparison_model import ComparisonData


def _with_failed(result, strategy, size, status="failed"):
    """`result` with the cell (strategy, size) not measured: NaN samples, that status."""
    s, z = result.strategies.index(strategy), list(result.sizes).index(size)
    ns, cell = result.ns_per_op.copy(), result.status.copy()
    ns[s, z] = np.nan
    cell[s, z] = status
    return dataclasses.replace(result, ns_per_op=ns, status=cell,
                               reasons={(strategy, size, "auto"): "out of memory"})


def test_not_measured_lists_the_gated_cells_the_reference_measured_and_another_did_not(
        make_result, noisy):
    """A slowdown gate cannot pass a cell it has no number for: a malloc that failed in the new
    run is not 'no slowdown'.  Allocator-free kernels follow include_allocator_free."""
    a = make_result(noisy([2, 3, 20]))
    b = _with_failed(_with_failed(make_result(noisy([2, 3, 20], seed=2)), "malloc", 64),
                     "alloca", 4096, "interrupted")
    c = compare(a, b, labels=["a", "b"])
    assert c.slowdowns(10) == []
    assert c.not_measured() == [("b", "malloc", 64, "auto", "failed")]
    assert c.not_measured(include_allocator_free=True) == [
        ("b", "alloca", 4096, "auto", "interrupted"), ("b", "malloc", 64, "auto", "failed")]
    assert compare(b, a, labels=["b", "a"]).not_measured() == []  # the reference had no number


def test_a_comparison_is_its_data_with_words(make_result, noisy):
    """present/ reads ComparisonData; the Comparison compare() returns adds table(), str()
    and the notebook display."""
    r = make_result(noisy([2, 3, 20]))
    c = compare(r, r)
    assert isinstance(c, ComparisonData) and type(c) is Comparison
    assert not any(hasattr(ComparisonData, name) for name in ("table", "plot", "_repr_html_"))
    assert "__str__" not in vars(ComparisonData)
    assert repr(c).startswith("<alloca_bench.Comparison ") and "ratio" in str(c)
    assert c.slowdowns() == [] and c.drift() == []


def test_a_slowdown_threshold_computed_with_numpy_is_a_number(make_result, noisy):
    import numpy as np
    import pytest

    r = make_result(noisy([2, 3, 20]))
    c = compare(r, r)
    assert c.slowdowns(np.int64(5)) == c.slowdowns(np.float32(5.0)) == c.slowdowns(5) == []
    with pytest.raises(ValueError, match="finite percentage >= 0, got True"):
        c.slowdowns(True)
