"""Model provider protocols shared by every backend (embedded, OpenAI-compatible, fake).

The engine talks to models only through these protocols. Cancellation is part of the
contract: when the consumer stops iterating `LLM.stream` (task cancelled or `aclose()`),
the backend must stop generating promptly and free its slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "required", "none"]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image for vision-capable backends: a data: URL or an http(s) URL."""

    url: str
    detail: Literal["low", "high", "auto"] = "auto"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI returns it


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    images: tuple[ImagePart, ...] = ()
    name: str | None = None
    tool_call_id: str | None = None
    # An assistant turn that called tools; the answers follow as `tool` messages.
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call (parameter-extractor, question-classifier, agents)."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(slots=True)
class Usage:
    """Token usage in Dify's 12-field shape (prices are Decimals, serialised as strings)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_unit_price: Decimal = Decimal("0")
    prompt_price_unit: Decimal = Decimal("0")
    prompt_price: Decimal = Decimal("0")
    completion_unit_price: Decimal = Decimal("0")
    completion_price_unit: Decimal = Decimal("0")
    completion_price: Decimal = Decimal("0")
    currency: str = "USD"
    latency: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def total_price(self) -> Decimal:
        return self.prompt_price + self.completion_price

    def plus(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            prompt_unit_price=other.prompt_unit_price or self.prompt_unit_price,
            prompt_price_unit=other.prompt_price_unit or self.prompt_price_unit,
            prompt_price=self.prompt_price + other.prompt_price,
            completion_unit_price=other.completion_unit_price or self.completion_unit_price,
            completion_price_unit=other.completion_price_unit or self.completion_price_unit,
            completion_price=self.completion_price + other.completion_price,
            currency=other.currency or self.currency,
            latency=self.latency + other.latency,
        )

    def to_dict(self) -> dict[str, Any]:
        """Dify's wire shape: all 12 fields, prices as strings."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "prompt_unit_price": str(self.prompt_unit_price),
            "prompt_price_unit": str(self.prompt_price_unit),
            "prompt_price": str(self.prompt_price),
            "completion_tokens": self.completion_tokens,
            "completion_unit_price": str(self.completion_unit_price),
            "completion_price_unit": str(self.completion_price_unit),
            "completion_price": str(self.completion_price),
            "total_tokens": self.total_tokens,
            "total_price": str(self.total_price),
            "currency": self.currency,
            "latency": round(self.latency, 3),
        }


@dataclass(frozen=True, slots=True)
class LLMChunk:
    """One streamed piece. The last chunk of a stream carries `usage` and `finish_reason`."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: Sequence[ChatMessage]
    # DSL completion_params (temperature, top_p, max_tokens, ...), passed through as given.
    params: Mapping[str, Any] = field(default_factory=dict)
    stop: Sequence[str] = ()
    tools: Sequence[ToolSpec] = ()
    # "auto" (the model decides), "required" (it must call a tool) or "none".
    tool_choice: ToolChoice = "auto"
    # "json_object" etc. when the DSL asks for structured output.
    response_format: str | None = None
    # The JSON schema structured output must follow (backends constrain decoding to it).
    json_schema: Mapping[str, Any] | None = None


class LLM(Protocol):
    """A chat model. `stream` yields text deltas and ends with a chunk carrying usage."""

    @property
    def model(self) -> str: ...

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]: ...


@runtime_checkable
class ContextWindow(Protocol):
    """A model that knows its context size and counts prompt tokens (optional for a
    backend: without it nothing is trimmed and the backend reports an overflow itself)."""

    @property
    def context_size(self) -> int | None: ...

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int: ...


class Embedder(Protocol):
    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class ModelRegistry(Protocol):
    """Maps a DSL model reference (provider name, model name) to a configured backend."""

    def llm(self, provider: str, model: str) -> LLM: ...

    def embedder(self) -> Embedder: ...
