"""A request-body limit enforced while the body is read, before any route sees it.

A declared `Content-Length` over the limit is answered at once; a body that grows past it
(chunked, or lying about its length) stops being read at the limit. Either way the client
gets 413 in Dify's envelope and nothing larger than the limit is held or spooled. File
uploads (multipart) get their own, larger limit; each file is then checked against the
app's per-type size.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.upload_max_bytes if path.endswith(_UPLOAD_PATHS) else self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _reject(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send) -> None:
    response = envelope("file_too_large", "Request body exceeded the size limit.", 413)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [*response.raw_headers, (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
