"""OpenAICompatLLM / OpenAICompatEmbedder against a fake OpenAI server on a real loopback port."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatflow.errors import ProviderError
from chatflow.providers.base import (
    ChatMessage,
    ImagePart,
    LLMChunk,
    LLMRequest,
    ToolCall,
    ToolSpec,
)
from chatflow.providers.openai_compat import (
    OpenAICompatEmbedder,
    OpenAICompatLLM,
    estimate_tokens,
)


@dataclass
class FakeOpenAI:
    """Records requests; the `model` field picks the behaviour."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ]
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        model = body["model"]
        if model == "unauthorized":
            error = {"error": {"message": "Incorrect API key provided", "type": "auth"}}
            return JSONResponse(error, status_code=401)
        frames = {"echo": self.echo, "tools": self.tools, "slow": self.slow, "broken": self.broken}
        return StreamingResponse(frames[model](body), media_type="text/event-stream")

    @staticmethod
    def frame(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload)}\n\n"

    async def echo(self, body: dict[str, Any]) -> AsyncIterator[str]:
        words = body["messages"][-1]["content"]
        words = words if isinstance(words, str) else words[0]["text"]
        yield self.frame({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        for word in words.split():
            yield self.frame({"choices": [{"index": 0, "delta": {"content": word + " "}}]})
        yield self.frame({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if body.get("stream_options", {}).get("include_usage"):
            usage = {"prompt_tokens": 11, "completion_tokens": 22, "total_tokens": 33}
            yield self.frame({"choices": [], "usage": usage})
        yield "data: [DONE]\n\n"

    async def tools(self, body: dict[str, Any]) -> AsyncIterator[str]:
        def call(index: int, **delta: Any) -> dict[str, Any]:
            return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **delta}]}}]}

        yield self.frame(call(0, id="call_a", function={"name": "extract", "arguments": ""}))
        yield self.frame(call(0, function={"arguments": '{"city": '}))
        yield self.frame(call(1, id="call_b", function={"name": "other", "arguments": "{}"}))
        yield self.frame(call(0, function={"arguments": '"Paris"}'}))
        yield self.frame({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        yield "data: [DONE]\n\n"

    async def slow(self, body: dict[str, Any]) -> AsyncIterator[str]:
        try:
            while True:
                yield self.frame({"choices": [{"index": 0, "delta": {"content": "tick "}}]})
                await asyncio.sleep(0.02)
        finally:
            self.disconnected.set()

    async def broken(self, body: dict[str, Any]) -> AsyncIterator[str]:
        yield self.frame({"choices": [{"index": 0, "delta": {"content": "partial"}}]})
        yield self.frame({"error": {"message": "model crashed"}})

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), float(i)]}
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"]})


@pytest.fixture
async def fake_openai() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes only this flag)
        await asyncio.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    await task


def user(text: str, *images: ImagePart) -> LLMRequest:
    return LLMRequest(messages=[ChatMessage(role="user", content=text, images=images)])


async def collect(llm: OpenAICompatLLM, request: LLMRequest) -> list[LLMChunk]:
    try:
        return [chunk async for chunk in llm.stream(request)]
    finally:
        await llm.aclose()


async def test_streams_deltas_and_usage(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    llm = OpenAICompatLLM(url, "sk-test", "echo")
    req = LLMRequest(
        messages=[ChatMessage(role="user", content="hello big world")],
        params={"temperature": 0.2, "max_tokens": 5, "dify_only_key": 1},
        stop=["\n"],
        response_format="json_object",
    )
    chunks = await collect(llm, req)
    assert [c.text for c in chunks[:-1]] == ["hello ", "big ", "world "]
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (11, 22)
    sent = fake.requests[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.2, 5, ["\n"])
    assert "dify_only_key" not in sent
    assert sent["response_format"] == {"type": "json_object"}
    assert fake.headers[0]["authorization"] == "Bearer sk-test"


async def test_images_become_content_parts(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    image = ImagePart(url="data:image/png;base64,AAAA", detail="low")
    chunks = await collect(OpenAICompatLLM(url, None, "echo"), user("describe it", image))
    assert "".join(c.text for c in chunks) == "describe it "
    assert fake.requests[0]["messages"][0]["content"] == [
        {"type": "text", "text": "describe it"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
    ]
    assert "authorization" not in fake.headers[0]


async def test_tool_call_fragments_are_reassembled(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    tool = ToolSpec("extract", "get city", {"type": "object", "properties": {}})
    req = LLMRequest(messages=[ChatMessage(role="user", content="Paris")], tools=[tool])
    chunks = await collect(OpenAICompatLLM(url, "k", "tools"), req)
    calls = [call for chunk in chunks for call in chunk.tool_calls]
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_a", "extract", {"city": "Paris"}),
        ("call_b", "other", {}),
    ]
    assert chunks[-1].finish_reason == "tool_calls"
    assert fake.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "extract",
                "description": "get city",
                "parameters": tool.parameters,
            },
        }
    ]
    assert fake.requests[0]["tool_choice"] == "auto"


async def test_calls_and_results_go_back_as_openai_messages(
    fake_openai: tuple[FakeOpenAI, str],
) -> None:
    fake, url = fake_openai
    call = ToolCall("call_a", "extract", '{"city": "Paris"}')
    history = [
        ChatMessage("user", "Where?"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "Paris is in France", name="extract", tool_call_id="call_a"),
    ]
    tool = ToolSpec("extract", "get city", {"type": "object", "properties": {}})
    request = LLMRequest(messages=history, tools=[tool], tool_choice="required")
    await collect(OpenAICompatLLM(url, "k", "echo"), request)
    sent = fake.requests[0]
    assert sent["tool_choice"] == "required"
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "extract", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert sent["messages"][2] == {
        "role": "tool",
        "content": "Paris is in France",
        "tool_call_id": "call_a",
    }


async def test_structured_output_sends_the_schema(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = LLMRequest(messages=[ChatMessage("user", "x")], json_schema=schema)
    await collect(OpenAICompatLLM(url, "k", "echo"), request)
    assert fake.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "structured_output", "schema": schema},
    }


def test_context_size_is_the_operators_and_tokens_are_estimated_high() -> None:
    assert OpenAICompatLLM("http://x", None, "m").context_size is None
    llm = OpenAICompatLLM("http://x", None, "m", context_size=8000)
    assert llm.context_size == 8000
    english = [ChatMessage("user", "The quick brown fox jumps over the lazy dog. " * 10)]
    chinese = [ChatMessage("user", "敏捷的棕色狐狸跳过了懒狗。" * 10)]
    # Real BPE counts: ~100 tokens for the English, ~130 for the Chinese; never under.
    assert estimate_tokens(english) >= 100
    assert estimate_tokens(chinese) >= 130


async def test_http_error_becomes_provider_error(fake_openai: tuple[FakeOpenAI, str]) -> None:
    _, url = fake_openai
    with pytest.raises(ProviderError) as info:
        await collect(OpenAICompatLLM(url, "bad", "unauthorized"), user("hi"))
    assert "401" in info.value.message and "Incorrect API key" in info.value.message
    assert info.value.code == "completion_request_error"


async def test_error_frame_midstream_becomes_provider_error(
    fake_openai: tuple[FakeOpenAI, str],
) -> None:
    _, url = fake_openai
    with pytest.raises(ProviderError, match="model crashed"):
        await collect(OpenAICompatLLM(url, None, "broken"), user("hi"))


async def test_unreachable_server_becomes_provider_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    with pytest.raises(ProviderError, match="Cannot reach"):
        await collect(OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", None, "echo"), user("hi"))


async def test_closing_the_stream_disconnects_from_server(
    fake_openai: tuple[FakeOpenAI, str],
) -> None:
    fake, url = fake_openai
    llm = OpenAICompatLLM(url, None, "slow")
    stream = llm.stream(user("go"))
    assert (await anext(stream)).text == "tick "
    await stream.aclose()
    await llm.aclose()
    await asyncio.wait_for(fake.disconnected.wait(), timeout=5)


async def test_embedder_orders_rows_by_index(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    embedder = OpenAICompatEmbedder(url, "k", "text-embedding-3-small")
    assert await embedder.embed(["a", "bbb"]) == [[1.0, 0.0], [3.0, 1.0]]
    assert fake.requests[0] == {"model": "text-embedding-3-small", "input": ["a", "bbb"]}
    assert await embedder.embed([]) == []
    await embedder.aclose()
