"""A request-body limit enforced while the body is read, before any route sees it.

A declared `Content-Length` over the limit is answered at once; a body that grows past it
(chunked, or lying about its length) stops being read at the limit. Either way the client
gets 413 in Dify's envelope and nothing larger than the limit is held or spooled. File
uploads (multipart) get their own, larger limit; each file is then checked against the
app's per-type size. `OperationsMiddleware` (`middleware.py`) applies it: one ASGI layer
for both, since every layer costs every request a call and a `send` wrapper.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from chatflow.api.errors import envelope

# Multipart routes: file uploads, speech, and knowledge documents by file (whose files are
# then held to `upload_max_mb`); the console's own mount of them ends the same way.
_UPLOAD_PATHS = (
    "/files/upload",
    "/audio-to-text",
    "/document/create-by-file",
    "/document/create_by_file",
    "/update-by-file",
    "/update_by_file",
)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the limit; routes and FastAPI's body
    parser let `HTTPException`s through, so the 413 handler answers."""

    def __init__(self) -> None:
        super().__init__(413, "Request body exceeded the size limit.")


class BodyLimit:
    """The byte limits: `upload_max_bytes` for multipart routes, `max_bytes` otherwise."""

    def __init__(self, *, max_bytes: int, upload_max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes

    def for_path(self, path: str) -> int:
        return self.upload_max_bytes if path.endswith(_UPLOAD_PATHS) else self.max_bytes


def content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def reject(send: Send) -> None:
    response = envelope("file_too_large", "Request body exceeded the size limit.", 413)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [*response.raw_headers, (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
