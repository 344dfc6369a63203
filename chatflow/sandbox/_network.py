"""HTTP for code jobs, the way Dify's sandbox offers it, without giving jobs a network.

A job has no sockets (empty network namespace, audit hook). Instead `requests` and
`httpx`, which the sandbox process imports before it forks any job, are patched so that
each request travels as a frame over the job's channel to the sandbox process, which
hands it to the server; the server sends it with its SSRF-guarded client (the same
rules as http-request nodes) and the response comes back the same way. To user code it
looks like a normal `requests.post(...)` or `httpx.get(...)`.

Stdlib only at import: this module runs in the sandbox process.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import Any

_HEADER = struct.Struct(">I")
_channel: int | None = None
DEFAULT_TIMEOUT = 30.0


class NetworkError(OSError):
    """A request the server refused (SSRF rules) or could not complete."""


def attach(fd: int | None) -> None:
    """Use `fd` (the job's channel to the sandbox process) for requests; None: no network."""
    global _channel
    _channel = fd


def write_frame(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise NetworkError("the sandbox closed the network channel")
        data += chunk
    return bytes(data)


def call(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout: float
) -> dict[str, Any]:
    """Send one request through the server; its response as a dict, or `NetworkError`."""
    if _channel is None:
        raise NetworkError("network access is not allowed in code nodes here")
    write_frame(
        _channel,
        {
            "http": {
                "method": method,
                "url": url,
                "headers": headers,
                "body": base64.b64encode(body).decode(),
                "timeout": timeout,
            }
        },
    )
    (size,) = _HEADER.unpack(_read_exactly(_channel, _HEADER.size))
    reply: dict[str, Any] = json.loads(_read_exactly(_channel, size))
    if "error" in reply:
        raise NetworkError(str(reply["error"]))
    reply["content"] = base64.b64decode(reply.pop("body", ""))
    return reply


def _seconds(timeout: Any) -> float:
    """requests' (connect, read) pair, httpx's extensions or a number, as one wall time."""
    if isinstance(timeout, tuple):
        numbers = [t for t in timeout if isinstance(t, int | float)]
        return float(sum(numbers)) if numbers else DEFAULT_TIMEOUT
    if isinstance(timeout, dict):
        numbers = [t for t in timeout.values() if isinstance(t, int | float)]
        return float(max(numbers)) if numbers else DEFAULT_TIMEOUT
    return float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT


def _body(raw: Any) -> bytes:
    if raw is None:
        return b""
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8")
    if hasattr(raw, "read"):
        data = raw.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(part.encode("utf-8") if isinstance(part, str) else part for part in raw)


def patch_requests() -> None:
    import requests
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers

    def send(
        self: Any,
        request: Any,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Any:
        try:
            reply = call(
                str(request.method),
                str(request.url),
                list(request.headers.items()),
                _body(request.body),
                _seconds(timeout),
            )
        except NetworkError as exc:
            raise requests.exceptions.ConnectionError(str(exc), request=request) from None
        response = requests.Response()
        response.status_code = int(reply["status"])
        response.reason = str(reply.get("reason") or "")
        response.headers = CaseInsensitiveDict(dict(reply["headers"]))
        response._content = reply["content"]
        response._content_consumed = True
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = str(reply.get("url") or request.url)
        response.request = request
        response.connection = self
        return response

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]


def patch_httpx() -> None:
    import httpx

    def response_for(request: Any, reply: dict[str, Any]) -> Any:
        reason = str(reply.get("reason") or "").encode()
        return httpx.Response(
            int(reply["status"]),
            headers=[(k, v) for k, v in reply["headers"]],
            content=reply["content"],
            request=request,
            extensions={"reason_phrase": reason, "http_version": b"HTTP/1.1"},
        )

    def handle(self: Any, request: Any) -> Any:
        body = request.read()
        try:
            reply = call(
                request.method,
                str(request.url),
                [(k, v) for k, v in request.headers.items()],
                body,
                _seconds(request.extensions.get("timeout")),
            )
        except NetworkError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        return response_for(request, reply)

    async def handle_async(self: Any, request: Any) -> Any:
        body = await request.aread()
        try:
            reply = call(
                request.method,
                str(request.url),
                [(k, v) for k, v in request.headers.items()],
                body,
                _seconds(request.extensions.get("timeout")),
            )
        except NetworkError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        return response_for(request, reply)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        # No connection pool or TLS context (it would read the CA bundle): requests go
        # to the server, which verifies TLS itself.
        pass

    def close(self: Any) -> None:
        pass

    async def aclose(self: Any) -> None:
        pass

    for transport in (httpx.HTTPTransport, httpx.AsyncHTTPTransport):
        transport.__init__ = init  # type: ignore[method-assign]
    httpx.HTTPTransport.handle_request = handle  # type: ignore[method-assign]
    httpx.HTTPTransport.close = close  # type: ignore[method-assign]
    httpx.HTTPTransport.__enter__ = lambda self: self  # type: ignore[method-assign]
    httpx.HTTPTransport.__exit__ = lambda self, *exc: None  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.aclose = aclose  # type: ignore[method-assign]

    async def aenter(self: Any) -> Any:
        return self

    async def aexit(self: Any, *exc: Any) -> None:
        pass

    httpx.AsyncHTTPTransport.__aenter__ = aenter  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.__aexit__ = aexit  # type: ignore[method-assign,assignment]
