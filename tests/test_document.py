"""present/document.py: the report's block list renders to Markdown and to self-contained HTML."""
from alloca_bench.present.document import Document


def _doc() -> Document:
    doc = Document()
    doc.h(2, "Claim `alloca`")
    doc.p("It is **fast** & small")
    doc.items(["one", "two"])
    doc.table(["a|b", "c"], [["1", "2"]])
    doc.code("x < y")
    doc.image(b"\x89PNG", "a figure")
    return doc


def test_markdown_escapes_pipes_and_leaves_out_images():
    text = _doc().markdown()
    assert "## Claim `alloca`" in text
    assert "| a\\|b | c |" in text and "| 1 | 2 |" in text
    assert "- one\n- two" in text and "```\nx < y\n```" in text
    assert "PNG" not in text and "a figure" not in text


def test_html_escapes_text_and_renders_code_bold_and_inline_png():
    page = _doc().html("title <t>")
    assert "<title>title &lt;t&gt;</title>" in page
    assert "<h2>Claim <code>alloca</code></h2>" in page
    assert "<p>It is <b>fast</b> &amp; small</p>" in page
    assert "<pre>x &lt; y</pre>" in page
    assert 'alt="a figure" src="data:image/png;base64,iVBORw=="' in page
