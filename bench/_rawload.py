"""A lean HTTP/1.1 client for the throughput and token-rate benchmarks (like `wrk`).

httpx spends ~1-2 ms of CPU per request on its own; on a 2-core machine that shares the
CPU with the server, the throughput figure then measured the client (the bare Starlette
floor topped out near 400 msg/s). Here each connection sends one pre-encoded request and
reads its response with httptools (the parser uvicorn uses), ~30 µs a request, so the
figure is the server's. `stream` reads one SSE response the same way, for the embedded
model's token timings (a per-frame httpx + `aiter_lines` client takes CPU from llama.cpp's
threads on 2 cores; the direct side has no client at all).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast
from urllib.parse import urlsplit

import httptools


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `request()` sends the request and awaits its status."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[int] | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = exc or ConnectionResetError("connection closed")
        if self._done is not None and not self._done.done():
            self._done.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.lost = exc
            if self._transport is not None:
                self._transport.close()
            if self._done is not None and not self._done.done():
                self._done.set_exception(exc)

    def on_message_complete(self) -> None:  # httptools callback
        if self._done is not None and not self._done.done():
            self._done.set_result(self._parser.get_status_code())

    async def request(self, raw: bytes) -> int:
        if self.lost is not None or self._transport is None:
            raise ConnectionResetError("connection closed")
        self._done = asyncio.get_running_loop().create_future()
        self._transport.write(raw)
        return await self._done

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _address(url: str) -> tuple[str, int]:
    """The host and port `url` names (loopback benchmarks always name both)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url}: a benchmark URL names its host and port")
    return parts.hostname, parts.port


def encode_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    host = urlsplit(url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += ["Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def throughput(url: str, raw: bytes, *, concurrency: int, seconds: float) -> dict[str, Any]:
    """`concurrency` connections sending `raw` back to back for `seconds`."""
    host, port = _address(url)
    loop = asyncio.get_running_loop()
    done = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        connection: _Connection | None = None
        while time.perf_counter() < deadline:
            try:
                if connection is None or connection.lost is not None:
                    _, connection = await loop.create_connection(_Connection, host, port)
                status = await connection.request(raw)
            except (OSError, httptools.HttpParserError):
                errors += 1
                connection = None
                continue
            done += status == 200
            errors += status != 200
        if connection is not None:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": done, "errors": errors, "elapsed": time.perf_counter() - started}


class _Stream(asyncio.Protocol):
    """One streaming response: `on_frame(data, elapsed)` per SSE `data:` frame."""

    def __init__(self, on_frame: Any, started: float) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._on_frame = on_frame
        self._started = started
        self._buffer = b""
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("connection closed"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.done.done():
                self.done.set_exception(exc)

    def on_body(self, body: bytes) -> None:  # httptools callback (chunked encoding undone)
        elapsed = time.perf_counter() - self._started
        *frames, self._buffer = (self._buffer + body).split(b"\n\n")
        for frame in frames:
            if frame.startswith(b"data: "):
                self._on_frame(json.loads(frame[6:]), elapsed)

    def on_message_complete(self) -> None:
        if not self.done.done():
            self.done.set_result(self._parser.get_status_code())


async def stream(url: str, raw: bytes, on_frame: Any) -> tuple[int, float]:
    """Send `raw` (a streaming POST) on a new connection; (status, seconds to the end)."""
    host, port = _address(url)
    started = time.perf_counter()
    transport, protocol = await asyncio.get_running_loop().create_connection(
        lambda: _Stream(on_frame, started), host, port
    )
    try:
        transport.write(raw)
        status = await protocol.done
    finally:
        transport.close()
    return status, time.perf_counter() - started
