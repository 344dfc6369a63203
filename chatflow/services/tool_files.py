"""Files tools make: stored like uploads, recorded in `tool_files`, linked by signed URL.

`save` keeps the bytes under the same storage prefix the file reader already reads tool
files from (so a document-extractor can read a tool's file), records the row the signed
`/files/tools/{id}.{ext}` route serves from, and returns the engine's `File` value with
that URL.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import AsyncIterator

from chatflow.engine.files import File
from chatflow.engine.nodes.base import ToolCaller
from chatflow.services.file_types import extension_of, file_type, guess_mime
from chatflow.store import Database
from chatflow.store.models import ToolFile
from chatflow.store.storage import FileStorage
from chatflow.tools.signing import EXTENSION, FILE_ID, FileSigner

TOOL_PREFIX = "tool-files"  # the prefix `FileService.read` reads tool files from
_NAME_MAX = 200


def _safe_name(filename: str, file_id: str) -> str:
    """Only the last path segment of a tool-chosen name; never a path."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return (name or file_id)[:_NAME_MAX]


class ToolFileService:
    def __init__(self, db: Database, storage: FileStorage, signer: FileSigner) -> None:
        self._db = db
        self._storage = storage
        self.signer = signer

    async def save(
        self, content: bytes, filename: str, mime_type: str, caller: ToolCaller | None = None
    ) -> File:
        file_id = str(uuid.uuid4())
        name = _safe_name(filename, file_id)
        extension = extension_of(name)
        if extension and not EXTENSION.match(extension):
            extension = ""
        mime = mime_type or guess_mime(name) or "application/octet-stream"
        if not extension:
            extension = (mimetypes.guess_extension(mime) or "").lstrip(".")
        key = f"{TOOL_PREFIX}/{file_id}"
        await self._storage.save(key, content)
        try:
            async with self._db.session() as session:
                session.add(
                    ToolFile(
                        id=file_id,
                        app_id=caller.app_id or None if caller else None,
                        user_id=caller.user_id or None if caller else None,
                        conversation_id=caller.conversation_id or None if caller else None,
                        name=name,
                        size=len(content),
                        extension=extension,
                        mime_type=mime,
                        storage_key=key,
                    )
                )
        except BaseException:
            await self._storage.delete(key)
            raise
        dotted = f".{extension}" if extension else ""
        return File(
            type=file_type(extension, mime),
            transfer_method="tool_file",
            id=file_id,
            url=self.signer.url(file_id, dotted or ".bin"),
            filename=name,
            extension=dotted,
            mime_type=mime,
            size=len(content),
        )

    async def find(self, file_id: str) -> ToolFile | None:
        if not FILE_ID.match(file_id):
            return None
        async with self._db.session() as session:
            return await session.get(ToolFile, file_id)

    def stream(self, row: ToolFile) -> AsyncIterator[bytes]:
        return self._storage.stream(row.storage_key)
