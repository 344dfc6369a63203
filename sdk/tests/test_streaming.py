"""ChatStream helpers over scripted SSE bodies: deltas, final answer, stop, errors, resume."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from chatflow_client import (
    AsyncClient,
    Client,
    MessageEvent,
    PingEvent,
    StreamError,
    TransportError,
    WorkflowFinishedEvent,
)

BASE = "http://test/v1"
IDS = {"task_id": "t1", "conversation_id": "c1", "message_id": "m1", "created_at": 1}


def data(event: str, **fields: Any) -> bytes:
    return f"data: {json.dumps({'event': event, **IDS, **fields})}\n\n".encode()


SUCCESS = [
    b"event: ping\n\n",
    data("workflow_started", workflow_run_id="r1", data={"id": "r1"}),
    data("node_started", workflow_run_id="r1", data={"node_id": "llm"}),
    data("message", id="m1", answer="Hel"),
    data("message", id="m1", answer="lo"),
    data("message", id="m1", answer=""),
    data("message_end", id="m1", metadata={"usage": {"total_tokens": 3}}),
    data("workflow_finished", workflow_run_id="r1", data={"status": "succeeded"}),
]


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields frames, then optionally fails like a dropped connection."""

    def __init__(self, frames: list[bytes], drop: bool = False) -> None:
        self.frames, self.drop = frames, drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.frames
        if self.drop:
            raise httpx.ReadError("connection dropped")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame
        if self.drop:
            raise httpx.ReadError("connection dropped")


def sse(frames: list[bytes], drop: bool = False) -> httpx.Response:
    headers = {"content-type": "text/event-stream; charset=utf-8"}
    return httpx.Response(200, headers=headers, stream=Body(frames, drop))


class Server:
    def __init__(self, *streams: httpx.Response) -> None:
        self.streams = list(streams)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.path.endswith("/stop"):
            return httpx.Response(200, json={"result": "success"})
        return self.streams.pop(0)


def make(server: Server) -> Client:
    return Client(BASE, "k", transport=httpx.MockTransport(server), backoff=0)


def test_events_are_typed_and_pings_kept() -> None:
    events = list(make(Server(sse(SUCCESS))).chat.stream("hi", user="u"))
    assert isinstance(events[0], PingEvent)
    assert [e.event for e in events[1:]] == [
        "workflow_started", "node_started", "message", "message", "message",
        "message_end", "workflow_finished",
    ]  # fmt: skip
    assert isinstance(events[-1], WorkflowFinishedEvent)


def test_streaming_request_asks_for_event_stream() -> None:
    server = Server(sse(SUCCESS))
    list(make(server).chat.stream("hi", user="u"))
    req = server.requests[0]
    assert json.loads(req.content)["response_mode"] == "streaming"
    assert req.headers["accept"] == "text/event-stream"
    assert "x-chatflow-resumable" not in req.headers


def test_text_deltas_and_final_message() -> None:
    stream = make(Server(sse(SUCCESS))).chat.stream("hi", user="u")
    assert list(stream.text_deltas()) == ["Hel", "lo"]
    final = stream.get_final_message()
    assert (final.answer, final.message_id, final.conversation_id) == ("Hello", "m1", "c1")
    assert final.status == "succeeded"
    assert final.metadata.usage is not None and final.metadata.usage.total_tokens == 3


def test_message_replace_replaces_the_answer() -> None:
    frames = [data("message", answer="bad"), data("message_replace", answer="clean"),
              data("message_end", id="m1")]  # fmt: skip
    assert make(Server(sse(frames))).chat.stream("hi", user="u").final_answer() == "clean"


def test_workflow_text_chunks_count_as_deltas() -> None:
    frames = [data("workflow_started", data={}), data("text_chunk", data={"text": "a"}),
              data("text_chunk", data={"text": "b"}),
              data("workflow_finished",
                   data={"status": "succeeded", "outputs": {"o": 1}})]  # fmt: skip
    stream = make(Server(sse(frames))).workflows.stream(user="u", inputs={})
    final = stream.get_final_message()
    assert (final.answer, final.outputs) == ("ab", {"o": 1})


def test_error_event_raises_stream_error_with_dify_fields() -> None:
    frames = [data("workflow_started", data={}),
              data("workflow_finished", data={"status": "failed", "error": "x"}),
              data("error", status=400, code="invalid_param", message="Run failed: x")]  # fmt: skip
    stream = make(Server(sse(frames))).chat.stream("hi", user="u")
    with pytest.raises(StreamError) as info:
        stream.final_answer()
    assert (info.value.status, info.value.code) == (400, "invalid_param")
    assert info.value.message == "Run failed: x"


def test_stop_posts_to_the_task_and_reads_task_id_first() -> None:
    server = Server(sse(SUCCESS))
    stream = make(server).chat.stream("hi", user="u7")
    assert stream.stop().result == "success"  # task_id not seen yet: read ahead for it
    stop = server.requests[1]
    assert stop.url.path == "/v1/chat-messages/t1/stop"
    assert json.loads(stop.content) == {"user": "u7"}
    assert stream.final_answer() == "Hello"  # buffered events are not lost


def test_dropped_stream_without_resume_raises_transport_error() -> None:
    stream = make(Server(sse(SUCCESS[:4], drop=True))).chat.stream("hi", user="u")
    with pytest.raises(TransportError):
        stream.final_answer()


def with_ids(frames: list[bytes], start: int) -> list[bytes]:
    return [f"id: {start + i}\n".encode() + f for i, f in enumerate(frames)]


def test_resumable_stream_reconnects_with_last_event_id() -> None:
    first = with_ids(SUCCESS[1:4], 1)  # workflow_started, node_started, "Hel"
    rest = with_ids(SUCCESS[4:], 4)
    server = Server(sse(first, drop=True), sse(rest))
    stream = make(server).chat.stream("hi", user="u", resumable=True)
    assert stream.final_answer() == "Hello"
    post, resume = server.requests
    assert post.headers["x-chatflow-resumable"] == "true"
    assert resume.method == "GET"
    assert resume.url.path == "/v1/chat-messages/t1/events"
    assert resume.headers["last-event-id"] == "3"
    assert dict(resume.url.params) == {"user": "u"}


def test_no_resume_when_server_sent_no_ids() -> None:
    server = Server(sse(SUCCESS[:4], drop=True))
    with pytest.raises(TransportError):
        make(server).chat.stream("hi", user="u", resumable=True).final_answer()
    assert len(server.requests) == 1


async def test_async_stream_helpers_stop_and_resume() -> None:
    server = Server(sse(with_ids(SUCCESS[1:4], 1), drop=True), sse(with_ids(SUCCESS[4:], 4)))
    async with AsyncClient(BASE, "k", transport=httpx.MockTransport(server), backoff=0) as ac:
        stream = await ac.chat.stream("hi", user="u", resumable=True)
        deltas = [d async for d in stream.text_deltas()]
        assert deltas == ["Hel", "lo"]
        assert (await stream.get_final_message()).status == "succeeded"
        assert (await stream.stop()).result == "success"
    assert [r.url.path for r in server.requests] == [
        "/v1/chat-messages", "/v1/chat-messages/t1/events", "/v1/chat-messages/t1/stop",
    ]  # fmt: skip


async def test_async_events_are_typed() -> None:
    async with AsyncClient(BASE, "k", transport=httpx.MockTransport(Server(sse(SUCCESS)))) as ac:
        stream = await ac.chat.stream("hi", user="u")
        events = [e async for e in stream]
    assert sum(isinstance(e, MessageEvent) for e in events) == 3
