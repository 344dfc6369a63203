"""tool: parameter binding (variable / mixed / constant, v1 and v2 configurations),
runtime messages to outputs, and the clear "not configured" failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import tool
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeContext,
    NodeResult,
    StreamChunk,
    ToolCaller,
)
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.fake import FakeRegistry

PERPLEXITY = {  # loop-perplexity-search.yml (tool_node_version 2)
    "type": "tool",
    "title": "Perplexity Search",
    "provider_id": "langgenius/perplexity/perplexity",
    "provider_name": "langgenius/perplexity/perplexity",
    "provider_type": "builtin",
    "tool_name": "perplexity",
    "tool_label": "Perplexity Search",
    "tool_node_version": "2",
    "tool_configurations": {
        "model": {"type": "constant", "value": "sonar"},
        "top_k": {"type": "constant", "value": 5},
    },
    "tool_parameters": {
        "query": {"type": "mixed", "value": "Dify.AI {{#loop1.year#}}"},
        "file": {"type": "variable", "value": ["start", "doc"]},
    },
}


class ScriptedTools:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def invoke(
        self,
        provider: str,
        tool_name: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[Any]:
        self.calls.append((provider, tool_name, dict(parameters)))
        self.caller = caller
        for message in self.messages:
            yield message


def _ctx(tools: ScriptedTools | None) -> NodeContext:
    pool = VariablePool()
    pool.set("loop1", "year", 2024)
    doc = File(type="document", transfer_method="local_file", id="f1", filename="a.pdf")
    pool.set("start", "doc", doc)
    services = EngineServices(models=FakeRegistry(), limits=EngineLimits(), tools=tools)
    return NodeContext("tool1", pool, services)


async def test_binds_parameters_and_maps_messages() -> None:
    image = File(type="image", transfer_method="tool_file", id="img", filename="x.png")
    tools = ScriptedTools(
        ["Dify ", "in 2024", image, {"hits": 3}, {"variable": "score", "value": 0.9}]
    )
    config = tool.Config.model_validate(PERPLEXITY)
    events = [e async for e in tool.run(_ctx(tools), config)]
    ((provider, name, params),) = tools.calls
    assert (provider, name) == ("langgenius/perplexity/perplexity", "perplexity")
    assert params["query"] == "Dify.AI 2024" and params["model"] == "sonar"
    assert params["top_k"] == 5 and params["file"].id == "f1"
    chunks = [e for e in events if isinstance(e, StreamChunk)]
    assert [c.text for c in chunks] == ["Dify ", "in 2024"]
    assert chunks[0].selector == ("tool1", "text")
    result = events[-1]
    assert isinstance(result, NodeResult)
    assert result.outputs["text"] == "Dify in 2024"
    assert result.outputs["files"] == [image] and result.outputs["json"] == [{"hits": 3}]
    assert result.outputs["score"] == 0.9
    assert result.inputs["file"]["dify_model_identity"] == "__dify__file__"


async def test_v1_raw_configurations() -> None:
    tools = ScriptedTools(["ok"])
    config = tool.Config.model_validate(
        {
            "provider_id": "google_translate",
            "provider_type": "builtin",
            "tool_name": "translate",
            "tool_configurations": {"dest": "en", "config_options": None},
            "tool_parameters": {"content": {"type": "constant", "value": "hola"}},
        }
    )
    [_ async for _ in tool.run(_ctx(tools), config)]
    assert tools.calls[0][2] == {"dest": "en", "config_options": None, "content": "hola"}


async def test_fails_clearly_without_a_tool_runtime() -> None:
    config = tool.Config.model_validate(PERPLEXITY)
    with pytest.raises(
        NodeError, match="tool provider 'langgenius/perplexity/perplexity' is not configured"
    ):
        [_ async for _ in tool.run(_ctx(None), config)]
