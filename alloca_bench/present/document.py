"""A report as a list of blocks (headings, paragraphs, lists, tables, code, images), rendered
to Markdown or to one self-contained HTML page."""
from __future__ import annotations

import base64
import html
import re
from typing import Sequence


class Document:
    """A report as a list of blocks, rendered to Markdown or HTML.  Text may use `code` and
    **bold**."""

    def __init__(self) -> None:
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, lines: Sequence[str]) -> None:
        self.blocks.append(("ul", list(lines)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(("table", list(headers), [list(r) for r in rows]))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def image(self, png: bytes, alt: str) -> None:
        self.blocks.append(("img", png, alt))

    def markdown(self) -> str:
        out = []
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append("#" * block[1] + " " + block[2])
            elif kind == "p":
                out.append(block[1])
            elif kind == "ul":
                out.append("\n".join(f"- {line}" for line in block[1]))
            elif kind == "table":
                rows = [block[1], ["---"] * len(block[1])] + block[2]
                out.append("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row)
                                     + " |" for row in rows))
            elif kind == "code":
                out.append("```\n" + block[1] + "\n```")
            # Markdown has no portable way to embed a PNG: figures are HTML-only.
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        body = []
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                body.append(f"<h{block[1]}>{inline(block[2])}</h{block[1]}>")
            elif kind == "p":
                body.append(f"<p>{inline(block[1])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{inline(x)}</li>" for x in block[1])
                            + "</ul>")
            elif kind == "table":
                head = "".join(f"<th>{inline(c)}</th>" for c in block[1])
                rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>"
                               for row in block[2])
                body.append(f"<table><tr>{head}</tr>{rows}</table>")
            elif kind == "code":
                body.append(f"<pre>{html.escape(block[1])}</pre>")
            elif kind == "img":
                data = base64.b64encode(block[1]).decode("ascii")
                body.append(f'<p><img alt="{html.escape(block[2])}" '
                            f'src="data:image/png;base64,{data}"></p>')
        return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
                + "\n".join(body) + "\n</body></html>\n")


CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:.2em .5em;text-align:right}th{background:#eee}pre{background:#f4f4f4;"
        "padding:.6em;white-space:pre-wrap}img{max-width:100%}code{background:#f4f4f4}")


def inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
