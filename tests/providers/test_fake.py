"""FakeLLM, HashingEmbedder and FakeRegistry: deterministic behaviour the engine tests rely on."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any

from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolSpec
from chatflow.providers.fake import FakeLLM, FakeRegistry, HashingEmbedder, schema_placeholder


def request(
    text: str = "hello there world",
    *,
    params: dict[str, Any] | None = None,
    tools: Sequence[ToolSpec] = (),
) -> LLMRequest:
    return LLMRequest([ChatMessage(role="user", content=text)], params=params or {}, tools=tools)


async def collect(llm: FakeLLM, req: LLMRequest) -> list[LLMChunk]:
    return [chunk async for chunk in llm.stream(req)]


async def test_streams_each_token_then_usage() -> None:
    llm = FakeLLM(["Hel", "lo", " world"])
    chunks = await collect(llm, request("one two three four"))
    assert [c.text for c in chunks[:-1]] == ["Hel", "lo", " world"]
    last = chunks[-1]
    assert last.text == "" and last.finish_reason == "stop"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (4, 3)
    assert last.usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


async def test_prompt_tokens_count_words_of_every_message() -> None:
    req = LLMRequest(
        messages=[
            ChatMessage(role="system", content="be brief"),
            ChatMessage(role="user", content="what is  up"),
        ]
    )
    chunks = await collect(FakeLLM(["x"]), req)
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5


async def test_max_tokens_truncates_with_length_reason() -> None:
    chunks = await collect(FakeLLM(["a", "b", "c"]), request(params={"max_tokens": 2}))
    assert [c.text for c in chunks[:-1]] == ["a", "b"]
    assert chunks[-1].finish_reason == "length"


async def test_default_tool_call_uses_first_tool_and_schema_defaults() -> None:
    params = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "strict": {"type": "boolean", "default": True},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
        },
    }
    tools = [ToolSpec("extract", "pull params", params), ToolSpec("other", "", {})]
    chunks = await collect(FakeLLM(["ignored"]), request(tools=tools))
    assert len(chunks) == 2
    (call,) = chunks[0].tool_calls
    assert call.name == "extract"
    assert json.loads(call.arguments) == {
        "city": "",
        "days": 0,
        "unit": "c",
        "strict": True,
        "tags": [],
        "where": {"lat": 0},
    }
    assert chunks[1].finish_reason == "tool_calls"
    assert chunks[1].usage is not None and chunks[1].usage.completion_tokens == 1


async def test_configured_tool_call() -> None:
    llm = FakeLLM([], tool_call=("classify", {"category_id": "c2"}))
    chunks = await collect(llm, request(tools=[ToolSpec("extract", "", {})]))
    (call,) = chunks[0].tool_calls
    assert (call.name, json.loads(call.arguments)) == ("classify", {"category_id": "c2"})


def test_schema_placeholder_handles_nullable_types() -> None:
    assert schema_placeholder({"type": ["null", "string"]}) == ""
    assert schema_placeholder({}) is None


async def test_delay_yields_to_other_tasks_and_aclose_stops() -> None:
    llm = FakeLLM(["t"] * 1000, delay=0.001)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    stream = llm.stream(request())
    received = [await anext(stream) for _ in range(3)]
    await stream.aclose()
    task.cancel()
    assert [c.text for c in received] == ["t", "t", "t"]
    assert ticks > 0
    assert llm.calls == 1


async def test_instant_stream_still_yields_on_long_outputs() -> None:
    llm = FakeLLM(["t"] * 200)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        ticks += 1

    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(ticker()))
    chunks = await collect(llm, request())
    assert len(chunks) == 201
    assert ticks == 1


async def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(dimensions=64)
    a, b, c, empty = await embedder.embed(
        ["How do I reset my password?", "reset password how", "Weather in Paris", ""]
    )
    assert (await embedder.embed(["How do I reset my password?"]))[0] == a
    assert len(a) == 64 and math.isclose(sum(v * v for v in a), 1.0)
    assert empty == [0.0] * 64

    def cosine(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert cosine(a, b) > cosine(a, c)


async def test_fake_registry_serves_one_llm_for_every_model() -> None:
    registry = FakeRegistry(tokens=["ok"])
    assert registry.llm("openai", "gpt-4o") is registry.llm("langgenius/ollama/ollama", "x")
    chunks = await collect(registry.llm("openai", "gpt-4o"), request())
    assert "".join(c.text for c in chunks) == "ok"
    assert len((await registry.embedder().embed(["a"]))[0]) == 256
