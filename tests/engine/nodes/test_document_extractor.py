"""document-extractor: real files in every supported format, read via services.file_reader."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import document_extractor
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError


class _NoModels:
    def llm(self, provider: str, model: str) -> Any:
        raise AssertionError("document-extractor never calls a model")

    def embedder(self) -> Any:
        raise AssertionError("document-extractor never embeds")


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Invoice total 42 EUR")
    return bytes(pdf.output())


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Quarterly report")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "item", "qty"
    table.cell(1, 0).text, table.cell(1, 1).text = "apples", "3"
    document.add_paragraph("The end")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["name", "age"])
    sheet.append(["Ann", 31])
    sheet.append([None, None])
    sheet.append(["Bob", 27])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


FILES: dict[str, bytes] = {
    "notes.txt": "héllo plain text".encode(),
    "readme.md": b"# Title\n\n- item",
    "page.html": b"<html><body><p>Hi</p></body></html>",
    "data.json": b'{"a": [1, 2], "b": "\xc3\xa9"}',
    "conf.yaml": b"name: demo\nitems:\n  - 1\n  - 2\n",
    "table.csv": b"city,temp\nParis,21\nOslo,9\n",
    "invoice.pdf": _pdf(),
    "report.docx": _docx(),
    "people.xlsx": _xlsx(),
}


def _file(name: str, *, extension: str | None = None, mime: str = "") -> File:
    ext = name.rsplit(".", 1)[-1] if extension is None else extension
    return File(
        type="document",
        transfer_method="local_file",
        id=name,
        filename=name,
        extension=ext,
        mime_type=mime,
    )


def _ctx(value: Any, *, reader: bool = True) -> NodeContext:
    async def read(file: Any) -> bytes:
        return FILES[file.id]

    pool = VariablePool(system={"files": value})
    services = EngineServices(
        models=_NoModels(), limits=EngineLimits(), file_reader=read if reader else None
    )
    return NodeContext("doc", pool, services)


async def _run(value: Any, *, reader: bool = True) -> NodeResult:
    config = document_extractor.Config.model_validate(
        {
            "type": "document-extractor",
            "variable_selector": ["sys", "files"],
            "is_array_file": isinstance(value, list),
        }
    )
    events = [e async for e in document_extractor.run(_ctx(value, reader=reader), config)]
    assert len(events) == 1 and isinstance(events[0], NodeResult)
    return events[0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "héllo plain text"),
        ("readme.md", "# Title\n\n- item"),
        ("page.html", "<html><body><p>Hi</p></body></html>"),
        ("data.json", json.dumps({"a": [1, 2], "b": "é"}, indent=2, ensure_ascii=False)),
        ("conf.yaml", "name: demo\nitems:\n- 1\n- 2\n"),
        ("table.csv", "| city | temp |\n| ---- | ---- |\n| Paris | 21 |\n| Oslo | 9 |\n"),
        (
            "report.docx",
            "Quarterly report\n| item | qty |\n| ---- | --- |\n| apples | 3 |\n\nThe end",
        ),
        ("people.xlsx", "| name | age |\n| ---- | --- |\n| Ann | 31 |\n| Bob | 27 |\n\n"),
    ],
)
async def test_single_file_formats(name: str, expected: str) -> None:
    result = await _run(_file(name))
    assert result.outputs == {"text": expected}


async def test_pdf_text() -> None:
    result = await _run(_file("invoice.pdf"))
    assert "Invoice total 42 EUR" in result.outputs["text"]


async def test_file_list_gives_array_and_mime_fallback() -> None:
    files = [_file("notes.txt"), _file("table.csv", extension="", mime="text/csv"), None]
    result = await _run(files)
    assert result.outputs["text"] == [
        "héllo plain text",
        "| city | temp |\n| ---- | ---- |\n| Paris | 21 |\n| Oslo | 9 |\n",
    ]
    assert len(result.process_data["documents"]) == 2


async def test_failures_are_clear() -> None:
    with pytest.raises(NodeError, match=r"Unsupported Extension Type: \.exe"):
        await _run(_file("notes.txt", extension="exe"))
    with pytest.raises(NodeError, match="no file reader"):
        await _run(_file("notes.txt"), reader=False)
    with pytest.raises(NodeError, match="Failed to extract text"):
        await _run(_file("notes.txt", extension=".json"))
    with pytest.raises(NodeError, match="not a file"):
        await _run("just text")
