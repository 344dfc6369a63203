"""The OpenAI-compatible backend against a real llama.cpp server on loopback: the HTTP
server xllamacpp runs for SmolLM2 (llama.cpp's own `llama-server` code, xllamacpp
2026.10.11549, the newest the package index offers).

With SmolLM2's own template the server accepts what the backend sends (tools,
tool_choice, assistant tool calls, tool results, a JSON schema) but has no tool syntax
to render the tools in, so it drops them and answers in text. `llamacpp_server.py`
serves the same model with a ChatML template that writes calls Hermes-style
(`<tool_call>{"name": ..., "arguments": ...}</tool_call>`): llama.cpp derives its
tool-call parser from it, constrains a call once the model writes the marker (a lazy
grammar) and streams it as OpenAI tool-call deltas, id and name first, then the
arguments in pieces. The backend reassembles them; a full round sends the call and its
result back and gets a text answer.

The model has to start the call itself, and SmolLM2-135M does so only after seeing an
example (the template carries one; a few-shot call in the request works as well), and
not for every question. What llama.cpp does not do (this build, temperature 0), shown
with "What time is it now?", which the model answers from the example's time:
- `tool_choice: "required"` is not enforced (upstream ggml-org/llama.cpp#27217): the
  grammar lets free text come before the call marker and only forbids stopping, so the
  model wrote `It is currently 09:15 in Tokyo.` in a loop until `finish_reason: "length"`;
- a named `tool_choice` ({"type": "function", ...}) is read as `auto`: the same text,
  `finish_reason: "stop"`;
- a template without tool syntax gets a content-only parser (no "generic" JSON tool
  format any more in this build), so grammar-forced calls for any model are gone too;
- a custom grammar is refused beside tools: HTTP 400 "Cannot use custom grammar
  constraints with tools."
Tool results in a `user` turn as `<tool_response>` blocks (Qwen2.5's own template) made
the model write `<tool_response>` instead of `<tool_call>`; the template here gives them
a `tool` turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest

from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolCall, ToolSpec
from chatflow.providers.embedded import EmbeddedLLM
from chatflow.providers.openai_compat import OpenAICompatLLM
from tests.providers.llamacpp_server import tool_server

pytestmark = pytest.mark.embedded

TIME = ToolSpec(
    "current_time",
    "Get the current time.",
    {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": []},
)


@pytest.fixture(scope="module")
def endpoint() -> tuple[str, str]:
    return EmbeddedLLM(context_size=1024, parallel=2, threads=2).openai_endpoint()


async def test_a_conversation_with_tool_calls_and_results_is_accepted(
    endpoint: tuple[str, str],
) -> None:
    base_url, key = endpoint
    llm = OpenAICompatLLM(base_url, key, "smollm2")
    call = ToolCall("call_1", "current_time", '{"timezone": "UTC"}')
    request = LLMRequest(
        messages=[
            ChatMessage("user", "What time is it?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", "12:00 UTC", name="current_time", tool_call_id="call_1"),
        ],
        params={"max_tokens": 12, "temperature": 0},
        tools=[TIME],
        tool_choice="auto",
    )
    try:
        chunks = [chunk async for chunk in llm.stream(request)]
    finally:
        await llm.aclose()
    assert "".join(c.text for c in chunks).strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 20


async def test_the_server_honours_the_json_schema(endpoint: tuple[str, str]) -> None:
    base_url, key = endpoint
    llm = OpenAICompatLLM(base_url, key, "smollm2")
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    request = LLMRequest(
        messages=[ChatMessage("user", "Is the sky blue? Reply in JSON.")],
        params={"max_tokens": 60, "temperature": 0},
        json_schema=schema,
    )
    try:
        text = "".join([chunk.text async for chunk in llm.stream(request)])
    finally:
        await llm.aclose()
    assert json.loads(text)["answer"] in {"yes", "no"}


# --- streamed tool calls, from the server with a tool template --------------------------

LONDON = ChatMessage("user", "What time is it in London?")
DECODING = {"max_tokens": 40, "temperature": 0, "seed": 1}


class _Tee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, sink: bytearray) -> None:
        self._stream, self._sink = stream, sink

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            self._sink += part
            yield part

    async def aclose(self) -> None:
        await self._stream.aclose()


class Recorder(httpx.AsyncBaseTransport):
    """The real HTTP transport, keeping a copy of the response bodies as they stream."""

    def __init__(self) -> None:
        self._transport = httpx.AsyncHTTPTransport()
        self.body = bytearray()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, self.body),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    def tool_call_deltas(self) -> list[dict[str, Any]]:
        """Every `delta.tool_calls` entry of the SSE frames, in order."""
        frames = [
            json.loads(line[5:])
            for line in self.body.decode().splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"
        ]
        return [
            delta
            for frame in frames
            for choice in frame.get("choices") or ()
            for delta in (choice.get("delta") or {}).get("tool_calls") or ()
        ]


async def _stream(request: LLMRequest) -> tuple[list[LLMChunk], Recorder]:
    base_url, key = tool_server()
    recorder = Recorder()
    llm = OpenAICompatLLM(base_url, key, "smollm2", transport=recorder)
    try:
        chunks = [chunk async for chunk in llm.stream(request)]
    finally:
        await llm.aclose()
    return chunks, recorder


@pytest.mark.parametrize("tool_choice", ["auto", "required"])
async def test_a_streamed_tool_call_is_reassembled(
    tool_choice: Literal["auto", "required"],
) -> None:
    request = LLMRequest([LONDON], params=DECODING, tools=[TIME], tool_choice=tool_choice)
    chunks, recorder = await _stream(request)
    deltas = recorder.tool_call_deltas()
    assert len(deltas) > 2, deltas  # id and name, then the arguments in pieces
    first, *rest = deltas
    assert first["id"] and first["function"]["name"] == "current_time"
    assert all(delta["function"].get("arguments") for delta in rest)
    [call] = [call for chunk in chunks for call in chunk.tool_calls]
    assert (call.id, call.name) == (first["id"], "current_time")
    assert call.arguments == "".join(d["function"].get("arguments") or "" for d in deltas)
    assert json.loads(call.arguments) == {"timezone": "Europe/London"}
    assert not "".join(chunk.text for chunk in chunks).strip()
    assert chunks[-1].finish_reason == "tool_calls"


async def test_the_tool_result_goes_back_and_the_model_answers() -> None:
    chunks, _ = await _stream(
        LLMRequest([LONDON], params=DECODING, tools=[TIME], tool_choice="auto")
    )
    [call] = [call for chunk in chunks for call in chunk.tool_calls]
    result = ChatMessage("tool", "2026-12-07 01:50:00 GMT", tool_call_id=call.id)
    request = LLMRequest(
        [LONDON, ChatMessage("assistant", "", tool_calls=(call,)), result],
        params=DECODING,
        tools=[TIME],
        tool_choice="auto",
    )
    chunks, recorder = await _stream(request)
    answer = "".join(chunk.text for chunk in chunks)
    assert "2026-12-07" in answer, answer  # the model read the tool's result
    assert not recorder.tool_call_deltas()
    assert chunks[-1].finish_reason == "stop"
