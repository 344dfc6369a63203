"""Builders for node tests: a `NodeContext` over a real `VariablePool`, a recording model.

Node tests call a module's `run(ctx, config)` directly:

    ctx = make_ctx(nodes={"start": {"name": "Ada"}}, system={"query": "hi"})
    result, chunks = await run_node(if_else, ctx, {...DSL data...})
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeContext,
    NodeEvent,
    NodeResult,
    Turn,
)
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import LLMChunk, LLMRequest, Usage


class RecordingLLM:
    """Streams `tokens`, records every request, and notes when its stream is closed.

    `hang=True` makes the stream wait forever after the tokens (to test cancellation).
    """

    def __init__(
        self,
        tokens: Sequence[str] = ("Hello", " world"),
        *,
        usage: Usage | None = None,
        finish_reason: str = "stop",
        hang: bool = False,
    ) -> None:
        self.tokens = list(tokens)
        self.usage = usage if usage is not None else Usage(prompt_tokens=7, completion_tokens=2)
        self.finish_reason = finish_reason
        self.hang = hang
        self.requests: list[LLMRequest] = []
        self.closed = asyncio.Event()
        self.started = asyncio.Event()

    @property
    def model(self) -> str:
        return "recording"

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        try:
            for token in self.tokens:
                await asyncio.sleep(0)
                yield LLMChunk(text=token)
                self.started.set()
            if self.hang:
                await asyncio.Event().wait()
            yield LLMChunk(usage=self.usage, finish_reason=self.finish_reason)
        finally:
            self.closed.set()

    @property
    def request(self) -> LLMRequest:
        assert len(self.requests) == 1
        return self.requests[0]


class Models:
    """A `ModelRegistry` that hands out one LLM and remembers what was asked for."""

    def __init__(self, llm: Any = None) -> None:
        self.fake = llm if llm is not None else RecordingLLM()
        self.asked: list[tuple[str, str]] = []

    def llm(self, provider: str, model: str) -> Any:
        self.asked.append((provider, model))
        return self.fake

    def embedder(self) -> Any:
        raise AssertionError("these node tests never embed")


@pytest.fixture
def models() -> Callable[..., Models]:
    """`models(["tok", ...], hang=False)`: a registry around a fresh `RecordingLLM`;
    `models(llm=obj)` wraps any LLM."""

    def make(tokens: Sequence[str] = ("Hello", " world"), *, llm: Any = None, **kw: Any) -> Models:
        return Models(llm if llm is not None else RecordingLLM(tokens, **kw))

    return make


@pytest.fixture
def make_ctx() -> Callable[..., NodeContext]:
    def make(
        *,
        node_id: str = "node",
        nodes: Mapping[str, Mapping[str, Any]] | None = None,
        system: Mapping[str, Any] | None = None,
        conversation: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        history: Sequence[Turn] = (),
        models: Models | None = None,
        limits: EngineLimits | None = None,
        app_mode: str = "advanced-chat",
        file_reader: Callable[[Any], Awaitable[bytes]] | None = None,
    ) -> NodeContext:
        pool = VariablePool(system=system, environment=environment, conversation=conversation)
        for node, outputs in (nodes or {}).items():
            pool.set_outputs(node, outputs)
        services = EngineServices(
            models=models if models is not None else Models(),
            limits=limits if limits is not None else EngineLimits(),
            file_reader=file_reader,
        )
        return NodeContext(node_id, pool, services, history=history, app_mode=app_mode)

    return make


RunNode = Callable[..., Awaitable[tuple[NodeResult, list[NodeEvent]]]]


@pytest.fixture
def run_node() -> RunNode:
    """Validate `data` with the module's Config, run it, split off the final NodeResult."""

    async def run(
        module: ModuleType, ctx: NodeContext, data: Mapping[str, Any]
    ) -> tuple[NodeResult, list[NodeEvent]]:
        node_type = module.TYPE if isinstance(module.TYPE, str) else module.TYPE[0]
        config = module.Config.model_validate({"type": node_type, **data})
        # The run a DSL import would pick for this config (`NodeSpec.run_of`).
        run_for = getattr(module, "run_for", None)
        run = (module.run if run_for is None else run_for(config))(ctx, config)
        if isinstance(run, NodeResult):  # an instant node
            return run, []
        events = [event async for event in run]
        assert events and isinstance(events[-1], NodeResult)
        assert not any(isinstance(e, NodeResult) for e in events[:-1])
        return events[-1], events[:-1]

    return run


def image(name: str = "cat.png", **fields: Any) -> File:
    values: dict[str, Any] = {
        "type": "image",
        "transfer_method": "remote_url",
        "url": f"https://example.com/{name}",
        "filename": name,
        "extension": ".png",
        "mime_type": "image/png",
        "size": 1024,
    }
    values.update(fields)
    return File(**values)


@pytest.fixture
def file_factory() -> Callable[..., File]:
    return image
