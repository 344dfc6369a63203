"""md_exporter: every format written, then opened back with its own library and checked."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import docx
import openpyxl
import pptx
import pypdf
import pytest

from chatflow.tools.base import BlobMessage, ToolError
from chatflow.tools.builtin.md_exporter import cjk_font
from tests.tools.conftest import call

MARKDOWN = """# Quarterly report

Revenue grew **strongly** in *Q3*; see `table`.

- first point
- second point
  - nested point

1. step one

| region | sales |
|---|---|
| north | 120 |
| south | 80.5 |
| =HYPERLINK("x") | 1 |

```
print("hi")
```

## Outlook

<script>alert(1)</script> stays text.
"""


async def _export(tmp_path: Path, tool: str, name: str = "报告") -> BlobMessage:
    messages = await call(
        tmp_path,
        "bowenliang123/md_exporter/md_exporter",
        tool,
        {"md_text": MARKDOWN, "output_filename": name},
    )
    (blob,) = messages
    assert isinstance(blob, BlobMessage)
    return blob


async def test_html(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_html", "../../etc/report")
    assert blob.filename == "report.html" and blob.mime_type == "text/html"
    page = blob.data.decode()
    assert "<title>Quarterly report</title>" in page and "<strong>strongly</strong>" in page
    # Raw HTML passes through, as with Dify's md_exporter (served only as a download).
    assert "<table>" in page and "<script>alert(1)</script>" in page


async def test_docx_keeps_raw_html_as_text(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_docx")
    texts = [p.text for p in docx.Document(io.BytesIO(blob.data)).paragraphs]
    assert "<script>alert(1)</script> stays text." in texts


async def test_pdf(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_pdf")
    assert blob.filename == "报告.pdf" and blob.mime_type == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(blob.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Quarterly report", "strongly", "second point", "north", "Outlook"):
        assert expected in text


async def test_docx(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_docx")
    document = docx.Document(io.BytesIO(blob.data))
    styled = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert ("Heading 1", "Quarterly report") in styled
    assert ("List Bullet", "first point") in styled and ("List Bullet 2", "nested point") in styled
    assert ("List Number", "step one") in styled and ("Heading 2", "Outlook") in styled
    bold = [r.text for p in document.paragraphs for r in p.runs if r.bold]
    assert "strongly" in bold
    table = document.tables[0]
    assert [c.text for c in table.rows[1].cells] == ["north", "120"]


async def test_xlsx_and_csv(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(blob.data)).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    # Numbers stay numbers; a leading "=" never becomes a formula.
    assert rows[:3] == [["region", "sales"], ["north", 120], ["south", 80.5]]
    assert rows[3][0] == '\'=HYPERLINK("x")'
    blob = await _export(tmp_path, "md_to_csv")
    assert blob.data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(blob.data.decode("utf-8-sig"))))
    assert parsed[:2] == [["region", "sales"], ["north", "120"]]
    assert parsed[3][0].startswith("'=")


async def test_pptx(tmp_path: Path) -> None:
    blob = await _export(tmp_path, "md_to_pptx")
    deck = pptx.Presentation(io.BytesIO(blob.data))
    titles = [slide.shapes.title.text for slide in deck.slides]
    assert titles == ["Quarterly report", "Outlook"]
    body = deck.slides[0].placeholders[1].text_frame.text
    assert "first point" in body and "north | 120" in body


async def test_table_formats_need_a_table(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no table"):
        await call(tmp_path, "md_exporter", "md_to_xlsx", {"md_text": "# just a title"})


async def test_pdf_with_chinese_text(tmp_path: Path) -> None:
    """The corpus math app exports Chinese: an installed CJK font supplies the glyphs
    (`make install-test` installs fonts-wqy-microhei)."""
    if cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("no CJK font installed (fonts-wqy-microhei)")
        pytest.skip("no CJK font installed")
    messages = await call(
        tmp_path,
        "md_exporter",
        "md_to_pdf",
        {"md_text": "## 原题1：3 + 4 × 2 = ?\n\n**题目答案**：11", "output_filename": "错题"},
    )
    (blob,) = messages
    assert isinstance(blob, BlobMessage) and blob.filename == "错题.pdf"
    text = pypdf.PdfReader(io.BytesIO(blob.data)).pages[0].extract_text()
    assert "原题1" in text and "题目答案" in text and "3 + 4" in text
