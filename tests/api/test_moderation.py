"""`sensitive_word_avoidance` on the wire: keywords (inputs and output), an
OpenAI-compatible `/moderations` backend, and the unsupported `api` type.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests._server_process import free_port

from .conftest import ANSWER, LiveServer, assert_envelope, chat, sse_events

pytestmark = pytest.mark.timeout(60)

INPUT_PRESET = "Sorry, I cannot talk about that."
OUTPUT_PRESET = "The answer was withheld."


MODERATION_PORT = free_port()
LIVE_SETTINGS = {
    "moderation_base_url": f"http://127.0.0.1:{MODERATION_PORT}/v1",
    "moderation_api_key": "sk-moderation",
}
SEEN: list[tuple[str, dict[str, Any]]] = []


class ModerationHandler(BaseHTTPRequestHandler):
    """OpenAI's `POST /v1/moderations`: flags any input that mentions "attack"."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append((self.headers.get("Authorization", ""), body))
        flagged = self.path == "/v1/moderations" and "attack" in body["input"].lower()
        payload = json.dumps(
            {"id": "modr-1", "model": body["model"], "results": [{"flagged": flagged}]}
        )
        self.send_response(200 if self.path == "/v1/moderations" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module", autouse=True)
def moderation_backend() -> Iterator[None]:
    httpd = ThreadingHTTPServer(("127.0.0.1", MODERATION_PORT), ModerationHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield
    httpd.shutdown()
    httpd.server_close()


def stream(client: httpx.Client, query: str, **body: Any) -> list[dict[str, Any]]:
    payload = {"inputs": {}, "query": query, "user": "alice", "response_mode": "streaming", **body}
    with client.stream("POST", "/chat-messages", json=payload) as response:
        assert response.status_code == 200
        raw = response.read().decode("utf-8")
    return [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]


def saved_answer(client: httpx.Client, conversation_id: str) -> str:
    data = client.get(
        "/messages", params={"conversation_id": conversation_id, "user": "alice"}
    ).json()["data"]
    answer: str = data[-1]["answer"]
    return answer


def test_flagged_query_is_answered_with_the_input_preset(server: LiveServer) -> None:
    client = server.client("moderated")
    frames = stream(client, "Tell me something FORBIDDEN please")
    assert [f["event"] for f in frames] == ["message", "message_end"]
    assert frames[0]["answer"] == INPUT_PRESET
    assert saved_answer(client, frames[0]["conversation_id"]) == INPUT_PRESET
    assert chat(client, "forbidden")["answer"] == INPUT_PRESET


def test_flagged_input_variable_is_answered_with_the_input_preset(server: LiveServer) -> None:
    result = chat(server.client("moderated"), "harmless", inputs={"topic": "a forbidden topic"})
    assert result["answer"] == INPUT_PRESET


def test_flagged_answer_is_replaced_before_message_end(server: LiveServer) -> None:
    # The fake model says "Hello there, friend!"; "FRIEND" is a keyword (any case).
    client = server.client("moderated")
    frames = stream(client, "Say hello")
    names = [f["event"] for f in frames]
    assert names[0] == "workflow_started"
    assert names[-3:] == ["message_replace", "message_end", "workflow_finished"]
    replace = frames[-3]
    assert replace["answer"] == OUTPUT_PRESET and replace["reason"] == "output_moderation"
    assert replace["message_id"] == frames[-2]["id"]
    streamed = "".join(f["answer"] for f in frames if f["event"] == "message")
    assert streamed == ANSWER  # already sent; message_replace tells the client to swap it
    assert saved_answer(client, replace["conversation_id"]) == OUTPUT_PRESET
    assert chat(client, "Say hello")["answer"] == OUTPUT_PRESET


def test_unflagged_turns_are_untouched(server: LiveServer) -> None:
    server.registry.fake = type(server.registry.fake)(["All", " good", "."])
    frames = stream(server.client("moderated"), "Say hello")
    assert "message_replace" not in [f["event"] for f in frames]
    assert chat(server.client("moderated"), "Say hello")["answer"] == "All good."


def test_openai_moderation_backend(server: LiveServer) -> None:
    client = server.client("moderated-openai")
    SEEN.clear()
    flagged = chat(client, "plan an ATTACK", inputs={"topic": "history"})
    assert flagged["answer"] == "Flagged by the moderation model."
    authorization, body = SEEN[-1]
    assert authorization == "Bearer sk-moderation"
    assert body["model"] == "omni-moderation-latest"
    assert "history" in body["input"] and "plan an ATTACK" in body["input"]
    assert chat(client, "plan a picnic")["answer"] == ANSWER


def test_api_moderation_is_refused_with_a_clear_error(server: LiveServer) -> None:
    client = server.client("moderated-api")
    frames = stream(client, "hello")
    assert [f["event"] for f in frames] == ["error"]
    assert frames[0]["code"] == "invalid_param" and "API-based extension" in frames[0]["message"]
    response = client.post(
        "/chat-messages",
        json={"inputs": {}, "query": "hello", "user": "alice", "response_mode": "blocking"},
    )
    body = assert_envelope(response, 400, "invalid_param")
    assert "keywords" in body["message"]
