"""The document-extractor node: turns uploaded files into text.

Matches Dify's `DocumentExtractorNode`: `variable_selector` names a file (output `text`
is a string) or a file list (output `text` is an array of strings); the converter is
chosen by file extension, then MIME type. Conversions follow Dify's output shapes:
plain text as decoded, JSON/YAML re-dumped, PDF page text, DOCX paragraphs with tables
as Markdown, CSV and spreadsheets as Markdown tables. File bytes come from
`services.file_reader`, so the node never touches storage or the network itself.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import charset_normalizer
import yaml
from pydantic import Field

from chatflow.engine.files import File
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError

TYPE = "document-extractor"


class Config(NodeConfig):
    variable_selector: list[str] = Field(default_factory=list)
    is_array_file: bool = False  # UI hint only; the value's shape decides


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    value = ctx.pool.get(config.variable_selector)
    if value is MISSING:
        raise NodeError(f"File variable not found for selector: {config.variable_selector}")
    inputs = {"variable_selector": config.variable_selector}
    if isinstance(value, list):
        files = [item for item in value if item]
        if not all(isinstance(item, File) for item in files):
            raise NodeError(f"Variable {config.variable_selector} is not an array of files")
        texts = [await _extract(ctx, file) for file in files]
        process = {"documents": [file.to_dict() for file in files]}
        yield NodeResult(outputs={"text": texts}, inputs=inputs, process_data=process)
        return
    if value is None:
        yield NodeResult(outputs={"text": []}, inputs=inputs, process_data={"documents": []})
        return
    if not isinstance(value, File):
        raise NodeError(f"Variable {config.variable_selector} is not a file")
    text = await _extract(ctx, value)
    process = {"documents": [value.to_dict()]}
    yield NodeResult(outputs={"text": text}, inputs=inputs, process_data=process)


async def _extract(ctx: NodeContext, file: File) -> str:
    reader = ctx.services.file_reader
    if reader is None:
        raise NodeError("document-extractor: no file reader is configured for this run")
    converter = converter_for(file)
    try:
        content = await reader(file)
    except NodeError:
        raise
    except Exception as exc:
        raise NodeError(f"Error downloading file {file.filename!r}: {exc}") from exc
    try:
        # Parsing PDFs and spreadsheets is CPU-bound; keep the event loop responsive.
        return await asyncio.to_thread(converter, content)
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
