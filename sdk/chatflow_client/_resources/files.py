"""`client.files`: upload a file for use in chat, download (preview) an uploaded file."""

from __future__ import annotations

from .._base import FileInput, Operation, file_part, parse_binary, parse_json
from .._models import BinaryContent, UploadedFile
from ._resource import AsyncResource, SyncResource


def _upload(file: FileInput, user: str, mime_type: str | None) -> Operation[UploadedFile]:
    return Operation(
        "POST",
        "/files/upload",
        parse_json(UploadedFile),
        data={"user": user},
        files={"file": file_part(file, mime_type)},
    )


def _preview(
    file_id: str, user: str | None, as_attachment: bool | None
) -> Operation[BinaryContent]:
    params = {"user": user, "as_attachment": as_attachment}
    return Operation("GET", f"/files/{file_id}/preview", parse_binary, params=params)


class Files(SyncResource):
    def upload(self, file: FileInput, *, user: str, mime_type: str | None = None) -> UploadedFile:
        """Multipart upload (fields `file`, `user`); use the id as `upload_file_id`."""
        return self._client.request(_upload(file, user, mime_type))

    def preview(
        self, file_id: str, *, user: str | None = None, as_attachment: bool | None = None
    ) -> BinaryContent:
        return self._client.request(_preview(file_id, user, as_attachment))


class AsyncFiles(AsyncResource):
    async def upload(
        self, file: FileInput, *, user: str, mime_type: str | None = None
    ) -> UploadedFile:
        return await self._client.request(_upload(file, user, mime_type))

    async def preview(
        self, file_id: str, *, user: str | None = None, as_attachment: bool | None = None
    ) -> BinaryContent:
        return await self._client.request(_preview(file_id, user, as_attachment))
