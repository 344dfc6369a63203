"""agent: the function-calling loop over the model and the tool runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from chatflow.engine.events import AgentLog
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


def _ctx(llm: Any, tools: Any) -> NodeContext:
    pool = VariablePool(system={"query": "what is rust?"})
    pool.set("start", "topic", "programming")
    services = EngineServices(models=FakeRegistry(llm), limits=EngineLimits(), tools=tools)
    return NodeContext("ag", pool, services, execution_id="exec-1")


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
    # Dify's strategy writes a newline after a round's tool calls, then the answer.
    assert [e.text for e in events if isinstance(e, StreamChunk)] == ["\n", "Rust is great"]
    result = events[-1]
    assert isinstance(result, NodeResult) and result.outputs["text"] == "\nRust is great"
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


async def test_agent_logs_rounds_thoughts_and_tool_calls() -> None:
    config = agent.Config.model_validate(_node([SEARCH]))
    events = [e async for e in agent.run(_ctx(ToolThenAnswer(), Tools()), config)]
    logs = [e for e in events if isinstance(e, AgentLog)]
    assert [(log.label, log.status) for log in logs] == [
        ("ROUND 1", "start"),
        ("m1 Thought", "start"),
        ("m1 Thought", "success"),
        ("CALL google_search", "start"),
        ("CALL google_search", "success"),
        ("ROUND 1", "success"),
        ("ROUND 2", "start"),
        ("m1 Thought", "start"),
        ("m1 Thought", "success"),
        ("ROUND 2", "success"),
    ]
    assert {(log.node_id, log.execution_id) for log in logs} == {("ag", "exec-1")}
    round1, thought, _, call, call_done, round1_done, round2 = logs[:7]
    # A step is sent twice under one id; thoughts and calls hang under their round.
    assert thought.id == logs[2].id and call.id == call_done.id and round1.id == round1_done.id
    assert round1.parent_id is None and round2.parent_id is None and round1.id != round2.id
    assert thought.parent_id == round1.id and call.parent_id == round1.id
    assert logs[7].parent_id == round2.id
    assert logs[2].data == {
        "output": "",
        "tool_name": "google_search",
        "tool_input": [{"name": "google_search", "args": {"query": "rust"}}],
    }
    assert thought.metadata["provider"] == "langgenius/x/x"
    assert call.metadata["provider"] == "langgenius/google/google"
    assert call_done.data == {
        "output": {
            "tool_call_id": "c1",
            "tool_call_name": "google_search",
            "tool_call_input": {"lang": "en", "query": "rust"},
            "tool_response": "result: rust-lang.org",
        }
    }
    assert call_done.error is None
    assert round1_done.data["output"]["tool_responses"] == [call_done.data["output"]]
    assert round1_done.metadata["total_tokens"] == 7
    assert round1_done.metadata["elapsed_time"] >= 0
    assert round1_done.metadata["started_at"] <= round1_done.metadata["finished_at"]
    assert logs[8].data["output"] == "Rust is great"
    assert logs[9].data == {"output": {"llm_response": "Rust is great", "tool_responses": []}}
    assert isinstance(events[-1], NodeResult)


class FailingTools:
    async def invoke(
        self, provider: str, tool_name: str, parameters: Mapping[str, Any]
    ) -> AsyncIterator[Any]:
        raise RuntimeError("quota exceeded")
        yield  # pragma: no cover - makes this an async generator


async def test_failing_tool_is_an_error_log_and_an_observation() -> None:
    llm = ToolThenAnswer()
    config = agent.Config.model_validate(_node([SEARCH]))
    events = [e async for e in agent.run(_ctx(llm, FailingTools()), config)]
    done = [e for e in events if isinstance(e, AgentLog) and e.label.startswith("CALL")][-1]
    assert (done.status, done.error) == ("error", "quota exceeded")
    assert done.data["output"]["tool_response"] == "tool invoke error: quota exceeded"
    assert "tool invoke error: quota exceeded" in llm.requests[1].messages[-1].content
    result = events[-1]
    assert isinstance(result, NodeResult) and result.outputs["text"] == "\nRust is great"
