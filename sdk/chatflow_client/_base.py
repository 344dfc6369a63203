"""Request building, retry policy and response parsing shared by `Client` and `AsyncClient`.

Nothing here does I/O. An `Operation` describes one API call (method, path, query, body,
how to parse the answer, whether it may be retried); `BaseClient` turns it into an
`httpx.Request` and decides whether a failed attempt may be repeated.

Retry policy: an attempt is repeated only when repeating cannot duplicate work.
- Idempotent methods (GET, PUT, DELETE): on transport errors and on 408/429/502/503/504.
- POST (chat messages included): only when the connection could not be opened
  (`ConnectError`, `ConnectTimeout`, `PoolTimeout`), i.e. nothing was sent. A POST that
  reached the server is never sent again, whatever happened next.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeAlias, TypeVar

import httpx
from pydantic import BaseModel

from ._models import BinaryContent

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

QueryValue: TypeAlias = str | int | float | bool | None
FileContent: TypeAlias = bytes | IO[bytes]
FileInput: TypeAlias = str | Path | bytes | IO[bytes] | tuple[str, FileContent, str]
"""A path, raw bytes, a binary file object, or `(filename, content, mime_type)`."""

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
USER_AGENT = "chatflow-client/0.1.0"

RESUME_OPT_IN_HEADER = "X-Chatflow-Resumable"
"""Sent with a streaming request to ask the server for `id:` lines (see DESIGN.md section 5)."""

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
# Errors raised before any byte of the request left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_json(model: type[M]) -> Callable[[httpx.Response], M]:
    """A parser validating the JSON body into `model`."""

    def parse(response: httpx.Response) -> M:
        return model.model_validate(response.json())

    return parse


def parse_none(response: httpx.Response) -> None:
    """For 204 answers (deletes)."""
    return None


def parse_binary(response: httpx.Response) -> BinaryContent:
    return BinaryContent(
        content=response.content,
        content_type=response.headers.get("content-type", "application/octet-stream"),
    )


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """One API call, described without doing it."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, QueryValue] = field(default_factory=dict)
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, FileContent, str]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def idempotent(self) -> bool:
        return self.method.upper() in _IDEMPOTENT


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left as None (Dify treats absent and null alike)."""
    return {k: v for k, v in fields.items() if v is not None}


def file_part(file: FileInput, mime_type: str | None = None) -> tuple[str, FileContent, str]:
    """Normalise the accepted file inputs to httpx's `(name, content, mime)` tuple."""
    if isinstance(file, tuple):
        return file
    mime = mime_type or "application/octet-stream"
    if isinstance(file, str | Path):
        path = Path(file)
        return (path.name, path.read_bytes(), mime_type or _guess_mime(path.name))
    if isinstance(file, bytes):
        return ("file", file, mime)
    name = Path(str(getattr(file, "name", "file"))).name
    return (name, file, mime_type or _guess_mime(name))


def _guess_mime(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class BaseClient:
    """Configuration and the I/O-free half of both clients."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`base_url` is the API root including `/v1`, e.g. `http://localhost:5001/v1`."""
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }

    def build_request(self, op: Operation[Any], *, stream: bool = False) -> httpx.Request:
        headers = {**self.headers, **op.headers}
        if stream:
            headers.setdefault("Accept", "text/event-stream")
        params = {k: _query(v) for k, v in op.params.items() if v is not None}
        extensions = {"timeout": self.timeout.as_dict()}
        return httpx.Request(
            op.method,
            self.base_url + op.path,
            params=params,
            json=op.json,
            data=op.data,
            files=op.files,
            headers=headers,
            extensions=extensions,
        )

    def should_retry(
        self,
        op: Operation[Any],
        attempt: int,
        *,
        error: httpx.TransportError | None = None,
        response: httpx.Response | None = None,
    ) -> bool:
        """Whether attempt number `attempt` (0-based) may be followed by another."""
        if attempt >= self.max_retries:
            return False
        if error is not None:
            return isinstance(error, _NOT_SENT) or op.idempotent
        return response is not None and op.idempotent and response.status_code in _RETRY_STATUSES

    def retry_delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Exponential backoff, or the server's `Retry-After` when it sends one (capped)."""
        if response is not None and (after := _retry_after(response)) is not None:
            return min(after, 30.0)
        return float(min(self.backoff * (1 << attempt), 8.0))


def _query(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("retry-after")
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        seconds = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
    return max(seconds, 0.0)
