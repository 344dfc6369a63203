"""How stored files are served from the API's origin: uploads (`/files/{id}/preview`) and
tool files (`/files/tools/{id}.{ext}`) alike.

The bytes are someone else's: the stored MIME type is reduced to its essence (lowercased,
parameters stripped, anything malformed is `application/octet-stream`), only a safe list
of types is shown inline, and every response carries a `sandbox` CSP, `nosniff` and a
private cache policy.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# Dify adds `Accept-Ranges` for these, so players can seek.
SEEKABLE = frozenset(
    (
        "audio/mpeg", "audio/wav", "audio/mp4", "audio/ogg", "audio/flac", "audio/aac",
        "video/mp4", "video/webm", "video/quicktime", "audio/x-m4a",
    )
)  # fmt: skip
# The only types shown inline: media and plain text that no browser runs as script or
# renders as a document. Everything else (HTML, SVG, XML, PDF, unknown) downloads.
INLINE = frozenset(
    (
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif",
        "text/plain", "text/csv", "text/markdown", "application/json",
        *SEEKABLE,
    )
)  # fmt: skip
_TOKEN = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
# Types a browser may render or run: even as a download they go out as bytes.
_ACTIVE = re.compile(r"html|[/+]xml$|javascript|ecmascript|^multipart/|^text/")


def essence(mime_type: str | None) -> str:
    """`type/subtype` lowercased, parameters and spaces stripped; anything malformed is
    `application/octet-stream` (a browser would sniff or guess)."""
    value = (mime_type or "").split(";", 1)[0].strip().lower()
    return value if _TOKEN.match(value) else "application/octet-stream"


def served(
    mime_type: str | None, name: str, size: int, *, download: bool
) -> tuple[str, dict[str, str]]:
    """The media type and headers to serve a stored file with."""
    media_type = essence(mime_type)
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    if size > 0:
        headers["Content-Length"] = str(size)
    if media_type in SEEKABLE:
        headers["Accept-Ranges"] = "bytes"
    if download or media_type not in INLINE:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name or 'file')}"
        if (download and media_type in INLINE) or _ACTIVE.search(media_type):
            media_type = "application/octet-stream"
    return media_type, headers
