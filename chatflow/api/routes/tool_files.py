"""`GET /files/tools/{file_id}.{extension}`: Dify's signed URL for files tools make.

No API key: the URL's signature (`timestamp`, `nonce`, `sign`, valid for
`files_access_timeout` seconds) is the credential, as in Dify. A bad or expired
signature is 403, an unknown or malformed id 404; the id must be a UUID, so nothing a
client sends reaches storage as a path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from chatflow.api.deps import ServicesDep
from chatflow.api.file_headers import served
from chatflow.errors import ChatflowError, InvalidRequest

# Not a Service API operation (Dify serves it outside `/v1`); not in the OpenAPI document.
router = APIRouter(include_in_schema=False)


class Forbidden(ChatflowError):
    code = "forbidden"
    status = 403


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@router.get("/files/tools/{file_name}")
async def tool_file(
    file_name: str,
    services: ServicesDep,
    timestamp: str = "",
    nonce: str = "",
    sign: str = "",
    as_attachment: str | None = None,
) -> StreamingResponse:
    """The tool file's bytes with its MIME type, or as a download (`as_attachment=true`)."""
    file_id = file_name.split(".", 1)[0]
    if not services.tool_files.signer.verify(file_id, timestamp, nonce, sign):
        raise Forbidden("Invalid request.")
    row = await services.tool_files.find(file_id)
    if row is None:
        raise InvalidRequest("file is not found", code="not_found", status=404)
    # Whatever a tool wrote is served like an upload: never script on this origin.
    media_type, headers = served(row.mime_type, row.name, row.size, download=_truthy(as_attachment))
    try:
        body = services.tool_files.stream(row)
        first = await anext(body, b"")
    except FileNotFoundError:
        raise InvalidRequest("file is not found", code="not_found", status=404) from None

    async def content() -> Any:
        yield first
        async for chunk in body:
            yield chunk

    return StreamingResponse(content(), media_type=media_type, headers=headers)
