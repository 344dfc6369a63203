"""`FileService.read` (the engine's file reader) for remote files, and local storage keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatflow.engine.files import File
from chatflow.errors import NotFound
from chatflow.net.ssrf import SSRFBlocked
from chatflow.services.files import FileScope, FileService
from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage

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
    service = _service(tmp_path, "")
    file = await service.save_generated(b"\x89PNG", "chart.png", "image/png", SCOPE)
    assert file.transfer_method == "tool_file" and file.type == "image"
    assert file.extension == ".png" and file.size == 4
    assert await service.read(file, SCOPE) == b"\x89PNG"


async def test_tool_files_are_scoped_and_ids_validated(tmp_path: Path) -> None:
    service = _service(tmp_path, "")
    file = await service.save_generated(b"mine", "a.txt", "text/plain", SCOPE)
    for other in (FileScope("app-2", "user-1"), FileScope("app-1", "user-2")):
        with pytest.raises(NotFound):
            await service.read(file, other)
    await service.storage.save("tool-files/app-1/user-1/x", b"planted")
    for bad in ("../../../unused.db", "x", f"{file.id}/../x", file.id.upper() + "/"):
        forged = File(type="document", transfer_method="tool_file", id=bad)
        with pytest.raises(NotFound):
            await service.read(forged, SCOPE)


async def test_storage_keys_cannot_leave_the_root(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "uploads")
    await storage.save("app/a.txt", b"a")
    assert await storage.load("app/a.txt") == b"a"
    with pytest.raises(ValueError):
        await storage.load("../outside.txt")
    await storage.delete("app/a.txt")
    with pytest.raises(FileNotFoundError):
        await storage.load("app/a.txt")
