"""The agent node: a tool-using model loop, standing in for Dify's agent strategy plugins.

Parses Dify's agent node data (`agent_strategy_provider_name`, `agent_strategy_name`,
`agent_parameters` bound as `variable` / `mixed` / `constant` with the `model`,
`tools`, `instruction`, `query` and `maximum_iterations` parameters of the
function-calling and ReAct strategies). At run time it runs a function-calling loop:
the model may call the enabled tools (through `services.tools`) until it answers or
the iteration budget is spent. Tool results go back as user-visible observations,
since the chat protocol here carries no assistant tool-call field; a tool that fails
gives the model "tool invoke error: ..." instead of failing the node, as in Dify.
As it runs the node emits Dify's `agent_log` steps (`AgentLog`, see `_Logs`). Outputs:
`text` (streamed), `usage`, `files`, `json`. With tools listed but no tool runtime the
node fails with "tool provider 'X' is not configured".
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.events import AgentLog
from chatflow.engine.files import File, to_json
from chatflow.engine.nodes._model_call import CHAT_APP_MODES, complete
from chatflow.engine.nodes.base import (
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
    StreamChunk,
    ToolRuntime,
)
from chatflow.engine.nodes.llm.config import MemoryConfig, ModelConfig
from chatflow.engine.template import render, to_text
from chatflow.engine.variables import MISSING
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage, ToolCall, ToolSpec, Usage

TYPE = "agent"

_SUPPORTED_STRATEGIES = frozenset(("function_calling", "ReAct", "react"))
_DEFAULT_MAX_ITERATIONS = 3  # the strategies' default `maximum_iterations`


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
    params = {name: resolve(ctx, binding) for name, binding in config.agent_parameters.items()}
    if config.agent_strategy_name not in _SUPPORTED_STRATEGIES:
        raise NodeError(
            f"agent strategy '{config.agent_strategy_name}' of provider "
            f"'{config.agent_strategy_provider_name}' is not supported"
        )
    model = _model(params.get("model"))
    tools = [
        t for t in params.get("tools") or [] if isinstance(t, Mapping) and t.get("enabled", True)
    ]
    runtime = ctx.services.tools
    if tools and runtime is None:
        raise NodeError(f"tool provider '{tools[0].get('provider_name', '')}' is not configured")
    specs = tuple(_spec(tool) for tool in tools)
    messages = _messages(ctx, config, params)
    budget = int(params.get("maximum_iterations") or _DEFAULT_MAX_ITERATIONS)
    logs = _Logs(ctx)
    usage = Usage()
    files: list[File] = []
    json_items: list[Any] = []
    text = ""
    for round_index in range(max(budget, 1)):
        round_log = logs.start(f"ROUND {round_index + 1}")
        yield round_log
        thought = logs.start(f"{model.name} Thought", round_log, provider=model.provider)
        yield thought
        offer = specs if round_index < budget - 1 else ()  # the last round must answer
        reply = await complete(ctx, model, messages, offer)
        usage = usage.plus(reply.usage)
        calls = reply.tool_calls if runtime is not None else ()
        yield logs.finish(
            thought,
            {
                "output": reply.text,
                "tool_name": ";".join(call.name for call in calls),
                "tool_input": [{"name": c.name, "args": _arguments(c)} for c in calls],
            },
            **_usage_metadata(reply.usage),
        )
        responses: list[dict[str, Any]] = []
        if calls:
            messages.append(ChatMessage("assistant", reply.text or _describe(calls)))
        for call in calls:
            assert runtime is not None
            tool = next((t for t in tools if t.get("tool_name") == call.name), None)
            provider = str(tool.get("provider_name", "")) if tool is not None else ""
            call_log = logs.start(f"CALL {call.name}", round_log, provider=provider)
            yield call_log
            response, error = await _invoke(runtime, tool, call, files, json_items)
            responses.append(response)
            yield logs.finish(call_log, {"output": response}, error=error)
            observation = response["tool_response"]
            messages.append(
                ChatMessage("user", f"Observation from tool {call.name}: {observation}")
            )
        output = {"llm_response": reply.text, "tool_responses": responses}
        yield logs.finish(round_log, {"output": output}, **_usage_metadata(reply.usage))
        if not calls:
            text = reply.text
            break
    if text:
        yield StreamChunk((ctx.node_id, "text"), text)
    yield NodeResult(
        outputs={"text": text, "usage": usage.to_dict(), "files": files, "json": json_items},
        inputs={name: to_json(value) for name, value in params.items()},
        process_data={"strategy": config.agent_strategy_name, "model_name": model.name},
        usage=usage,
    )


class _Logs:
    """Builds the node's `AgentLog`s the way Dify's function-calling strategy does: a
    "ROUND n" log per model turn, with a "<model> Thought" log and a "CALL <tool>" log
    per tool call as its children. Each is sent at its start and again at its end.

    Timestamps are wall-clock seconds (the strategy plugin sends `perf_counter` values).
    """

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._started: dict[str, float] = {}

    def start(self, label: str, parent: AgentLog | None = None, **metadata: Any) -> AgentLog:
        log_id = str(uuid.uuid4())
        self._started[log_id] = now = time.time()
        return AgentLog(
            node_id=self._ctx.node_id,
            execution_id=self._ctx.execution_id,
            id=log_id,
            label=label,
            status="start",
            data={},
            parent_id=parent.id if parent is not None else None,
            metadata={"started_at": now, **metadata},
        )

    def finish(
        self, log: AgentLog, data: Mapping[str, Any], error: str | None = None, **metadata: Any
    ) -> AgentLog:
        started = self._started.pop(log.id)
        finished = time.time()
        return dataclasses.replace(
            log,
            status="error" if error else "success",
            error=error,
            data=data,
            metadata={
                **log.metadata,
                "finished_at": finished,
                "elapsed_time": round(finished - started, 6),
                **metadata,
            },
        )


def _usage_metadata(usage: Usage) -> dict[str, Any]:
    return {
        "total_price": float(usage.total_price),
        "currency": usage.currency,
        "total_tokens": usage.total_tokens,
    }


def _model(value: Any) -> ModelConfig:
    if not isinstance(value, Mapping) or not value.get("model"):
        raise NodeError("agent node has no model configured")
    return ModelConfig(
        provider=str(value.get("provider", "")),
        name=str(value["model"]),
        mode="completion" if value.get("mode") == "completion" else "chat",
        completion_params=dict(value.get("completion_params") or {}),
    )


def _messages(ctx: NodeContext, config: Config, params: Mapping[str, Any]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    instruction = to_text(params.get("instruction"))
    if instruction:
        messages.append(ChatMessage("system", instruction))
    if config.memory is not None and ctx.app_mode in CHAT_APP_MODES:
        window = config.memory.window
        turns = [turn for turn in ctx.history if turn.answer]
        if window.enabled and window.size:
            turns = turns[-window.size :]
        for turn in turns:
            messages += [ChatMessage("user", turn.query), ChatMessage("assistant", turn.answer)]
    messages.append(ChatMessage("user", to_text(params.get("query"))))
    return messages


def _spec(tool: Mapping[str, Any]) -> ToolSpec:
    """A function schema from the tool's `llm`-form parameter schemas (or bare names)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for schema in tool.get("schemas") or []:
        if schema.get("form") != "llm":
            continue
        kind = {"number": "number", "boolean": "boolean"}.get(schema.get("type"), "string")
        prop: dict[str, Any] = {"type": kind, "description": schema.get("llm_description") or ""}
        options = [o.get("value") for o in schema.get("options") or [] if isinstance(o, Mapping)]
        if options:
            prop["enum"] = options
        properties[schema["name"]] = prop
        if schema.get("required"):
            required.append(schema["name"])
    if not properties:
        for name, setting in (tool.get("parameters") or {}).items():
            if not isinstance(setting, Mapping) or setting.get("auto"):
                properties[name] = {"type": "string", "description": ""}
    description = (tool.get("extra") or {}).get("description") or tool.get("tool_label") or ""
    parameters = {"type": "object", "properties": properties, "required": required}
    return ToolSpec(str(tool.get("tool_name", "")), str(description), parameters)


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return arguments if isinstance(arguments, dict) else {}


async def _invoke(
    runtime: ToolRuntime,
    tool: Mapping[str, Any] | None,
    call: ToolCall,
    files: list[File],
    json_items: list[Any],
) -> tuple[dict[str, Any], str | None]:
    """Run one tool call; returns Dify's `tool_response` record and an error, if any.

    Like Dify's strategy, a failing tool does not fail the node: the error text goes
    back to the model as the observation."""
    base = {"tool_call_id": call.id, "tool_call_name": call.name}
    if tool is None:
        message = f"there is no tool named {call.name}"
        return {**base, "tool_response": message}, message
    # Fixed (non-auto) settings from the DSL, then what the model chose.
    fixed = {
        name: setting.get("value") if isinstance(setting, Mapping) else setting
        for name, setting in (tool.get("parameters") or {}).items()
        if not (isinstance(setting, Mapping) and setting.get("auto"))
    }
    parameters = {**fixed, **_arguments(call)}
    texts: list[str] = []
    error: str | None = None
    provider = str(tool.get("provider_name", ""))
    try:
        async for message in runtime.invoke(provider, call.name, parameters):
            if isinstance(message, str):
                texts.append(message)
            elif isinstance(message, File):
                files.append(message)
            else:
                json_items.append(message)
                texts.append(json.dumps(to_json(message), ensure_ascii=False))
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        texts = [f"tool invoke error: {error}"]
    response = {**base, "tool_call_input": to_json(parameters), "tool_response": "".join(texts)}
    return response, error


def _describe(calls: tuple[ToolCall, ...]) -> str:
    return "\n".join(f"Calling tool {c.name} with {c.arguments}" for c in calls)
