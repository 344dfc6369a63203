"""Uploaded files: `POST /files/upload`, `GET /files/{id}/preview`, and the engine's
file reader (files nodes make are saved by `services.tool_files`).

Bytes go to a `FileStorage` (local disk by default) under a server-made key; the row in
`upload_files` records the name, size, type and owner. The engine never touches storage
or the network itself: `read` hands it the bytes of a local upload or tool file, or of a
remote URL fetched through the SSRF guard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from chatflow.engine.files import File
from chatflow.engine.nodes.base import EngineServices, ToolCaller
from chatflow.errors import ChatflowError, InvalidRequest, NotFound
from chatflow.net.ssrf import guarded_client
from chatflow.services.apps import LoadedApp
from chatflow.services.file_types import (
    allowed,
    extension_of,
    file_type,
    size_limit,
)
from chatflow.services.tool_files import ToolFileService
from chatflow.store import Database
from chatflow.store import end_users as end_users_repo
from chatflow.store import files as files_repo
from chatflow.store.models import EndUser, ToolFile, UploadFile
from chatflow.store.storage import FileStorage

_NAME_MAX = 200  # Dify shortens longer names, keeping the extension


class FileTooLarge(ChatflowError):
    code = "file_too_large"
    status = 413


class UnsupportedFileType(ChatflowError):
    code = "unsupported_file_type"
    status = 415


class FileNotFound(ChatflowError):
    code = "file_not_found"
    status = 404


@dataclasses.dataclass(frozen=True, slots=True)
class FileScope:
    """Whose run reads: files of another app or another end user do not exist for it.
    `user` is the end user's session id (the request's `user`; tools' `user_id`)."""

    app_id: str
    user: str


def _valid_id(file_id: str) -> str:
    """Upload and tool-file ids are UUIDs the server made; anything else (`../x`, a
    path, another spelling) names no file."""
    try:
        parsed = uuid.UUID(file_id)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"File not found: {file_id}") from None
    if str(parsed) != file_id.lower():
        raise NotFound(f"File not found: {file_id}")
    return str(parsed)


def _clean_name(filename: str, extension: str) -> str:
    if "/" in filename or "\\" in filename:
        raise InvalidRequest("Filename contains invalid characters")
    if len(filename) > _NAME_MAX:
        stem = filename.split(".")[0][:_NAME_MAX]
        return f"{stem}.{extension}" if extension else stem
    return filename


class FileService:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        *,
        upload_max_mb: int = 15,
        ssrf_allow: str = "",
        remote_max_mb: int = 15,
        remote_per_run: int = 10,
    ) -> None:
        self._db = db
        self.storage = storage
        self._upload_max_mb = upload_max_mb
        self._ssrf_allow = ssrf_allow
        self._remote_max_bytes = remote_max_mb * 1024 * 1024
        self._remote_per_run = remote_per_run

    async def upload(
        self,
        app: LoadedApp,
        user: str | None,
        *,
        filename: str,
        mime_type: str,
        size: int,
        content: Callable[[], Awaitable[bytes]],
    ) -> UploadFile:
        """Check and store one uploaded file for the end user `user`.

        Size limits are per type (images, audio, video, everything else), from the app's
        `fileUploadConfig` or Dify's defaults. When the app accepts files, a file of a
        type it does not accept is refused at once (415) rather than at chat time.
        """
        extension = extension_of(filename)
        name = _clean_name(filename, extension)
        rules = app.dsl.features.file_upload
        limit = size_limit(rules, extension, self._upload_max_mb)
        if size > limit:
            raise FileTooLarge("File size exceeded.")
        if rules.get("enabled") and not allowed(
            rules, file_type(extension, mime_type), extension, None
        ):
            raise UnsupportedFileType("File type not allowed.")
        data = await content()
        if len(data) > limit:  # the declared size can be missing or wrong
            raise FileTooLarge("File size exceeded.")
        file_id = str(uuid.uuid4())
        key = f"{app.id}/{file_id}.{extension}" if extension else f"{app.id}/{file_id}"
        await self.storage.save(key, data)
        try:
            async with self._db.session() as session:
                end_user = await end_users_repo.get_or_create_end_user(session, app.id, user)
                return await files_repo.create_upload_file(
                    session,
                    app_id=app.id,
                    end_user_id=end_user.id,
                    name=name,
                    size=len(data),
                    extension=extension,
                    mime_type=mime_type,
                    storage_key=key,
                    hash=hashlib.sha3_256(data).hexdigest(),
                    file_id=file_id,
                )
        except BaseException:
            await self.storage.delete(key)
            raise

    async def find(self, app: LoadedApp, user: str | None, file_id: str) -> UploadFile:
        """The app's file for a preview; with `user`, only that end user's own file."""
        async with self._db.session() as session:
            row = await session.get(UploadFile, file_id)
            owner = None
            if user:
                owner = await end_users_repo.find_end_user(session, app.id, user)
        if row is None or row.app_id != app.id:
            raise FileNotFound("The requested file was not found.")
        if user and (owner is None or row.end_user_id != owner.id):
            raise FileNotFound("The requested file was not found.")
        return row

    def stream(self, row: UploadFile) -> AsyncIterator[bytes]:
        return self.storage.stream(row.storage_key)

    # -- the engine's side ---------------------------------------------------------------

    async def read(
        self, file: File, scope: FileScope, *, fetched: list[int] | None = None
    ) -> bytes:
        """The bytes behind a file value, for a run of `scope`: an upload only if that
        app's end user made it, a tool file only if one of their runs did."""
        if file.transfer_method == "tool_file" and file.id:
            file_id = _valid_id(file.id)
            async with self._db.session() as session:
                tool_file = await session.get(ToolFile, file_id)
            if (
                tool_file is None
                or tool_file.app_id != scope.app_id
                or tool_file.user_id != scope.user
            ):
                raise NotFound(f"File not found: {file.id}")
            return await self._load(tool_file.storage_key, file.id)
        if file.transfer_method == "local_file" and file.id:
            file_id = _valid_id(file.id)
            async with self._db.session() as session:
                row = await session.get(UploadFile, file_id)
                owner = await session.get(EndUser, row.end_user_id) if row is not None else None
            if (
                row is None
                or row.app_id != scope.app_id
                or owner is None
                or owner.session_id != scope.user
            ):
                raise NotFound(f"File not found: {file.id}")
            return await self._load(row.storage_key, file.id)
        if file.url:
            if fetched is not None:  # the run's count of remote fetches so far
                if fetched[0] >= self._remote_per_run:
                    raise InvalidRequest(
                        f"A run may fetch at most {self._remote_per_run} remote files"
                    )
                fetched[0] += 1
            return await self._fetch(file.url)
        raise NotFound("The file has neither an upload id nor a URL")

    async def _load(self, key: str, file_id: str) -> bytes:
        try:
            return await self.storage.load(key)
        except FileNotFoundError:
            raise NotFound(f"File not found: {file_id}") from None

    def reader(self, scope: FileScope) -> Callable[[File], Awaitable[bytes]]:
        """A file reader bound to `scope`, counting its remote fetches."""
        fetched = [0]

        async def read(file: File) -> bytes:
            return await self.read(file, scope, fetched=fetched)

        return read

    def reader_for_caller(self, caller: ToolCaller | None) -> Callable[[File], Awaitable[bytes]]:
        """For tools (`ToolContext.services["file_reader"]`): the calling run's scope."""
        caller = caller or ToolCaller()
        return self.reader(FileScope(caller.app_id, caller.user_id))

    def for_run(self, engine: EngineServices, app_id: str, user: str) -> EngineServices:
        """`engine` with a file reader bound to one run's app and end user."""
        return dataclasses.replace(engine, file_reader=self.reader(FileScope(app_id, user)))

    async def _fetch(self, url: str) -> bytes:
        """A remote file, only through the SSRF guard, capped in size."""
        async with guarded_client(self._ssrf_allow) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise InvalidRequest(f"Failed to fetch {url}: HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._remote_max_bytes:
                    raise FileTooLarge("File size exceeded.")
                parts: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > self._remote_max_bytes:
                        raise FileTooLarge("File size exceeded.")
                    parts.append(chunk)
        return b"".join(parts)


class RunsWithFiles:
    """For the services that start runs: the engine each run gets, its file reader
    scoped to the run's app and end user, and its file saver recording them."""

    _engine: EngineServices
    files: FileService | None
    tool_files: ToolFileService | None

    def _run_services(self, app_id: str, user: str) -> EngineServices:
        """`user` is the end user's session id (the request's `user`, `sys.user_id`)."""
        if self.files is None:  # no file service wired: runs read no files at all
            return self._engine
        tool_files = self.tool_files
        if tool_files is None:
            return self.files.for_run(self._engine, app_id, user)
        reader = self.files.reader(FileScope(app_id, user))
        caller = ToolCaller(app_id=app_id, user_id=user)

        async def save(content: bytes, filename: str, mime_type: str) -> File:
            return await tool_files.save(content, filename, mime_type, caller)

        # One copy of the engine's services for both (`replace` costs ~1.5 µs a call).
        return dataclasses.replace(self._engine, file_reader=reader, file_saver=save)
