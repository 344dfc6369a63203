"""An agent node (Dify's `langgenius/agent` function_calling strategy) whose model is
SmolLM2 behind a real llama.cpp server (`tests/providers/llamacpp_server.py`), reached
through the configured `openai` backend, calling the real built-in time tool. The model
fills the tool's `timezone` itself: its streamed call's arguments reach the tool, the
tool's answer goes back as a tool message, and the model answers in text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from chatflow.engine.events import AgentLog
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import agent
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult, StreamChunk
from chatflow.engine.variables import VariablePool
from chatflow.providers.registry import build_registry
from chatflow.settings import Settings
from chatflow.tools.catalog import builtin_providers
from chatflow.tools.registry import ToolRegistry
from chatflow.tools.runtime import ToolRuntimeService
from tests.providers.llamacpp_server import tool_server

pytestmark = pytest.mark.embedded

TIME_TOOL = {  # the model fills `timezone`; `format` is fixed, as a DSL author may set it
    "enabled": True,
    "provider_name": "langgenius/time/time",
    "tool_name": "current_time",
    "type": "builtin",
    "parameters": {"timezone": {"auto": 1, "value": None}, "format": {"auto": 0, "value": ""}},
    "schemas": [{"form": "llm", "name": "timezone", "type": "string", "required": False,
                 "llm_description": "IANA timezone name"}],
}  # fmt: skip
NODE = {
    "type": "agent",
    "title": "Agent",
    "agent_strategy_provider_name": "langgenius/agent/agent",
    "agent_strategy_name": "function_calling",
    "agent_parameters": {
        name: {"type": "constant", "value": value}
        for name, value in {
            "instruction": "You tell the time. Use the tools.",
            "model": {"mode": "chat", "model": "gpt-4o-mini", "provider": "openai",
                      "completion_params": {"max_tokens": 64}, "type": "model-selector"},
            "query": "{{#sys.query#}}",
            "tools": [TIME_TOOL],
            "maximum_iterations": 3,
        }.items()
    },
}  # fmt: skip


async def test_the_agent_calls_the_time_tool_with_the_models_arguments() -> None:
    base_url, key = tool_server()
    settings = Settings(
        model_backend="openai", openai_base_url=base_url, openai_api_key=key,
        openai_model="smollm2",
    )  # fmt: skip
    services = EngineServices(
        models=build_registry(settings),
        limits=EngineLimits(),
        tools=ToolRuntimeService(ToolRegistry(builtin_providers(settings))),
    )
    pool = VariablePool(system={"query": "What time is it in London?", "user_id": "u",
                                "app_id": "a", "conversation_id": "c"})  # fmt: skip
    context = NodeContext("agent", pool, services, execution_id="x")
    events: list[Any] = [e async for e in agent.run(context, agent.Config.model_validate(NODE))]
    calls = [e for e in events if isinstance(e, AgentLog) and e.label == "CALL current_time"]
    done = calls[-1].data["output"]
    assert calls[-1].status == "success"
    assert done["tool_call_input"]["timezone"] == "Europe/London"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (GMT|BST)", done["tool_response"])
    rounds = [e.label for e in events if isinstance(e, AgentLog) and e.status == "start"]
    assert [label for label in rounds if label.startswith("ROUND")] == ["ROUND 1", "ROUND 2"]
    result = events[-1]
    assert isinstance(result, NodeResult)
    answer = "".join(e.text for e in events if isinstance(e, StreamChunk))
    assert answer.strip() and result.outputs["text"] == answer
