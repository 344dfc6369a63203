"""`FileService.read` (the engine's file reader) for remote files, and local storage keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatflow.engine.files import File
from chatflow.engine.nodes.base import ToolCaller
from chatflow.errors import NotFound
from chatflow.net.ssrf import SSRFBlocked
from chatflow.services.files import FileScope, FileService
from chatflow.services.tool_files import ToolFileService
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage
from chatflow.tools.signing import FileSigner

BODY = b"remote bytes"
SCOPE = FileScope("app-1", "user-1")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/doc.txt"
    finally:
        server.shutdown()
        server.server_close()


def _service(tmp_path: Path, allow: str) -> FileService:
    # Remote and tool files never touch the database.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    return FileService(db, LocalFileStorage(tmp_path / "uploads"), ssrf_allow=allow)


async def test_remote_files_are_fetched_only_when_the_guard_allows(
    tmp_path: Path, origin: str
) -> None:
    remote = File(type="document", transfer_method="remote_url", url=origin)
    with pytest.raises(SSRFBlocked):
        await _service(tmp_path, "").read(remote, SCOPE)
    assert await _service(tmp_path, "127.0.0.1").read(remote, SCOPE) == BODY


async def test_generated_files_round_trip(tmp_path: Path) -> None:
    """Files nodes make (`ToolFileService.save`, the engine's file saver) read back."""
    service = _service(tmp_path, "")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tools.db'}")
    await db.connect()
    try:
        service = FileService(db, LocalFileStorage(tmp_path / "uploads"))
        saver = ToolFileService(db, service.storage, FileSigner(b"k"))
        caller = ToolCaller(app_id=SCOPE.app_id, user_id=SCOPE.user)
        file = await saver.save(b"\x89PNG", "chart.png", "image/png", caller)
        assert file.transfer_method == "tool_file" and file.type == "image"
        assert file.extension == ".png" and file.size == 4
        assert await service.read(file, SCOPE) == b"\x89PNG"
    finally:
        await db.close()


async def test_tool_files_are_scoped_and_ids_validated(tmp_path: Path) -> None:
    """Another app's or another user's tool file, an unattributed one, or an id that is
    not a UUID (`../`) names no file."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tools.db'}")
    await db.connect()
    try:
        service = FileService(db, LocalFileStorage(tmp_path / "uploads"))
        saver = ToolFileService(db, service.storage, FileSigner(b"k"))
        caller = ToolCaller(app_id=SCOPE.app_id, user_id=SCOPE.user)
        file = await saver.save(b"mine", "a.txt", "text/plain", caller)
        assert await service.read(file, SCOPE) == b"mine"
        for other in (FileScope("app-2", SCOPE.user), FileScope(SCOPE.app_id, "user-2")):
            with pytest.raises(NotFound):
                await service.read(file, other)
        orphan = await saver.save(b"nobody's", "b.txt", "text/plain")
        with pytest.raises(NotFound):
            await service.read(orphan, SCOPE)
        assert file.id is not None
        for bad in ("../../../tools.db", "x", f"{file.id}/../x", file.id.upper() + "/"):
            forged = File(type="document", transfer_method="tool_file", id=bad)
            with pytest.raises(NotFound):
                await service.read(forged, SCOPE)
    finally:
        await db.close()


async def test_storage_keys_cannot_leave_the_root(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "uploads")
    await storage.save("app/a.txt", b"a")
    assert await storage.load("app/a.txt") == b"a"
    with pytest.raises(ValueError):
        await storage.load("../outside.txt")
    await storage.delete("app/a.txt")
    with pytest.raises(FileNotFoundError):
        await storage.load("app/a.txt")
