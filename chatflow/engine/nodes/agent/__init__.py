"""The agent node (DSL type `agent`): a model that calls tools, as Dify's agent
strategy plugins run it.

Reads `agent_strategy_provider_name` / `agent_strategy_name` / `agent_parameters`
(bound as `variable`, `mixed` or `constant`): `model`, `tools` (with their settings),
`instruction`, `query`, `maximum_iterations` and, for `hjlarry/agent/mcp_agent`, the
`mcp_server` list (a URL, or a JSON object of named servers). Strategies:
`function_calling` (langgenius/agent and mcp_agent, `function_calling.py`) and `ReAct`
(`react.py`). `memory` adds the conversation's earlier turns. As it runs the node
sends Dify's `agent_log` steps; the answer streams as `text`. Outputs: `text`,
`usage`, `files`, `json`. A prompt that cannot fit the model's context fails the node
with `completion_request_error`; error strategies and retries apply as to any node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import to_json
from chatflow.engine.nodes._model_call import CHAT_APP_MODES
from chatflow.engine.nodes.agent import function_calling, react
from chatflow.engine.nodes.agent import tools as agent_tools
from chatflow.engine.nodes.agent.mcp_servers import parse_servers
from chatflow.engine.nodes.agent.strategy import Params, Result
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.nodes.llm.config import MemoryConfig, ModelConfig
from chatflow.engine.template import render, to_text
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage

__all__ = ["TYPE", "Config", "run"]

TYPE = "agent"

_STRATEGIES = {"function_calling": function_calling.run, "ReAct": react.run, "react": react.run}
_MCP_PROVIDER = "mcp_agent"  # hjlarry/agent/mcp_agent: function calling plus MCP servers
_DEFAULT_MAX_ITERATIONS = 3  # the strategies' default `maximum_iterations`
_MEMORY_LIMIT = 500  # Dify's cap on remembered messages


class AgentInput(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["variable", "mixed", "constant"] = "constant"
    value: Any = None


class Config(NodeConfig):
    agent_strategy_provider_name: str = ""
    agent_strategy_name: str = ""
    agent_strategy_label: str = ""
    agent_parameters: dict[str, AgentInput] = Field(default_factory=dict)
    plugin_unique_identifier: str | None = None
    output_schema: dict[str, Any] | None = None
    memory: MemoryConfig | None = None
    tool_node_version: str | None = None


def resolve(ctx: NodeContext, binding: AgentInput) -> Any:
    """Dify renders templates in both `mixed` and `constant` string parameters."""
    if binding.type == "variable":
        value = ctx.pool.get([str(step) for step in binding.value or []])
        return None if value is MISSING else value
    if isinstance(binding.value, str):
        return render(binding.value, ctx.pool)
    return binding.value


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    values = {name: resolve(ctx, binding) for name, binding in config.agent_parameters.items()}
    strategy = _STRATEGIES.get(config.agent_strategy_name)
    if strategy is None:
        raise NodeError(
            f"agent strategy '{config.agent_strategy_name}' of provider "
            f"'{config.agent_strategy_provider_name}' is not supported",
            node_id=ctx.node_id,
        )
    mcp = config.agent_strategy_provider_name.rstrip("/").endswith(_MCP_PROVIDER)
    tools = await agent_tools.dsl_tools(ctx, values.get("tools"))
    if mcp:
        servers = parse_servers(values.get("mcp_server"))
        tools += await agent_tools.mcp_tools(ctx, servers)
    params = Params(
        model=_model(ctx, values.get("model")),
        instruction=to_text(values.get("instruction")) if values.get("instruction") else "",
        query=to_text(values.get("query")) if values.get("query") is not None else "",
        tools=tools,
        maximum_iterations=_iterations(values.get("maximum_iterations")),
        history=_history(ctx, config),
        mcp_flavour=mcp,
    )
    result = Result()
    async for item in strategy(ctx, params):
        if isinstance(item, Result):
            result = item
        else:
            yield item
    yield NodeResult(
        outputs={
            "text": result.text,
            "usage": result.usage.to_dict(),
            "files": result.files,
            "json": result.json,
        },
        inputs={name: to_json(value) for name, value in values.items()},
        process_data={
            "strategy": config.agent_strategy_name,
            "strategy_provider": config.agent_strategy_provider_name,
            "model_name": params.model.name,
            "tools": [tool.name for tool in tools],
        },
        usage=result.usage,
    )


def _model(ctx: NodeContext, value: Any) -> ModelConfig:
    if not isinstance(value, Mapping) or not value.get("model"):
        raise NodeError("agent node has no model configured", node_id=ctx.node_id)
    return ModelConfig(
        provider=str(value.get("provider", "")),
        name=str(value["model"]),
        mode="completion" if value.get("mode") == "completion" else "chat",
        completion_params=dict(value.get("completion_params") or {}),
    )


def _iterations(value: Any) -> int:
    try:
        return max(int(value), 1) if value not in (None, "") else _DEFAULT_MAX_ITERATIONS
    except (TypeError, ValueError):
        return _DEFAULT_MAX_ITERATIONS


def _history(ctx: NodeContext, config: Config) -> list[ChatMessage]:
    """The remembered turns as user/assistant pairs (Dify: window of turns, or all)."""
    if config.memory is None or ctx.app_mode not in CHAT_APP_MODES:
        return []
    turns = [turn for turn in ctx.history if turn.answer]
    window = config.memory.window
    limit = _MEMORY_LIMIT
    if window.enabled and window.size and window.size > 0:
        limit = min(window.size, _MEMORY_LIMIT)
    messages: list[ChatMessage] = []
    for turn in turns[-limit:]:
        messages += [ChatMessage("user", turn.query), ChatMessage("assistant", turn.answer)]
    return messages
