"""OpenAI-compatible HTTP backend: OpenAI, vLLM, Ollama, llama.cpp server, LM Studio...

`OpenAICompatLLM` streams `POST {base_url}/chat/completions` (SSE, with
`stream_options.include_usage`), sends tools as functions with `tool_choice`, earlier
calls as assistant `tool_calls` and their results as `tool` messages, images as
`image_url` content parts, and reassembles streamed tool-call fragments (several calls
in one reply: parallel calls). When the operator gives the model's context size, the
engine trims prompts to it; tokens are then estimated (no tokenizer of the remote model
is available here), conservatively. `OpenAICompatEmbedder`
calls `POST {base_url}/embeddings`. Every HTTP or network failure becomes a
`ProviderError` naming the backend and its answer.

Cancellation: leaving the stream closes the HTTP response, so the server sees the
client go away and stops generating. httpx clients are bound to an event loop, so one
client is kept per running loop.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import httpx

from chatflow.errors import ProviderError
from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolCall, ToolSpec, Usage

# DSL completion_params that OpenAI-style servers accept; others (Dify UI-only keys) are dropped.
_PASSED_PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty",
    "frequency_penalty", "seed", "logit_bias", "reasoning_effort", "top_k",
)  # fmt: skip


class _Clients:
    """One `httpx.AsyncClient` per running event loop, sharing base URL and auth."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float, transport: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout, connect=10.0)
        self._transport = transport
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
            )
            self._by_loop[loop] = client
        return client

    async def aclose(self) -> None:
        client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _error(base_url: str, exc: Exception) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"OpenAI-compatible backend at {base_url} timed out: {exc!r}")
    return ProviderError(f"Cannot reach OpenAI-compatible backend at {base_url}: {exc!r}")


async def _raise_for_status(base_url: str, response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body = (await response.aread()).decode(errors="replace")
    detail = body[:500]
    try:
        error = json.loads(body).get("error")
        detail = error.get("message", detail) if isinstance(error, dict) else str(error or detail)
    except (ValueError, AttributeError):
        pass
    raise ProviderError(
        f"OpenAI-compatible backend at {base_url} answered {response.status_code}: {detail}"
    )


def message_body(message: ChatMessage) -> dict[str, Any]:
    """One message in OpenAI's shape; images become `image_url` content parts."""
    content: Any = message.content
    if message.images:
        content = [{"type": "text", "text": message.content}] if message.content else []
        content += [
            {"type": "image_url", "image_url": {"url": image.url, "detail": image.detail}}
            for image in message.images
        ]
    body: dict[str, Any] = {"role": message.role, "content": content}
    if message.name and message.role != "tool":
        body["name"] = message.name
    if message.tool_call_id:
        body["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        body["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for call in message.tool_calls
        ]
    return body


def estimate_tokens(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
    """A conservative token count for a model whose tokenizer is unknown: a token per
    3 bytes of UTF-8 (BPE tokenizers average ~4 for English; CJK is ~3 per character)
    plus the per-message framing chat templates add."""
    size = sum(len(m.content.encode()) + 8 for m in messages)
    size += sum(len(json.dumps(dict(t.parameters)).encode()) + len(t.name) for t in tools)
    size += sum(len(c.arguments.encode()) + len(c.name) for m in messages for c in m.tool_calls)
    return size // 3 + 4 * len(messages) + 1


def _response_format(request: LLMRequest) -> dict[str, Any] | None:
    if request.json_schema is not None:
        return {
            "type": "json_schema",
            "json_schema": {"name": "structured_output", "schema": dict(request.json_schema)},
        }
    if request.response_format == "json_schema" and request.params.get("json_schema"):
        schema = request.params["json_schema"]
        return {
            "type": "json_schema",
            "json_schema": json.loads(schema) if isinstance(schema, str) else schema,
        }
    if request.response_format:
        return {"type": request.response_format}
    return None


class OpenAICompatLLM:
    """A chat model behind an OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        context_size: int | None = None,
    ) -> None:
        self._clients = _Clients(base_url, api_key, timeout, transport)
        self._model = model
        self._context_size = context_size

    @property
    def model(self) -> str:
        return self._model

    @property
    def context_size(self) -> int | None:
        """The operator's `openai_context_size`; None: the server checks on its own."""
        return self._context_size

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int:
        return estimate_tokens(messages, tools)

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [message_body(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update({k: request.params[k] for k in _PASSED_PARAMS if k in request.params})
        if request.stop:
            body["stop"] = list(request.stop)
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": dict(tool.parameters),
                    },
                }
                for tool in request.tools
            ]
            body["tool_choice"] = request.tool_choice
        if (response_format := _response_format(request)) is not None:
            body["response_format"] = response_format
        return body

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        started = time.perf_counter()
        base_url = self._clients.base_url
        finish_reason: str | None = None
        usage: Usage | None = None
        calls: dict[int, dict[str, str]] = {}  # tool-call fragments by index
        try:
            async with self._clients.get().stream(
                "POST", "/chat/completions", json=self._body(request)
            ) as response:
                await _raise_for_status(base_url, response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:
                        error = chunk["error"]
                        message = error.get("message") if isinstance(error, dict) else error
                        raise ProviderError(f"OpenAI-compatible backend error: {message}")
                    if chunk.get("usage"):
                        usage = Usage(
                            prompt_tokens=int(chunk["usage"].get("prompt_tokens") or 0),
                            completion_tokens=int(chunk["usage"].get("completion_tokens") or 0),
                        )
                    for choice in chunk.get("choices") or ():
                        finish_reason = choice.get("finish_reason") or finish_reason
                        delta = choice.get("delta") or {}
                        _merge_tool_calls(calls, delta.get("tool_calls") or ())
                        if delta.get("content"):
                            yield LLMChunk(text=delta["content"])
        except httpx.HTTPError as exc:
            raise _error(base_url, exc) from exc
        except ValueError as exc:  # malformed JSON in an SSE frame
            raise ProviderError(f"Bad stream from {base_url}: {exc}") from exc
        if calls:
            yield LLMChunk(
                tool_calls=tuple(
                    ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"] or "{}")
                    for _, c in sorted(calls.items())
                )
            )
        usage = usage or Usage()
        usage.latency = time.perf_counter() - started
        yield LLMChunk(usage=usage, finish_reason=finish_reason or "stop")


def _merge_tool_calls(
    calls: dict[int, dict[str, str]], deltas: Sequence[Mapping[str, Any]]
) -> None:
    """OpenAI streams a tool call as fragments: id and name once, arguments in pieces."""
    for delta in deltas:
        call = calls.setdefault(
            int(delta.get("index", len(calls))), {"id": "", "name": "", "arguments": ""}
        )
        function = delta.get("function") or {}
        call["id"] = delta.get("id") or call["id"]
        call["name"] = call["name"] or function.get("name") or ""
        call["arguments"] += function.get("arguments") or ""


class OpenAICompatEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._clients = _Clients(base_url, api_key, timeout, transport)
        self.model = model

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        base_url = self._clients.base_url
        try:
            response = await self._clients.get().post(
                "/embeddings", json={"model": self.model, "input": list(texts)}
            )
            await _raise_for_status(base_url, response)
            rows = sorted(response.json()["data"], key=lambda row: row["index"])
        except httpx.HTTPError as exc:
            raise _error(base_url, exc) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"Bad embeddings answer from {base_url}: {exc!r}") from exc
        return [[float(v) for v in row["embedding"]] for row in rows]
