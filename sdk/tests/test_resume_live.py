"""Automatic stream resume, end to end: the connection is cut mid-stream, the client reopens
`GET .../{task_id}/events` with `Last-Event-ID`, and every event arrives exactly once.

The cut is made by a transport that passes the first streaming response through for
`cut_after` bytes (usually mid-frame) and then raises `httpx.ReadError`, as a dropped TCP
connection does. The reference is the server's own full replay of the same run (the
events route without `Last-Event-ID`), read after the run has finished.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sdk_live import LiveServer

from chatflow_client import (
    AsyncClient,
    Client,
    MessageEvent,
    PingEvent,
    StreamEvent,
    TextChunkEvent,
    TransportError,
    iter_sse,
    parse_event,
)

# Bytes into the first response (a chat stream is ~12 kB): inside the first node event, mid
# answer, between the two frames of one stream item (`id: 19-1`), after `message_end` but
# before `workflow_finished`. A cut before the first event is not resumable (no task id yet).
CUTS = [1000, 4000, 7950, 11570]


class _CutStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, budget: int) -> None:
        self.inner, self.budget = inner, budget

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if len(chunk) >= self.budget:
                yield chunk[: self.budget]
                raise httpx.ReadError("connection dropped (test)")
            self.budget -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _AsyncCutStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, budget: int) -> None:
        self.inner, self.budget = inner, budget

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            if len(chunk) >= self.budget:
                yield chunk[: self.budget]
                raise httpx.ReadError("connection dropped (test)")
            self.budget -= len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recorder:
    """What the client sent: method, path and `Last-Event-ID` of each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut = False

    def note(self, request: httpx.Request) -> bool:
        """Record `request`; True when its response is the one to cut."""
        self.requests.append(
            (request.method, request.url.path, request.headers.get("last-event-id"))
        )
        first_run = request.method == "POST" and not self.cut
        self.cut = self.cut or first_run
        return first_run

    @property
    def resumes(self) -> list[str | None]:
        return [last for method, path, last in self.requests if path.endswith("/events")]


class CuttingTransport(httpx.BaseTransport):
    def __init__(self, cut_after: int) -> None:
        self.inner, self.cut_after, self.log = httpx.HTTPTransport(), cut_after, Recorder()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.log.note(request):
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, self.cut_after),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


class AsyncCuttingTransport(httpx.AsyncBaseTransport):
    def __init__(self, cut_after: int) -> None:
        self.inner, self.cut_after, self.log = httpx.AsyncHTTPTransport(), cut_after, Recorder()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.log.note(request):
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncCutStream(response.stream, self.cut_after),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _replay(server: LiveServer, key: str, path: str, user: str) -> list[dict[str, Any]]:
    """The whole stream of a finished run, as the server keeps it (ids included)."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream(
        "GET", server.base_url + path, params={"user": user}, headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        frames = list(iter_sse(response.iter_lines()))
    return [json.loads(f.data) for f in frames if f.data.strip()]


def _payloads(events: list[StreamEvent]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in events if not isinstance(e, PingEvent)]


def _check(
    seen: list[StreamEvent], log: Recorder, replay: list[dict[str, Any]], answer: str
) -> None:
    assert log.cut, "the first response was never cut"
    assert log.resumes and all(log.resumes), f"expected resumes with Last-Event-ID: {log.requests}"
    expected = [parse_event(p) for p in replay]
    assert _payloads(seen) == _payloads(expected), "events lost or repeated across the resume"
    text = "".join(e.answer if isinstance(e, MessageEvent) else e.data.text
                   for e in expected if isinstance(e, MessageEvent | TextChunkEvent))  # fmt: skip
    assert answer == text


@pytest.fixture
def user() -> str:
    return f"resume-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("cut_after", CUTS)
def test_chat_stream_resumes_sync(server: LiveServer, user: str, cut_after: int) -> None:
    transport = CuttingTransport(cut_after)
    with Client(server.base_url, server.chat_key, transport=transport) as client:
        stream = client.chat.stream("tell me a story", user=user, resumable=True)
        seen = list(stream)
    assert stream.task_id
    replay = _replay(server, server.chat_key, f"/chat-messages/{stream.task_id}/events", user)
    _check(seen, transport.log, replay, stream.state.final.answer)
    assert seen[-1].event == "workflow_finished"


@pytest.mark.parametrize("cut_after", CUTS)
async def test_chat_stream_resumes_async(server: LiveServer, user: str, cut_after: int) -> None:
    transport = AsyncCuttingTransport(cut_after)
    async with AsyncClient(server.base_url, server.chat_key, transport=transport) as client:
        stream = await client.chat.stream("tell me a story", user=user, resumable=True)
        seen = [e async for e in stream]
    assert stream.task_id
    replay = _replay(server, server.chat_key, f"/chat-messages/{stream.task_id}/events", user)
    _check(seen, transport.log, replay, stream.state.final.answer)


@pytest.mark.parametrize("cut_after", CUTS[:2])
def test_workflow_stream_resumes_sync(server: LiveServer, user: str, cut_after: int) -> None:
    transport = CuttingTransport(cut_after)
    with Client(server.base_url, server.workflow_key, transport=transport) as client:
        stream = client.workflows.stream(inputs={"topic": "owls"}, user=user, resumable=True)
        seen = list(stream)
    assert stream.task_id
    path = f"/workflows/tasks/{stream.task_id}/events"
    _check(seen, transport.log, _replay(server, server.workflow_key, path, user),
           stream.state.final.answer)  # fmt: skip
    assert stream.state.final.status == "succeeded"


@pytest.mark.parametrize("cut_after", CUTS[:2])
async def test_workflow_stream_resumes_async(server: LiveServer, user: str, cut_after: int) -> None:
    transport = AsyncCuttingTransport(cut_after)
    async with AsyncClient(server.base_url, server.workflow_key, transport=transport) as client:
        stream = await client.workflows.stream(inputs={"topic": "owls"}, user=user, resumable=True)
        seen = [e async for e in stream]
    assert stream.task_id
    path = f"/workflows/tasks/{stream.task_id}/events"
    _check(seen, transport.log, _replay(server, server.workflow_key, path, user),
           stream.state.final.answer)  # fmt: skip


def test_without_opt_in_a_cut_is_an_error(server: LiveServer, user: str) -> None:
    """No `resumable=True`: no ids, so the client cannot resume and says so."""
    transport = CuttingTransport(900)
    with Client(server.base_url, server.chat_key, transport=transport) as client:
        stream = client.chat.stream("tell me a story", user=user)
        with pytest.raises(TransportError):
            list(stream)
    assert transport.log.resumes == []
