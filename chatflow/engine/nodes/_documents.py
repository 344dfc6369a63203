"""Text extraction from file bytes, shared by the document-extractor and LLM nodes.

The converter is chosen by file extension, then MIME type, and follows Dify's
document-extractor output shapes: plain text as decoded, JSON/YAML re-dumped, PDF page
text, DOCX paragraphs with tables as Markdown, CSV and spreadsheets as Markdown tables.
Bytes come from `EngineServices.file_reader`, so no node touches storage or the network.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import charset_normalizer
import yaml

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import _extract_process
from chatflow.errors import NodeError

FileReader = Callable[[Any], Awaitable[bytes]]


async def extract_text(
    reader: FileReader | None, file: File, limits: EngineLimits | None = None
) -> str:
    """The text of `file`: its bytes from `reader`, parsed by the matching converter.

    Raises `NodeError` when there is no reader, the type is unsupported, the bytes
    cannot be read, or parsing fails; callers decide whether that fails the node.
    """
    if reader is None:
        raise NodeError("no file reader is configured for this run")
    converter = converter_for(file)
    try:
        content = await reader(file)
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(f"Error downloading file {file.filename!r}: {exc}") from exc
    limits = limits or EngineLimits()
    try:
        if converter in _IN_PROCESS:  # plain text: linear, nothing to parse
            return await asyncio.to_thread(converter, content)
        # A crafted document can loop or allocate without bound: parse it in a child
        # process with CPU and memory limits.
        return await _extract_process.parse(
            converter.__name__,
            content,
            seconds=limits.extract_timeout_seconds,
            memory_mb=limits.extract_memory_mb,
        )
    except Exception as exc:
        raise NodeError(f"Failed to extract text from {file.filename!r}: {exc}") from exc


def converter_for(file: File) -> Callable[[bytes], str]:
    """Pick the converter like Dify: by extension when the file has one, else by MIME."""
    if file.extension:
        extension = "." + file.extension.lower().lstrip(".")
        converter = _BY_EXTENSION.get(extension)
        if converter is None:
            raise NodeError(f"Unsupported Extension Type: {extension}")
        return converter
    if file.mime_type:
        converter = _BY_MIME.get(file.mime_type.split(";")[0].strip().lower())
        if converter is None:
            raise NodeError(f"Unsupported MIME type: {file.mime_type}")
        return converter
    raise NodeError("Unable to determine file type: file has neither extension nor mime type")


def _decode(content: bytes) -> str:
    best = charset_normalizer.from_bytes(content).best()
    encoding = best.encoding if best and best.encoding else "utf-8"
    try:
        return content.decode(encoding, errors="ignore")
    except LookupError:
        return content.decode("utf-8", errors="ignore")


def plain_text(content: bytes) -> str:
    return _decode(content)


def json_text(content: bytes) -> str:
    return json.dumps(json.loads(_decode(content)), indent=2, ensure_ascii=False)


def yaml_text(content: bytes) -> str:
    documents = yaml.safe_load_all(_decode(content))
    return yaml.dump_all(documents, allow_unicode=True, sort_keys=False)


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return "".join(page.extract_text() or "" for page in reader.pages)


def docx_text(content: bytes) -> str:
    """Paragraphs and tables in body order; tables become Markdown, as in Dify."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(content))
    parts: list[str] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(block, document).text)
        elif tag == "tbl":
            table = Table(block, document)
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            if any(cell.strip() for row in rows for cell in row):
                parts.append(markdown_table(rows, cell_break="<br>"))
    return "\n".join(parts)


def csv_text(content: bytes) -> str:
    return markdown_table(list(csv.reader(io.StringIO(_decode(content)))))


def xlsx_text(content: bytes) -> str:
    """Each sheet as a Markdown table (first row is the header), blank rows dropped."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    tables: list[str] = []
    try:
        for sheet in workbook.worksheets:
            rows = [
                ["" if cell is None else _cell(cell) for cell in row]
                for row in sheet.iter_rows(values_only=True)
                if any(cell is not None and str(cell).strip() for cell in row)
            ]
            if rows:
                tables.append(markdown_table(rows).rstrip("\n") + "\n\n")
    finally:
        workbook.close()
    return "".join(tables)


def _cell(value: Any) -> str:
    return " ".join(str(value).splitlines())


def markdown_table(rows: Sequence[Sequence[str]], *, cell_break: str = " ") -> str:
    if not rows:
        return ""

    def line(cells: Iterable[str]) -> str:
        cleaned = (cell.replace("\r", "").replace("\n", cell_break) for cell in cells)
        return "| " + " | ".join(cleaned) + " |\n"

    header = rows[0]
    separator = "| " + " | ".join("-" * len(cell) for cell in header) + " |\n"
    return line(header) + separator + "".join(line(row) for row in rows[1:])


_PLAIN_EXTENSIONS = (
    ".txt .markdown .md .mdx .html .htm .xml .c .h .cpp .hpp .cc .cxx .py .js .ts .jsx .tsx "
    ".java .php .rb .go .rs .swift .kt .scala .sh .bash .bat .ps1 .sql .r .m .pl .lua "
    ".css .scss .less .sass .ini .cfg .conf .toml .env .log .vtt .properties"
).split()
_BY_EXTENSION: dict[str, Callable[[bytes], str]] = {
    **dict.fromkeys(_PLAIN_EXTENSIONS, plain_text),
    ".json": json_text,
    ".yaml": yaml_text,
    ".yml": yaml_text,
    ".pdf": pdf_text,
    ".docx": docx_text,
    ".csv": csv_text,
    ".xlsx": xlsx_text,
}
_BY_MIME: dict[str, Callable[[bytes], str]] = {
    **dict.fromkeys(
        ("text/plain", "text/html", "text/htm", "text/markdown", "text/xml"), plain_text
    ),
    "application/json": json_text,
    "application/x-yaml": yaml_text,
    "text/yaml": yaml_text,
    "application/pdf": pdf_text,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": docx_text,
    "text/csv": csv_text,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": xlsx_text,
}


_IN_PROCESS = frozenset({plain_text})
