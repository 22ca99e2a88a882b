"""The report's section "the stack under threads": a table per size and a sentence computed
from the efficiencies it is given."""
import numpy as np

from alloca_bench.present.document import Document
from alloca_bench.present.report_threads import threads_section
from alloca_bench.results import ThreadsResult


def threaded(alloca_two=1.0, malloc_two=2.0, status=None, reasons=None):
    """alloca and malloc at 1 and 2 threads: per-thread ns/op and the team's span at 2 threads
    are `*_two` times the 1-thread figure (efficiency 1 / that)."""
    per_thread = np.full((2, 1, 2, 3, 2), np.nan)
    per_thread[:, :, 0, :, 0] = 1.0
    per_thread[0, :, 1] = alloca_two
    per_thread[1, :, 1] = malloc_two
    return ThreadsResult(strategies=("alloca", "malloc"), sizes=np.array([64]), threads=(1, 2),
                         pattern="same", touch="pages", ns_per_op=per_thread,
                         span_ns_per_op=np.nanmax(per_thread, axis=-1),
                         faults_per_op=np.zeros((2, 1, 2, 3)),
                         batch_iterations=np.full((2, 1, 2), 10), status=status,
                         reasons=reasons, params={"cpus": 2})


def test_the_section_gives_each_threads_figures_and_the_verdict():
    doc = Document()
    threads_section(doc, threaded())
    text = doc.markdown()
    assert "## The stack under threads" in text and "| `malloc` | 1 | 2 / 2 | 0.5 |" in text
    assert ("At 2 threads alloca's efficiency is 1.00, its same-CPU efficiency 1.00; lower: "
            "`malloc` 0.50.") in text


def test_when_no_heap_column_scales_worse_it_says_so_and_a_missing_run_says_why():
    doc = Document()
    threads_section(doc, threaded(alloca_two=2.0, malloc_two=1.0))
    assert "efficiency 0.50; no heap column scaled worse in this run." in doc.markdown()
    doc = Document()
    threads_section(doc, None, "the runner died")
    assert "Not measured: the runner died." in doc.markdown()


def test_a_heap_column_lower_only_past_the_printed_digits_is_not_called_lower():
    """Efficiencies 1.00 and 0.999 print alike: no "lower: `malloc` 1.00" beside 1.00."""
    doc = Document()
    threads_section(doc, threaded(alloca_two=1.0, malloc_two=1.001))
    text = doc.markdown()
    assert "lower:" not in text and "no heap column scaled worse in this run." in text


def test_a_column_that_is_not_ok_gets_one_sentence_with_its_reason():
    status = np.array([[["ok", "ok"]], [["ok", "failed"]]])
    doc = Document()
    threads_section(doc, threaded(status=status, reasons={("malloc", 64, 2): "out of memory"}))
    assert "`malloc` failed: out of memory." in doc.markdown()
