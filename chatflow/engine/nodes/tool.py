"""The tool node: calls a built-in or plugin tool through `services.tools`.

Parses Dify's tool node data (`provider_id`, `provider_type`, `tool_name`,
`tool_configurations` in both the v1 raw-value and v2 `{type, value}` shapes,
`tool_parameters` bound as `variable`, `mixed` template or `constant`). Parameters are
resolved like Dify's tool node and handed to the host's `ToolRuntime`; its messages
become Dify's outputs: a `str` is `text` (streamed), a `File` goes to `files`, a
`{"variable": name, "value": v}` mapping becomes output `name`, anything else is appended
to `json` (`[{"data": []}]` when there is none, as in Dify). The call carries the run's
`sys.app_id`/`user_id`/`conversation_id` (tool files are stored under them). Without a
tool runtime the node fails with "tool provider 'X' is not configured".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatflow.engine.files import File
from chatflow.engine.nodes.base import (
    NodeConfig,
    NodeContext,
    NodeEvent,
    NodeResult,
    StreamChunk,
    ToolCaller,
)
from chatflow.engine.template import render
from chatflow.engine.variables import MISSING, VariablePool
from chatflow.errors import NodeError

TYPE = "tool"


class ToolInput(BaseModel):
    """One bound tool parameter: a selector, a template, or a literal."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["variable", "mixed", "constant"] = "constant"
    value: Any = None


class Config(NodeConfig):
    provider_id: str = ""
    provider_type: str = "builtin"
    provider_name: str = ""
    tool_name: str = ""
    tool_label: str = ""
    tool_description: str = ""
    # v1 stores raw values, v2 `{type, value}` dicts; both are read by `configuration`.
    tool_configurations: dict[str, Any] = Field(default_factory=dict)
    tool_parameters: dict[str, ToolInput] = Field(default_factory=dict)
    tool_node_version: str | None = None
    credential_id: str | None = None
    plugin_unique_identifier: str | None = None
    is_team_authorization: bool = False


def resolve_input(binding: ToolInput, pool: VariablePool) -> Any:
    """Dify's binding rules: selectors read the pool, `mixed` renders a template."""
    if binding.type == "variable":
        if not isinstance(binding.value, list):
            raise NodeError(f"tool parameter selector must be a list, got {binding.value!r}")
        value = pool.get([str(step) for step in binding.value])
        return None if value is MISSING else value
    if binding.type == "mixed":
        return render(str(binding.value if binding.value is not None else ""), pool)
    return binding.value


_BINDINGS = frozenset(("variable", "mixed", "constant"))


def configuration(value: Any, pool: VariablePool) -> Any:
    """A v2 `{type, value}` binding is resolved (its `value` may be missing when null);
    a v1 raw value is used as it is."""
    if (
        isinstance(value, Mapping)
        and value.get("type") in _BINDINGS
        and set(value) <= {"type", "value"}
    ):
        return resolve_input(ToolInput.model_validate(value), pool)
    return value


def parameters(config: Config, pool: VariablePool) -> dict[str, Any]:
    """Configurations first, then per-run parameters, which win on a name clash."""
    resolved = {
        name: configuration(value, pool) for name, value in config.tool_configurations.items()
    }
    for name, binding in config.tool_parameters.items():
        resolved[name] = resolve_input(binding, pool)
    return resolved


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    provider = config.provider_id or config.provider_name
    runtime = ctx.services.tools
    if runtime is None:
        raise NodeError(f"tool provider '{provider}' is not configured")
    arguments = parameters(config, ctx.pool)
    inputs = {name: _jsonable(value) for name, value in arguments.items()}
    text: list[str] = []
    files: list[File] = []
    json_items: list[Any] = []
    variables: dict[str, Any] = {}
    caller = ToolCaller(
        app_id=_sys(ctx.pool, "app_id"),
        user_id=_sys(ctx.pool, "user_id"),
        conversation_id=_sys(ctx.pool, "conversation_id"),
    )
    async for message in runtime.invoke(provider, config.tool_name, arguments, caller=caller):
        if isinstance(message, str):
            text.append(message)
            yield StreamChunk((ctx.node_id, "text"), message)
        elif isinstance(message, File):
            files.append(message)
        elif isinstance(message, Mapping) and set(message) == {"variable", "value"}:
            variables[str(message["variable"])] = message["value"]
        else:
            json_items.append(message)
    outputs: dict[str, Any] = {
        "text": "".join(text),
        "files": files,
        # Dify's tool node: without JSON messages, `json` is `[{"data": []}]`.
        "json": json_items or [{"data": []}],
        **variables,
    }
    process = {"tool_info": {"provider_type": config.provider_type, "provider_id": provider}}
    yield NodeResult(outputs=outputs, inputs=inputs, process_data=process)


def _sys(pool: VariablePool, name: str) -> str:
    value = pool.get(["sys", name])
    return "" if value is MISSING or value is None else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, File):
        return value.to_dict()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
