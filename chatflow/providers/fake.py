"""Deterministic fake model backend for tests and benchmarks.

`FakeLLM` streams a fixed list of tokens (each one a delta), then a final chunk with
`Usage` and `finish_reason`. When the request offers tools it answers with exactly one
tool call instead of text:

- `tool_call=(name, arguments)` given: that call (arguments serialised as JSON);
- otherwise: the first offered tool, with arguments built from its JSON schema
  (`default` if present, else the first `enum` value, else an empty value of the
  declared type: "" / 0 / false / [] / {} with object properties filled recursively).

Usage is reproducible: prompt tokens = number of whitespace-separated words across all
messages, completion tokens = number of tokens streamed (1 for a tool call).

`FakeRegistry` sends every (provider, model) to one `FakeLLM` and embeds with
`HashingEmbedder`, a hashed bag-of-words (stable across processes, L2-normalised), so
texts that share words get a positive cosine similarity.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, ToolSpec, Usage

# Yield to the event loop every N tokens when there is no delay, so a long instant
# stream cannot starve parallel branches (and stays cancellable).
_YIELD_EVERY = 64
_WORD = re.compile(r"\w+", re.UNICODE)


def count_words(text: str) -> int:
    """The fake's token count: whitespace-separated words."""
    return len(text.split())


def schema_placeholder(schema: Mapping[str, Any]) -> Any:
    """A value that satisfies a simple JSON schema: default, first enum, or empty of its type."""
    if "default" in schema:
        return schema["default"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {name: schema_placeholder(sub) for name, sub in props.items()}
    empty: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False}
    if kind == "array":
        return []
    return empty.get(str(kind))


class FakeLLM:
    """Streams `tokens` with `delay` seconds between them; instant when `delay` is 0."""

    def __init__(
        self,
        tokens: Sequence[str],
        delay: float = 0.0,
        model: str = "fake",
        *,
        tool_call: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._model = model
        self.delay = delay
        self.tokens = tuple(tokens)
        self.tool_call = tool_call
        # Pre-built chunks: the benchmark path allocates nothing per token.
        self._chunks = tuple(LLMChunk(text=token) for token in self.tokens)
        self.calls = 0  # how many streams were started (tests assert on it)

    @property
    def model(self) -> str:
        return self._model

    def _tool_call_for(self, tools: Sequence[ToolSpec]) -> ToolCall:
        if self.tool_call is not None:
            name, arguments = self.tool_call
        else:
            name = tools[0].name
            arguments = schema_placeholder(tools[0].parameters) or {}
        return ToolCall(id=f"call_fake_{self.calls}", name=name, arguments=json.dumps(arguments))

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.calls += 1
        started = time.perf_counter()
        prompt_tokens = sum(count_words(m.content) for m in request.messages)
        if request.tools:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield LLMChunk(tool_calls=(self._tool_call_for(request.tools),))
            latency = time.perf_counter() - started
            usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=1, latency=latency)
            yield LLMChunk(usage=usage, finish_reason="tool_calls")
            return

        chunks = self._chunks
        finish_reason = "stop"
        max_tokens = request.params.get("max_tokens")
        if isinstance(max_tokens, int) and 0 < max_tokens < len(chunks):
            chunks, finish_reason = chunks[:max_tokens], "length"
        delay = self.delay
        for index, chunk in enumerate(chunks):
            if delay:
                await asyncio.sleep(delay)
            elif index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            yield chunk
        latency = time.perf_counter() - started
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=len(chunks), latency=latency)
        yield LLMChunk(usage=usage, finish_reason=finish_reason)


class HashingEmbedder:
    """Hashed bag-of-words vectors: deterministic, offline, similar texts score higher."""

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in _WORD.findall(text.lower()):
            # blake2b, not hash(): Python's str hash changes per process.
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]


class FakeRegistry:
    """Every (provider, model) gets the same `FakeLLM`; embeddings from `HashingEmbedder`."""

    def __init__(
        self,
        llm: FakeLLM | None = None,
        *,
        tokens: Sequence[str] = ("Hello", " world", "!"),
        delay: float = 0.0,
        embedder: HashingEmbedder | None = None,
    ) -> None:
        self.fake = llm if llm is not None else FakeLLM(tokens, delay)
        self._embedder = embedder if embedder is not None else HashingEmbedder()

    def llm(self, provider: str, model: str) -> FakeLLM:
        return self.fake

    def embedder(self) -> HashingEmbedder:
        return self._embedder
