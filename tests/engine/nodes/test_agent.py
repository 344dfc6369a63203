"""agent: the function-calling loop over the model and the tool runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import agent
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult, StreamChunk
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import LLMChunk, LLMRequest, ToolCall, Usage
from chatflow.providers.fake import FakeRegistry


def _node(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {  # shaped like smart-study-planner.yml
        "type": "agent",
        "title": "Agent",
        "agent_strategy_name": "function_calling",
        "agent_strategy_provider_name": "langgenius/agent/agent",
        "agent_parameters": {
            "instruction": {"type": "constant", "value": "Help with {{#start.topic#}}"},
            "model": {
                "type": "constant",
                "value": {
                    "mode": "chat",
                    "model": "m1",
                    "provider": "langgenius/x/x",
                    "completion_params": {},
                    "type": "model-selector",
                },
            },
            "query": {"type": "constant", "value": "{{#sys.query#}}"},
            "tools": {"type": "constant", "value": tools},
        },
    }


SEARCH = {
    "enabled": True,
    "provider_name": "langgenius/google/google",
    "tool_name": "google_search",
    "type": "builtin",
    "extra": {"description": "web search"},
    "parameters": {"query": {"auto": 1, "value": None}, "lang": {"auto": 0, "value": "en"}},
    "schemas": [
        {
            "form": "llm",
            "name": "query",
            "type": "string",
            "required": True,
            "llm_description": "key words",
        }
    ],
}


class ToolThenAnswer:
    """First asks for the search tool, then answers using the observation."""

    model = "scripted"

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        if len(self.requests) == 1:
            yield LLMChunk(tool_calls=(ToolCall("c1", "google_search", '{"query": "rust"}'),))
        else:
            yield LLMChunk(text="Rust is great")
        yield LLMChunk(usage=Usage(prompt_tokens=5, completion_tokens=2), finish_reason="stop")


class Tools:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def invoke(
        self, provider: str, tool_name: str, parameters: Mapping[str, Any]
    ) -> AsyncIterator[Any]:
        self.calls.append((provider, tool_name, dict(parameters)))
        yield "result: rust-lang.org"


def _ctx(llm: Any, tools: Tools | None) -> NodeContext:
    pool = VariablePool(system={"query": "what is rust?"})
    pool.set("start", "topic", "programming")
    services = EngineServices(models=FakeRegistry(llm), limits=EngineLimits(), tools=tools)
    return NodeContext("ag", pool, services)


async def test_calls_tool_then_answers() -> None:
    llm, tools = ToolThenAnswer(), Tools()
    config = agent.Config.model_validate(_node([SEARCH]))
    events = [e async for e in agent.run(_ctx(llm, tools), config)]
    assert tools.calls == [
        ("langgenius/google/google", "google_search", {"lang": "en", "query": "rust"})
    ]
    first = llm.requests[0]
    assert first.messages[0].content == "Help with programming"
    assert first.messages[-1].content == "what is rust?"
    assert first.tools[0].parameters["required"] == ["query"]
    assert "rust-lang.org" in llm.requests[1].messages[-1].content
    assert [e.text for e in events if isinstance(e, StreamChunk)] == ["Rust is great"]
    result = events[-1]
    assert isinstance(result, NodeResult) and result.outputs["text"] == "Rust is great"
    assert result.outputs["usage"]["total_tokens"] == 14


async def test_no_tools_is_a_plain_answer_and_missing_runtime_fails() -> None:
    config = agent.Config.model_validate(_node([]))
    events = [e async for e in agent.run(_ctx(FakeRegistry().fake, None), config)]
    result = events[-1]
    assert isinstance(result, NodeResult) and result.outputs["text"] == "Hello world!"
    with pytest.raises(
        NodeError, match="tool provider 'langgenius/google/google' is not configured"
    ):
        [
            _
            async for _ in agent.run(
                _ctx(ToolThenAnswer(), None), agent.Config.model_validate(_node([SEARCH]))
            )
        ]
