"""alloca_bench.analysis.comparison_model: the numbers of a comparison (ComparisonData), and the
public Comparison as that data with its words and pictures."""
from alloca_bench.analysis.compare import Comparison, compare
from alloca_bench.analysis.comparison_model import ComparisonData


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
