"""A prompt that cannot fit the model's context, through `POST /chat-messages`.

In an agent-chat (or chat) app Dify maps the model's `InvokeError` to
`completion_request_error`: streaming ends with an `error` frame of that code, blocking
answers a 400 envelope of it, and the message names the sizes. An advanced-chat app is a
workflow: its failed run is `invalid_param` "Run failed: ..." with the node's message
(which names the sizes) inside. The model here knows a small context and counts a token
per word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from chatflow.providers.base import ChatMessage, ToolSpec
from chatflow.providers.fake import FakeLLM, count_words

from .conftest import TOKENS, LiveServer, assert_envelope, chat, sse_events

pytestmark = pytest.mark.timeout(60)

CONTEXT = 256
LONG_QUERY = " ".join(f"word{i}" for i in range(400))  # 400 tokens: more than the context


class SmallContextLLM(FakeLLM):
    """The fake model with a context of `CONTEXT` tokens, one token per word."""

    @property
    def context_size(self) -> int | None:
        return CONTEXT

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int:
        words = sum(count_words(m.content) for m in messages)
        return words + sum(count_words(t.description) + 8 for t in tools)


def _stream(server: LiveServer, app: str, query: str) -> list[dict[str, Any]]:
    payload = {"inputs": {}, "query": query, "user": "alice", "response_mode": "streaming"}
    with server.client(app).stream("POST", "/chat-messages", json=payload) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    return [e for e in sse_events(iter(raw.split("\n"))) if e["event"] != "ping"]


def _assert_names_sizes(message: str) -> None:
    assert "too long" in message
    assert f"context is {CONTEXT} tokens" in message
    assert "needs 4" in message  # the prompt's own count: the 400-word query and more


# app -> the code its failed turn reaches the client with, as in Dify
CODES = {"agent": "completion_request_error", "assistant": "invalid_param"}


@pytest.mark.parametrize("app", ["assistant", "agent"])
def test_streaming_ends_with_an_error_naming_the_sizes(server: LiveServer, app: str) -> None:
    server.registry.fake = SmallContextLLM(TOKENS)
    frames = _stream(server, app, LONG_QUERY)
    error = frames[-1]
    assert error["event"] == "error", frames
    assert error["code"] == CODES[app] and error["status"] == 400
    _assert_names_sizes(error["message"])
    assert error["message"].startswith("Run failed: ") == (app == "assistant")
    assert "message_end" not in [f["event"] for f in frames]
    assert server.registry.fake.calls == 0  # the model was never asked


@pytest.mark.parametrize("app", ["assistant", "agent"])
def test_blocking_is_an_envelope_naming_the_sizes(server: LiveServer, app: str) -> None:
    server.registry.fake = SmallContextLLM(TOKENS)
    response = server.client(app).post(
        "/chat-messages",
        json={"inputs": {}, "query": LONG_QUERY, "user": "alice", "response_mode": "blocking"},
    )
    body = assert_envelope(response, 400, CODES[app])
    _assert_names_sizes(body["message"])
    assert body["message"].startswith("Run failed: ") == (app == "assistant")


def test_a_prompt_that_fits_the_same_model_answers(server: LiveServer) -> None:
    server.registry.fake = SmallContextLLM(TOKENS)
    assert chat(server.client(), "A short question?")["answer"] == "".join(TOKENS)


def test_other_failures_stay_run_failed_invalid_param(server: LiveServer) -> None:
    response = server.client("failing").post(
        "/chat-messages",
        json={"inputs": {}, "query": "x", "user": "alice", "response_mode": "blocking"},
    )
    assert assert_envelope(response, 400, "invalid_param")["message"].startswith("Run failed: ")
