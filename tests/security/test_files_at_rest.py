"""The database and uploads are readable by the server's user only."""

from __future__ import annotations

import stat
from pathlib import Path

from chatflow.store import Database
from chatflow.store.storage import LocalFileStorage


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_file_and_new_data_dir_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = Database(f"sqlite+aiosqlite:///{data / 'chatflow.db'}")
    await database.connect()
    try:
        assert _mode(data) == 0o700
        assert _mode(data / "chatflow.db") == 0o600
    finally:
        await database.close()


async def test_uploads_are_private(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "uploads")
    await storage.save("app/file.txt", b"secret")
    assert _mode(tmp_path / "uploads" / "app") == 0o700
    assert _mode(tmp_path / "uploads" / "app" / "file.txt") == 0o600
