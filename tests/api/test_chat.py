"""`POST /chat-messages` on the wire: SSE framing, event order, blocking shape, failures."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.providers.fake import FakeLLM

from .conftest import ANSWER, TOKENS, LiveServer, assert_envelope, chat, sse_events

pytestmark = pytest.mark.timeout(60)

USAGE_FIELDS = {
    "prompt_tokens",
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_tokens",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_tokens",
    "total_price",
    "currency",
    "latency",
}


def stream(
    server: LiveServer, app: str = "assistant", **body: Any
) -> tuple[Any, list[dict[str, Any]], bytes]:
    payload = {"inputs": {}, "query": "Hi", "user": "alice", "response_mode": "streaming", **body}
    client = server.client(app)
    with client.stream("POST", "/chat-messages", json=payload) as response:
        raw = response.read()
    events = list(sse_events(iter(raw.decode("utf-8").split("\n"))))
    return response, events, raw


def test_streaming_headers_and_framing(server: LiveServer) -> None:
    response, events, raw = stream(server)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert raw.startswith(b"event: ping\n\n")
    # No `id:`/`retry:` lines, every frame is `data: {json}` and a blank line.
    for block in raw.decode().split("\n\n")[1:-1]:
        assert block.startswith("data: {") and "\n" not in block, block
    assert raw.endswith(b"}\n\n")
    assert events[0] == {"event": "ping"}


def test_streaming_event_order_and_ids(server: LiveServer) -> None:
    _, events, _ = stream(server)
    names = [e["event"] for e in events if e["event"] != "ping"]
    assert names[0] == "workflow_started"
    assert names[-2:] == ["message_end", "workflow_finished"]
    assert "error" not in names
    frames = [e for e in events if e["event"] != "ping"]
    task_ids = {f["task_id"] for f in frames}
    message_ids = {f["message_id"] for f in frames}
    conversation_ids = {f["conversation_id"] for f in frames}
    assert len(task_ids) == len(message_ids) == len(conversation_ids) == 1
    for f in frames:
        assert isinstance(f["created_at"], int)
        if f["event"].startswith(("workflow_", "node_")):
            assert f["workflow_run_id"] == frames[0]["data"]["id"]
    nodes = [(f["event"], f["data"]["node_type"]) for f in frames if f["event"].startswith("node_")]
    assert nodes == [
        ("node_started", "start"),
        ("node_finished", "start"),
        ("node_started", "llm"),
        ("node_finished", "llm"),
        ("node_started", "answer"),
        ("node_finished", "answer"),
    ]


def test_message_frames_carry_the_answer_and_end_with_an_empty_one(server: LiveServer) -> None:
    _, events, _ = stream(server)
    frames = [e for e in events if e["event"] != "ping"]
    messages = [f for f in frames if f["event"] == "message"]
    assert [m["answer"] for m in messages] == [*TOKENS, ""]
    for m in messages:
        assert m["id"] == m["message_id"]
        assert m["from_variable_selector"] == ["llm", "text"]
    # The empty frame closes the LLM's stream, just before the LLM's node_finished.
    empty = frames.index(messages[-1])
    assert frames[empty + 1]["event"] == "node_finished"
    assert frames[empty + 1]["data"]["node_type"] == "llm"
    end = next(f for f in frames if f["event"] == "message_end")
    assert end["id"] == end["message_id"]
    assert set(end["metadata"]["usage"]) == USAGE_FIELDS
    assert end["metadata"]["retriever_resources"] == []
    finished = frames[-1]["data"]
    assert finished["status"] == "succeeded" and finished["error"] is None
    assert isinstance(finished["created_at"], int) and isinstance(finished["finished_at"], int)
    assert finished["outputs"]["answer"] == ANSWER


def test_blocking_response_shape(server: LiveServer) -> None:
    body = chat(server.client(), "Hello?")
    assert set(body) == {
        "event",
        "task_id",
        "id",
        "message_id",
        "conversation_id",
        "mode",
        "answer",
        "metadata",
        "created_at",
    }
    assert body["event"] == "message"
    assert body["mode"] == "advanced-chat"
    assert body["id"] == body["message_id"]
    assert body["answer"] == ANSWER
    assert isinstance(body["created_at"], int)
    assert set(body["metadata"]["usage"]) == USAGE_FIELDS
    assert body["metadata"]["usage"]["completion_tokens"] == len(TOKENS)
    assert isinstance(body["metadata"]["usage"]["total_price"], str)


def test_continuing_a_conversation_uses_memory_and_counts_dialogues(server: LiveServer) -> None:
    client = server.client()
    first = chat(client, "My name is Ada.", auto_generate_name=False)
    second = chat(client, "What is my name?", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    # The second prompt holds the first exchange: more prompt tokens than the first.
    assert second["metadata"]["usage"]["prompt_tokens"] > first["metadata"]["usage"][
        "prompt_tokens"
    ] + len(TOKENS)
    messages = client.get(
        "/messages", params={"conversation_id": first["conversation_id"], "user": "alice"}
    ).json()["data"]
    assert [m["query"] for m in messages] == ["My name is Ada.", "What is my name?"]


def test_failed_run_streams_workflow_finished_then_error(server: LiveServer) -> None:
    _, events, _ = stream(server, app="failing")
    frames = [e for e in events if e["event"] != "ping"]
    names = [f["event"] for f in frames]
    assert "message_end" not in names
    assert names[-2:] == ["workflow_finished", "error"]
    finished, error = frames[-2], frames[-1]
    assert finished["data"]["status"] == "failed"
    assert "division by zero" in finished["data"]["error"]
    assert error["status"] == 400 and error["code"] == "invalid_param"
    assert error["message"].startswith("Run failed: ")
    assert error["task_id"] == finished["task_id"]


def test_failed_run_in_blocking_mode_is_invalid_param(server: LiveServer) -> None:
    client = server.client("failing")
    response = client.post(
        "/chat-messages",
        json={"inputs": {}, "query": "x", "user": "alice", "response_mode": "blocking"},
    )
    body = assert_envelope(response, 400, "invalid_param")
    assert body["message"].startswith("Run failed: ")
    assert "division by zero" in body["message"]


def test_unicode_line_separators_are_escaped(server: LiveServer) -> None:
    server.registry.fake = FakeLLM(["a\u2028b", "c\u2029d"])
    _, events, raw = stream(server)
    assert "\u2028".encode() not in raw and "\u2029".encode() not in raw
    assert b"\\u2028" in raw and b"\\u2029" in raw
    assert [e["answer"] for e in events if e["event"] == "message"][:2] == ["a\u2028b", "c\u2029d"]


def test_idle_stream_sends_pings(server: LiveServer) -> None:
    # ping_interval is 0.5 s in the test server; one slow token leaves the stream idle.
    server.registry.fake = FakeLLM(["slow"], delay=1.2)
    _, events, _ = stream(server)
    names = [e["event"] for e in events]
    first_message = names.index("message")
    assert names[0] == "ping"
    assert "ping" in names[1:first_message]


def test_basic_chat_app_streams_message_frames_only(server: LiveServer) -> None:
    _, events, _ = stream(server, app="basic-chat")
    names = [e["event"] for e in events if e["event"] != "ping"]
    assert set(names) == {"message", "message_end"} and names[-1] == "message_end"
    blocking = chat(server.client("basic-chat"), "hi")
    assert blocking["mode"] == "chat" and blocking["answer"] == ANSWER
