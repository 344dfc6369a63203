"""Document parsing runs in a limited child process: a decompression bomb or an
oversized spreadsheet fails the parse, the server process never holds it, and the event
loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import _extract_process
from chatflow.engine.nodes._documents import extract_text
from chatflow.errors import NodeError


def _pdf_bomb(expanded_mb: int) -> bytes:
    stream = zlib.compress(b"(A) Tj " * (expanded_mb * 1024 * 1024 // 7), 1)
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R/Resources<<>>>>",
        b"<</Length %d/Filter/FlateDecode>>stream\n" % len(stream) + stream + b"\nendstream",
    ]
    body = b"%PDF-1.4\n"
    for number, obj in enumerate(objects, 1):
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    return body + b"trailer\n<</Root 1 0 R>>\n%%EOF\n"


async def _ticks_while(task: asyncio.Task[object]) -> int:
    ticks = 0
    while not task.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_a_pdf_decompression_bomb_fails_the_parse() -> None:
    bomb = _pdf_bomb(400)

    async def reader(file: object) -> bytes:
        return bomb

    file = File(type="document", transfer_method="local_file", id="x", extension=".pdf")
    limits = EngineLimits(extract_timeout_seconds=10, extract_memory_mb=256)
    task = asyncio.create_task(extract_text(reader, file, limits))
    assert await _ticks_while(task) > 0  # the loop ran while the child parsed
    with pytest.raises(NodeError):
        task.result()


async def test_the_child_has_a_memory_limit() -> None:
    rows = b"a,b,c\n" * (40 * 1024 * 1024 // 6)  # 40 MB of CSV: the table needs far more
    with pytest.raises((_extract_process.ExtractionLimitExceeded, MemoryError)):
        await _extract_process.parse("csv_text", rows, seconds=20, memory_mb=128)
    # The pool is rebuilt: the next parse works.
    assert "a" in await _extract_process.parse("csv_text", b"a,b\n1,2\n", seconds=5, memory_mb=256)
