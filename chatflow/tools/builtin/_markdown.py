"""Markdown parsed once (markdown-it-py) into simple blocks the exporters write out.

Raw HTML in the markdown is shown as text in PDF, DOCX and PPTX. The HTML exporter passes
it through, as Dify's md_exporter (pandoc) does: apps ask a model for a web page and
export it. Such files are only ever served as downloads under a `sandbox` CSP
(`api/routes/tool_files.py`), never as a page of this server's origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token


def parser(*, html: bool = False) -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": html}).enable(["table", "strikethrough"])


def to_html(markdown: str, *, html: bool = False) -> str:
    """HTML of `markdown`; raw HTML in it passes through only with `html=True`."""
    return str(parser(html=html).render(markdown))


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False


@dataclass(slots=True)
class Block:
    kind: str  # heading | paragraph | item | code | table | quote | rule
    runs: list[Run] = field(default_factory=list)
    level: int = 0  # heading level, or list nesting depth
    ordered: bool = False
    rows: list[list[str]] = field(default_factory=list)  # tables: header row first

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


def _runs(token: Token) -> list[Run]:
    runs: list[Run] = []
    bold = italic = False
    for child in token.children or []:
        if child.type == "strong_open":
            bold = True
        elif child.type == "strong_close":
            bold = False
        elif child.type == "em_open":
            italic = True
        elif child.type == "em_close":
            italic = False
        elif child.type == "code_inline":
            runs.append(Run(child.content, bold, italic, code=True))
        elif child.type in ("softbreak", "hardbreak"):
            runs.append(Run("\n" if child.type == "hardbreak" else " ", bold, italic))
        elif child.type in ("text", "html_inline"):
            runs.append(Run(child.content, bold, italic))
        elif child.type == "image":
            runs.append(Run(child.content or str(child.attrGet("alt") or ""), bold, italic))
    return runs


def blocks(markdown: str) -> list[Block]:
    """The document as a flat list of blocks (list items carry their depth)."""
    tokens = parser().parse(markdown)
    out: list[Block] = []
    lists: list[bool] = []  # stack of "ordered?" for open lists
    quote = 0
    heading = 0
    in_item = 0
    table: list[list[str]] | None = None
    row: list[str] | None = None
    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            in_item += 1
            out.append(Block("item", level=len(lists), ordered=lists[-1] if lists else False))
        elif kind == "list_item_close":
            in_item -= 1
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "heading_close":
            heading = 0
        elif kind == "table_open":
            table = []
        elif kind == "table_close":
            if table is not None:
                out.append(Block("table", rows=table))
            table = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if table is not None and row is not None:
                table.append(row)
            row = None
        elif kind == "inline":
            if row is not None:
                row.append("".join(r.text for r in _runs(token)))
            elif heading:
                out.append(Block("heading", _runs(token), level=heading))
            elif in_item and out and out[-1].kind == "item" and not out[-1].runs:
                out[-1].runs = _runs(token)
            else:
                out.append(Block("quote" if quote else "paragraph", _runs(token)))
        elif kind in ("fence", "code_block"):
            out.append(Block("code", [Run(token.content.rstrip("\n"), code=True)]))
        elif kind == "hr":
            out.append(Block("rule"))
    return out


def tables(markdown: str) -> list[list[list[str]]]:
    return [block.rows for block in blocks(markdown) if block.kind == "table"]
