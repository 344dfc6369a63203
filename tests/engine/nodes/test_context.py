"""Fitting prompts into the model's context (`_context.fit`) and the LLM node's memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import _context, llm
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult, Turn
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import ChatMessage, LLMChunk, LLMRequest, ToolSpec, Usage
from chatflow.providers.fake import FakeLLM, FakeRegistry


class Windowed:
    """A model with a context window where a token is a word."""

    model = "windowed"

    def __init__(self, size: int) -> None:
        self.context_size = size
        self.requests: list[LLMRequest] = []

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int:
        return sum(len(m.content.split()) for m in messages)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        yield LLMChunk(text="ok")
        yield LLMChunk(usage=Usage(prompt_tokens=1, completion_tokens=1), finish_reason="stop")


def _words(n: int, tag: str) -> ChatMessage:
    return ChatMessage("user", " ".join([tag] * n))


async def test_drops_groups_oldest_first_until_it_fits() -> None:
    model = Windowed(100)
    messages = [_words(10, "sys"), _words(30, "old"), _words(30, "mid"), _words(20, "now")]
    kept, params = await _context.fit(
        model, messages, {"max_tokens": 30}, droppable=[range(1, 2), range(2, 3)]
    )
    assert [m.content.split()[0] for m in kept] == ["sys", "mid", "now"]
    assert params["max_tokens"] == 30


async def test_unknown_context_changes_nothing() -> None:
    messages = [_words(10_000, "x")]
    kept, params = await _context.fit(FakeLLM(["a"]), messages, {"max_tokens": 5})
    assert kept == messages and params == {"max_tokens": 5}


async def test_overflow_names_the_sizes() -> None:
    with pytest.raises(_context.ContextOverflow) as failure:
        await _context.fit(Windowed(100), [_words(90, "x")], {"max_tokens": 30})
    error = failure.value
    assert (error.prompt_tokens, error.budget.context_size, error.budget.max_tokens) == (
        90,
        100,
        30,
    )
    assert error.error_type == "completion_request_error"
    assert "needs 90 tokens" in error.message and "context is 100 tokens" in error.message


async def test_a_huge_max_tokens_shrinks_instead_of_failing_a_short_prompt() -> None:
    kept, params = await _context.fit(Windowed(1000), [_words(10, "x")], {"max_tokens": 5000})
    assert len(kept) == 1 and params["max_tokens"] <= 990


def _llm_node(memory: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "llm",
        "model": {
            "provider": "p",
            "name": "m",
            "mode": "chat",
            "completion_params": {"max_tokens": 20},
        },
        "prompt_template": [{"role": "system", "text": "You help."}],
        "memory": memory,
    }


async def test_llm_node_trims_its_memory_to_the_context() -> None:
    model = Windowed(100)
    pool = VariablePool(system={"query": "latest question"})
    history = [Turn(" ".join([f"q{i}"] * 15), f"a{i}") for i in range(5)]
    ctx = NodeContext(
        "llm1",
        pool,
        EngineServices(models=FakeRegistry(model), limits=EngineLimits()),  # type: ignore[arg-type]
        history=history,
    )
    config = llm.Config.model_validate(_llm_node({"window": {"enabled": False}}))
    events = [e async for e in llm.run(ctx, config)]
    assert isinstance(events[-1], NodeResult)
    sent = [m.content.split()[0] for m in model.requests[0].messages]
    # 100 - 20 = 80 words: the system prompt, the newest turns whole, the question.
    assert sent[0] == "You" and sent[-1] == "latest"
    assert "q0" not in sent and "q4" in sent
    assert sent.index("q4") == sent.index("a4") - 1  # a turn goes whole or not at all
    assert sum(len(m.content.split()) for m in model.requests[0].messages) <= 80


async def test_llm_node_fails_with_completion_request_error_when_it_cannot_fit() -> None:
    from chatflow.errors import NodeError

    pool = VariablePool(system={"query": "word " * 200})
    ctx = NodeContext(
        "llm1",
        pool,
        EngineServices(models=FakeRegistry(Windowed(100)), limits=EngineLimits()),  # type: ignore[arg-type]
    )
    config = llm.Config.model_validate(_llm_node({"window": {"enabled": False}}))
    with pytest.raises(NodeError) as failure:
        [e async for e in llm.run(ctx, config)]
    assert failure.value.error_type == "completion_request_error"
    assert "context is 100 tokens" in str(failure.value)


async def test_structured_output_asks_the_backend_to_constrain_to_the_schema() -> None:
    model = Windowed(10_000)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    data = {
        **_llm_node({"window": {"enabled": False}}),
        "structured_output_enabled": True,
        "structured_output": {"schema": schema},
    }
    data.pop("memory")
    ctx = NodeContext(
        "llm1",
        VariablePool(system={"query": "q"}),
        EngineServices(models=FakeRegistry(model), limits=EngineLimits()),  # type: ignore[arg-type]
    )
    with pytest.raises(Exception, match="structured output"):  # "ok" is not JSON
        [e async for e in llm.run(ctx, llm.Config.model_validate(data))]
    assert model.requests[0].json_schema == schema


async def test_a_short_prompt_is_not_counted() -> None:
    class Counting(Windowed):
        counted = 0

        async def count_tokens(
            self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
        ) -> int:
            self.counted += 1
            return await super().count_tokens(messages, tools)

    model = Counting(8192)
    await _context.fit(model, [_words(20, "short")], {"max_tokens": 100})
    assert model.counted == 0
    await _context.fit(model, [_words(2000, "long")], {"max_tokens": 100})
    assert model.counted == 1
