"""The OpenAI-compatible backend against a real llama.cpp server on loopback: the HTTP
server xllamacpp runs for the embedded SmolLM2 model (llama.cpp's own `llama-server`
code). These tests prove that what the backend sends (tools, tool_choice, assistant tool
calls, tool results, a JSON schema) is accepted and honoured by a real server.

Streamed tool-call deltas from this server could not be had, so `test_openai_compat.py`'s
stand-in and the corpus e2e test's scripted server cover them. Tried with xllamacpp
2026.10 (jinja on): SmolLM2's own template has no tool syntax, so llama.cpp drops the
tools; a ChatML template that renders `tools` Hermes-style (`<tool_call>` JSON, detected:
`/props` reports supports_tools) still leaves `tool_choice: "required"` unenforced, an
upstream bug (ggml-org/llama.cpp#27217: the eager grammar allows free text before the
call marker; a named tool_choice is read as `auto`), and SmolLM2-135M never writes the
marker itself, with or without a few-shot call in the conversation. A generation prompt
that ends in the marker makes it write a well-formed call, but llama.cpp parses only
generated text, so the call arrives as content; a JSON-only tool format fared no better.
"""

from __future__ import annotations

import json

import pytest

from chatflow.providers.base import ChatMessage, LLMRequest, ToolCall, ToolSpec
from chatflow.providers.embedded import EmbeddedLLM
from chatflow.providers.openai_compat import OpenAICompatLLM

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
