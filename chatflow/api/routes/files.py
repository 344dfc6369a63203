"""`POST /files/upload` (multipart `file` + `user`) and `GET /files/{file_id}/preview`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile as FormFile
from starlette.responses import StreamingResponse

from chatflow.api._json import JSONResponse
from chatflow.api.body_limit import BodyTooLarge
from chatflow.api.deps import AppDep, ServicesDep, blank_to_none
from chatflow.api.file_headers import served
from chatflow.errors import InvalidRequest
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.store.models import UploadFile

router = APIRouter(tags=["Files"])


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def upload_payload(row: UploadFile) -> dict[str, Any]:
    """Dify's `FileResponse`; the fields clients rely on are never null."""
    return {
        "id": row.id,
        "name": row.name,
        "size": row.size,
        "extension": row.extension,
        "mime_type": row.mime_type,
        "created_by": row.end_user_id,
        "created_at": int(row.created_at.timestamp()),
        "preview_url": None,
        "source_url": None,
        "original_url": None,
        "user_id": None,
        "tenant_id": None,
        "conversation_id": None,
        "file_key": None,
        "reference": None,
    }


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "user": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post("/files/upload", status_code=201, openapi_extra=_UPLOAD_BODY)
async def upload_file(request: Request, app: AppDep, services: ServicesDep) -> JSONResponse:
    """Store one file for the end user; errors are Dify's (`no_file_uploaded`,
    `too_many_files`, `filename_not_exists_error`, 413 `file_too_large`, 415
    `unsupported_file_type`)."""
    row = await receive_upload(request, services, app, None)
    return JSONResponse(upload_payload(row), status_code=201)


async def receive_upload(
    request: Request, services: Services, app: LoadedApp, user: str | None
) -> UploadFile:
    """Read a multipart upload and store it for `user` (else the form's `user` field:
    the chat sites pass their session's user, which no form field can override)."""
    try:
        form = await request.form()
    except BodyTooLarge:
        raise
    except Exception:
        raise InvalidRequest("Please upload your file.", code="no_file_uploaded") from None
    try:
        parts = [value for _, value in form.multi_items() if isinstance(value, FormFile)]
        upload = form.get("file")
        if not isinstance(upload, FormFile):
            raise InvalidRequest("Please upload your file.", code="no_file_uploaded")
        if len(parts) > 1:
            raise InvalidRequest("Only one file is allowed.", code="too_many_files")
        if not upload.content_type:
            raise InvalidRequest("File type not allowed.", code="unsupported_file_type", status=415)
        if not upload.filename:
            raise InvalidRequest(
                "The specified filename does not exist.", code="filename_not_exists_error"
            )
        if user is None:
            field = form.get("user")
            user = field if isinstance(field, str) and field else None
        return await services.files.upload(
            app,
            user,
            filename=upload.filename,
            mime_type=upload.content_type,
            size=upload.size if upload.size is not None else 0,
            content=upload.read,
        )
    finally:
        await form.close()


@router.get("/files/{file_id}/preview")
async def preview_file(
    file_id: str,
    app: AppDep,
    services: ServicesDep,
    as_attachment: str | None = None,
    user: str | None = None,
) -> StreamingResponse:
    """The file's bytes with its MIME type, or as a download (`as_attachment=true`).

    The bytes are someone's upload served from the API's origin: only a safe list of types
    is shown inline, under a `sandbox` CSP, never sniffed, never kept by shared caches."""
    row = await services.files.find(app, blank_to_none(user), file_id)
    media_type, headers = served(row.mime_type, row.name, row.size, download=_truthy(as_attachment))
    try:
        body = services.files.stream(row)
        first = await anext(body, b"")  # a missing object fails here, as a clean 404
    except FileNotFoundError:
        raise InvalidRequest(
            "The requested file was not found.", code="file_not_found", status=404
        ) from None

    async def content() -> Any:
        yield first
        async for chunk in body:
            yield chunk

    return StreamingResponse(content(), media_type=media_type, headers=headers)
