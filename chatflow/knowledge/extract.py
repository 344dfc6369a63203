"""Uploaded document -> text parts, for the file types Dify's knowledge base accepts.

Reuses the document extractor's converters (`engine/nodes/_documents.py`) for PDF and
DOCX; HTML is reduced to its visible text; CSV and spreadsheets become one part per row
(`header: value; ...`), as Dify's table extractors do, so a row is never cut in two or
glued to its neighbour. Parsing is CPU-bound: callers run `extract` in a thread.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from chatflow.engine.nodes import _documents

# Extensions Dify's knowledge upload accepts (ETL "dify"), lower case, without the dot.
EXTENSIONS = frozenset("txt markdown md mdx html htm pdf docx csv xlsx vtt properties json".split())


class UnsupportedDocument(ValueError):
    """The file's type is not one a knowledge base can index."""


def extension_of(filename: str) -> str:
    """`report.PDF` -> `pdf`; '' when there is none."""
    _, dot, ext = filename.rpartition(".")
    return ext.lower() if dot else ""


def check_supported(filename: str) -> str:
    """The file's extension, or `UnsupportedDocument`."""
    extension = extension_of(filename)
    if extension not in EXTENSIONS:
        raise UnsupportedDocument(f"File type not allowed: .{extension or '?'}")
    return extension


def extract(content: bytes, extension: str) -> list[str]:
    """The text parts of a document; raises `ValueError` with a readable reason."""
    converter = _CONVERTERS.get(extension)
    if converter is None:
        raise UnsupportedDocument(f"File type not allowed: .{extension}")
    return converter(content)


def _text(content: bytes) -> list[str]:
    return [_documents.plain_text(content)]


def _json(content: bytes) -> list[str]:
    return [_documents.json_text(content)]


def _pdf(content: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    # One part per page keeps page text together; pages are split on their own.
    return [page.extract_text() or "" for page in reader.pages]


def _docx(content: bytes) -> list[str]:
    return [_documents.docx_text(content)]


class _VisibleText(HTMLParser):
    _SKIP = frozenset(("script", "style", "noscript", "template", "head"))
    _BLOCK = frozenset(
        "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article pre blockquote".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html(content: bytes) -> list[str]:
    parser = _VisibleText()
    parser.feed(_documents.plain_text(content))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return ["\n".join(line for line in lines if line)]


def _rows_as_parts(rows: list[list[str]]) -> list[str]:
    """`header: value; header: value` per row, the first row being the header."""
    if not rows:
        return []
    header = [h.strip() or f"column{i + 1}" for i, h in enumerate(rows[0])]
    parts: list[str] = []
    for row in rows[1:]:
        cells = [
            f"{header[i] if i < len(header) else f'column{i + 1}'}: {value.strip()}"
            for i, value in enumerate(row)
            if value.strip()
        ]
        if cells:
            parts.append("; ".join(cells))
    return parts


def _csv(content: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(_documents.plain_text(content))))
    return _rows_as_parts(rows)


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).splitlines())


def _xlsx(content: bytes) -> list[str]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    parts: list[str] = []
    try:
        for sheet in workbook.worksheets:
            rows = [
                [_cell(cell) for cell in row]
                for row in sheet.iter_rows(values_only=True)
                if any(cell is not None and str(cell).strip() for cell in row)
            ]
            parts.extend(_rows_as_parts(rows))
    finally:
        workbook.close()
    return parts


_CONVERTERS: dict[str, Callable[[bytes], list[str]]] = {
    "txt": _text,
    "markdown": _text,
    "md": _text,
    "mdx": _text,
    "vtt": _text,
    "properties": _text,
    "json": _json,
    "html": _html,
    "htm": _html,
    "pdf": _pdf,
    "docx": _docx,
    "csv": _csv,
    "xlsx": _xlsx,
}
