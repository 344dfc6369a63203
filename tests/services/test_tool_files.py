"""`ToolFileService` over in-memory SQLite and real local storage: the name a tool picks
is cut to a plain file name, the extension and MIME type fall back on each other, the
row records who the file is for, the returned URL carries a signature the signer accepts,
and bytes whose row could not be written are not left behind."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from chatflow.engine.nodes.base import ToolCaller
from chatflow.services import Services
from chatflow.services.tool_files import TOOL_PREFIX, ToolFileService
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage
from chatflow.tools.signing import FileSigner


async def _chunks(service: ToolFileService, file_id: str) -> bytes:
    row = await service.find(file_id)
    assert row is not None
    return b"".join([chunk async for chunk in service.stream(row)])


@pytest.mark.parametrize(
    ("filename", "mime", "name", "extension", "stored_mime", "kind"),
    [
        ("../../etc/passwd.txt", "", "passwd.txt", ".txt", "text/plain", "document"),
        ("C:\\temp\\chart.PNG", "image/png", "chart.PNG", ".png", "image/png", "image"),
        (".hidden.csv", "text/csv", "hidden.csv", ".csv", "text/csv", "document"),
        ("report", "application/pdf", "report", ".pdf", "application/pdf", "document"),
        ("weird.a-b", "image/jpeg", "weird.a-b", ".jpg", "image/jpeg", "image"),
        ("noext", "", "noext", ".bin", "application/octet-stream", "custom"),
    ],
)
async def test_names_extensions_and_types(
    services: Services,
    filename: str,
    mime: str,
    name: str,
    extension: str,
    stored_mime: str,
    kind: str,
) -> None:
    tool_files = services.tool_files
    file = await tool_files.save(b"data", filename, mime)
    assert (file.filename, file.extension, file.mime_type, file.type) == (
        name,
        extension,
        stored_mime,
        kind,
    )
    assert file.id is not None and file.size == 4
    row = await tool_files.find(file.id)
    assert row is not None
    assert (row.name, row.extension, row.storage_key) == (
        name,
        extension.lstrip("."),
        f"{TOOL_PREFIX}/{file.id}",
    )
    assert await _chunks(tool_files, file.id) == b"data"


async def test_an_empty_name_becomes_the_file_id_and_a_long_one_is_cut(
    services: Services,
) -> None:
    empty = await services.tool_files.save(b"x", "../", "text/plain")
    assert empty.filename == empty.id
    long = await services.tool_files.save(b"x", "a" * 300 + ".txt", "text/plain")
    assert long.filename == "a" * 200 and long.mime_type == "text/plain"


async def test_the_row_records_the_caller_and_the_url_is_signed(services: Services) -> None:
    tool_files = services.tool_files
    caller = ToolCaller(app_id="app-1", user_id="user-1", conversation_id="")
    file = await tool_files.save(b"%PDF", "doc.pdf", "application/pdf", caller)
    assert file.id is not None and file.url is not None
    row = await tool_files.find(file.id)
    assert row is not None
    assert (row.app_id, row.user_id, row.conversation_id) == ("app-1", "user-1", None)
    unowned = await tool_files.save(b"x", "a.txt", "text/plain")
    assert unowned.id is not None
    found = await tool_files.find(unowned.id)
    assert found is not None and (found.app_id, found.user_id) == (None, None)

    url = urlsplit(file.url)
    assert url.path == f"/files/tools/{file.id}.pdf"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    signer = tool_files.signer
    assert signer.verify(file.id, query["timestamp"], query["nonce"], query["sign"])
    assert not signer.verify(unowned.id, query["timestamp"], query["nonce"], query["sign"])
    assert not FileSigner(b"another secret").verify(
        file.id, query["timestamp"], query["nonce"], query["sign"]
    )


async def test_find_takes_only_uuids(services: Services) -> None:
    file = await services.tool_files.save(b"x", "a.txt", "text/plain")
    assert file.id is not None
    for bad in ("../x", file.id.upper(), file.id + ".txt", ""):
        assert await services.tool_files.find(bad) is None
    assert await services.tool_files.find("00000000-0000-0000-0000-000000000000") is None


async def test_bytes_are_removed_when_the_row_cannot_be_written(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}")
    await db.connect()
    async with db.engine.begin() as conn:  # the INSERT of the row fails
        await conn.execute(text("DROP TABLE tool_files"))
    storage = LocalFileStorage(tmp_path / "files")
    try:
        service = ToolFileService(db, storage, FileSigner(b"k"))
        with pytest.raises(Exception, match="tool_files"):
            await service.save(b"secret bytes", "a.txt", "text/plain")
    finally:
        await db.close()
    leftovers = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert leftovers == []
