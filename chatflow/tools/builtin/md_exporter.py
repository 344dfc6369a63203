"""The `md_exporter` provider (`bowenliang123/md_exporter`): markdown to files.

md_to_html, md_to_pdf (fpdf2), md_to_docx (python-docx), md_to_xlsx (openpyxl, one
sheet per markdown table), md_to_csv (the first table), md_to_pptx (python-pptx, a slide
per heading). Each yields one file named after `output_filename` (or the tool).

PDF text needs a font with its glyphs: `tools_pdf_font` (a TTF/OTF path), else DejaVu
Sans where installed with an installed CJK font (`CJK_FONTS`) for the glyphs it lacks,
else Helvetica (Latin-1 only).
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.tools.base import BlobMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter
from chatflow.tools.builtin import _markdown as md
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "md_exporter"
MAX_MARKDOWN = 2_000_000
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

MIME = {
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def file_name(params: Mapping[str, Any], extension: str) -> str:
    """`output_filename` without any path or extension, plus ours."""
    raw = text_param(params, "output_filename").strip().replace("\\", "/").rsplit("/", 1)[-1]
    stem = re.sub(r"[\x00-\x1f<>:\"|?*]", "", raw).strip(" .")
    if stem.lower().endswith(f".{extension}"):
        stem = stem[: -len(extension) - 1]
    return f"{(stem or 'output')[:150]}.{extension}"


# -- writers (pure: markdown text -> bytes) ----------------------------------------------


def to_html(markdown: str) -> bytes:
    body = md.to_html(markdown, html=True)
    title = next((b.text for b in md.blocks(markdown) if b.kind == "heading"), "Document")
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    ).encode()


# Fonts with CJK glyphs, used as fallbacks where installed (Debian: fonts-wqy-microhei,
# fonts-noto-cjk, fonts-droid-fallback, fonts-arphic-uming).
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)


def _pdf_fonts(font: str | None) -> tuple[str, dict[str, Path]] | None:
    """The family to register and its style files, or None for core Helvetica."""
    if font:
        path = Path(font)
        if not path.is_file():
            raise ToolError(f"CHATFLOW_TOOLS_PDF_FONT: no such font file {font}")
        return "body", {style: path for style in ("", "B", "I", "BI")}
    regular = DEJAVU / "DejaVuSans.ttf"
    if not regular.is_file():
        return None
    variants = {"B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
                "BI": "DejaVuSans-BoldOblique.ttf"}  # fmt: skip
    styles = {"": regular}
    for style, name in variants.items():
        styles[style] = DEJAVU / name if (DEJAVU / name).is_file() else regular
    return "body", styles


def cjk_font() -> Path | None:
    return next((path for path in CJK_FONTS if path.is_file()), None)


def to_pdf(markdown: str, font: str | None = None) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace, TextStyle

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    fonts = _pdf_fonts(font)
    body = md.to_html(markdown)
    if fonts is None:
        family = "helvetica"
        body = body.encode("latin-1", "replace").decode("latin-1")
    else:
        family, styles = fonts
        for style, path in styles.items():
            pdf.add_font(family, style, str(path))
        fallback = cjk_font()
        if fallback is not None and not font:
            # Glyphs the body font lacks (Chinese, Japanese, Korean) come from here.
            pdf.add_font("cjk", "", str(fallback))
            pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.add_page()
    pdf.set_font(family, size=11)
    # Code in the body font too: the core Courier font has no glyphs beyond Latin-1.
    code_styles: dict[str, FontFace] = {
        "code": FontFace(family=family),
        "pre": TextStyle(font_family=family),
    }
    pdf.write_html(body, font_family=family, tag_styles=code_styles)
    return bytes(pdf.output())


def to_docx(markdown: str) -> bytes:
    from docx import Document
    from docx.shared import Pt

    document = Document()
    for block in md.blocks(markdown):
        if block.kind == "heading":
            document.add_heading(block.text, level=min(block.level, 9))
        elif block.kind in ("paragraph", "quote", "item"):
            style = None
            if block.kind == "quote":
                style = "Quote"
            elif block.kind == "item":
                style = "List Number" if block.ordered else "List Bullet"
                if block.level > 1:
                    style += f" {min(block.level, 3)}"
            paragraph = document.add_paragraph(style=style)
            for run in block.runs:
                added = paragraph.add_run(run.text)
                added.bold = run.bold or None
                added.italic = run.italic or None
                if run.code:
                    added.font.name = "Courier New"
        elif block.kind == "code":
            paragraph = document.add_paragraph()
            added = paragraph.add_run(block.text)
            added.font.name = "Courier New"
            added.font.size = Pt(9)
        elif block.kind == "table" and block.rows:
            width = max(len(row) for row in block.rows)
            table = document.add_table(rows=len(block.rows), cols=width)
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
                    if r == 0:
                        for paragraph in table.cell(r, c).paragraphs:
                            for added in paragraph.runs:
                                added.bold = True
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _cell(value: str) -> Any:
    """Numbers become numbers in a sheet; a leading `=` is text, never a formula."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text) and len(text) < 16:
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return "'" + text if text.startswith(("=", "+", "@")) else text


def to_xlsx(markdown: str) -> bytes:
    from openpyxl import Workbook

    found = md.tables(markdown)
    if not found:
        raise ToolError("no table found in the markdown")
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for index, rows in enumerate(found, start=1):
        sheet = book.create_sheet(f"Sheet{index}")
        for row in rows:
            sheet.append([_cell(cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(markdown: str) -> bytes:
    found = md.tables(markdown)
    if not found:
        raise ToolError("no table found in the markdown")
    out = io.StringIO()
    writer = csv.writer(out)
    for row in found[0]:
        writer.writerow([("'" + c) if c.startswith(("=", "+", "-", "@")) else c for c in row])
    # A BOM so spreadsheet programs read UTF-8 (Chinese headers) correctly.
    return out.getvalue().encode("utf-8-sig")


def to_pptx(markdown: str) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = None
    body: Any = None

    def new_slide(title: str) -> None:
        nonlocal slide, body
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = ""

    def add_line(text: str, level: int = 0) -> None:
        if body is None:
            new_slide("")
        paragraph = body.paragraphs[0] if not body.paragraphs[0].text else body.add_paragraph()
        paragraph.text = text
        paragraph.level = max(0, min(level, 4))

    for block in md.blocks(markdown):
        if block.kind == "heading" and block.level <= 2:
            new_slide(block.text)
        elif block.kind == "heading":
            add_line(block.text)
        elif block.kind == "item":
            add_line(block.text, block.level - 1)
        elif block.kind in ("paragraph", "quote", "code"):
            add_line(block.text)
        elif block.kind == "table":
            for row in block.rows:
                add_line(" | ".join(row))
    if not deck.slides:
        new_slide("")
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# -- tools -------------------------------------------------------------------------------


def _exporter(
    extension: str, write: Callable[[str], bytes]
) -> Callable[[Mapping[str, Any], ToolContext], AsyncIterator[BlobMessage]]:
    async def export(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[BlobMessage]:
        markdown = required_text(params, "md_text")
        if len(markdown) > MAX_MARKDOWN:
            raise ToolError(f"md_text longer than {MAX_MARKDOWN} characters")
        data = await asyncio.to_thread(write, markdown)  # CPU work off the event loop
        yield BlobMessage(data, file_name(params, extension), MIME[extension])

    return export


def provider(settings: Settings) -> BuiltinProvider:
    font = settings.tools_pdf_font
    writers: dict[str, Callable[[str], bytes]] = {
        "html": to_html,
        "pdf": lambda text: to_pdf(text, font),
        "docx": to_docx,
        "xlsx": to_xlsx,
        "csv": to_csv,
        "pptx": to_pptx,
    }
    tools = []
    for extension, write in writers.items():
        name = f"md_to_{extension}"
        descriptor = ToolDescriptor(
            ID,
            name,
            f"Markdown to {extension.upper()}",
            f"Convert markdown to a {extension.upper()} file.",
            (
                ToolParameter("md_text", "string", "Markdown", required=True),
                ToolParameter("output_filename", "string", "File name"),
            ),
        )
        tools.append(FunctionTool(descriptor, _exporter(extension, write)))
    return BuiltinProvider(
        ID,
        ("bowenliang123/md_exporter/md_exporter", "bowenliang123/md_exporter"),
        "Markdown Exporter",
        tools,
    )
