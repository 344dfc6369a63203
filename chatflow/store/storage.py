"""File bytes: where uploads (and files nodes produce) are kept, behind one small protocol.

`FileStorage` is what services use; `LocalFileStorage` keeps each object as a file under
one root directory (`data_dir/uploads` by default). An object store (S3 and the like)
only has to implement the same four methods. Keys are relative, `/`-separated paths
chosen by the server (`<app id>/<uuid>.<ext>`), never names a client sent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK_SIZE = 64 * 1024


class FileStorage(Protocol):
    """Bytes by key."""

    async def save(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there."""
        ...

    async def load(self, key: str) -> bytes:
        """All bytes of `key`; raises `FileNotFoundError` when absent."""
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The bytes of `key` in chunks (for responses); raises `FileNotFoundError`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are ignored."""
        ...


class LocalFileStorage:
    """Objects as files under `root`; writes go through a temp file and a rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are server-made, but a bad key must never reach outside the root.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"invalid storage key: {key!r}")
        return path

    async def save(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            # Uploads are users' private data: only the server's own user reads them.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)

        await asyncio.to_thread(write)

    async def load(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, True)
