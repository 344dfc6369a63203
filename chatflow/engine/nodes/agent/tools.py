"""The tools an agent offers its model, and running the calls the model makes.

Tools come from the DSL's `tools` parameter (`provider_name`, `tool_name`, `parameters`
as `{auto, value}` settings or raw values, optional `schemas`) and, for the `mcp_agent`
strategy, from MCP servers (`services.mcp`). A tool's function schema is its
`llm`-form parameters: the DSL's `schemas` when exported, else the tool runtime's
descriptor (`describe`), else the settings marked `auto` (or left empty, as agent-chat
apps store them). Fixed settings are merged
under what the model chose, as Dify's strategies do (`{**runtime_parameters, **args}`).

Results become observations as in Dify's function-calling strategy: text as is, links
as "result link: ...", JSON as "tool response: {...}.", images and other files as a
note that the file was sent to the user (the files become the node's `files`). A
failing tool does not fail the node: its error is the observation.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatflow.engine.files import File, to_json
from chatflow.engine.nodes.base import NodeContext, ToolCaller
from chatflow.errors import NodeError
from chatflow.providers.base import ToolCall, ToolSpec

MCP_PROVIDER = "MCP Client"  # the provider label hjlarry's mcp_agent logs MCP calls under
IMAGE_NOTE = (
    "image has been created and sent to user already, you do not need to create it, "
    "just tell the user to check it now."
)


@dataclass(frozen=True, slots=True)
class AgentTool:
    spec: ToolSpec
    provider: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    mcp_server: Mapping[str, Any] | None = None  # set for tools an MCP server serves

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(slots=True)
class Outcome:
    """One tool call's result: Dify's `tool_response` record and what it produced."""

    response: dict[str, Any]
    observation: str
    files: list[File] = field(default_factory=list)
    json: list[Any] = field(default_factory=list)
    error: str | None = None


async def dsl_tools(ctx: NodeContext, value: Any) -> list[AgentTool]:
    """The enabled tools of the DSL's `tools` parameter."""
    entries = [t for t in value or [] if isinstance(t, Mapping) and t.get("enabled", True)]
    if entries and ctx.services.tools is None:
        raise NodeError(
            f"tool provider '{entries[0].get('provider_name', '')}' is not configured",
            node_id=ctx.node_id,
        )
    return [await _dsl_tool(ctx, entry) for entry in entries]


async def _dsl_tool(ctx: NodeContext, entry: Mapping[str, Any]) -> AgentTool:
    provider = str(entry.get("provider_name") or entry.get("provider_id") or "")
    name = str(entry.get("tool_name", ""))
    settings = entry.get("parameters") or {}
    fixed = {
        key: setting.get("value") if isinstance(setting, Mapping) else setting
        for key, setting in settings.items()
        if not (isinstance(setting, Mapping) and setting.get("auto"))
    }
    extra = entry.get("extra") if isinstance(entry.get("extra"), Mapping) else {}
    description = str((extra or {}).get("description") or entry.get("tool_description") or "")
    parameters = _schema_from_dsl(entry.get("schemas") or [])
    if parameters is None:
        parameters = await _described(ctx, provider, name)
    if parameters is None:
        # No schema anywhere: settings marked `auto`, or left empty, are the model's.
        auto = [
            key
            for key, setting in settings.items()
            if (setting.get("auto") if isinstance(setting, Mapping) else setting in (None, ""))
        ]
        parameters = {
            "type": "object",
            "properties": {key: {"type": "string", "description": ""} for key in auto},
            "required": [],
        }
    # A setting left empty is unset: the tool's default applies (or the model fills it).
    fixed = {key: value for key, value in fixed.items() if value not in (None, "")}
    label = str(entry.get("tool_label") or name)
    return AgentTool(ToolSpec(name, description, parameters), provider, fixed, label)


def _schema_from_dsl(schemas: Sequence[Any]) -> dict[str, Any] | None:
    """The function schema of the DSL's exported parameter `schemas` (`form: llm` ones)."""
    llm = [s for s in schemas if isinstance(s, Mapping) and s.get("form") == "llm"]
    if not llm:
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for schema in llm:
        kind = {"number": "number", "boolean": "boolean", "integer": "integer"}.get(
            str(schema.get("type")), "string"
        )
        prop: dict[str, Any] = {"type": kind, "description": schema.get("llm_description") or ""}
        options = [o.get("value") for o in schema.get("options") or [] if isinstance(o, Mapping)]
        if options:
            prop["enum"] = options
        properties[str(schema["name"])] = prop
        if schema.get("required"):
            required.append(str(schema["name"]))
    return {"type": "object", "properties": properties, "required": required}


async def _described(ctx: NodeContext, provider: str, name: str) -> dict[str, Any] | None:
    """The tool runtime's own schema of the tool, when the runtime can describe tools."""
    describe = getattr(ctx.services.tools, "describe", None)
    if describe is None:
        return None
    try:
        descriptor = describe(provider, name)
        if inspect.isawaitable(descriptor):
            descriptor = await descriptor
    except Exception:  # an unknown tool fails when called, as in Dify
        return None
    schema = getattr(descriptor, "json_schema", None)
    if callable(schema):
        descriptor = schema()
    return dict(descriptor) if isinstance(descriptor, Mapping) else None


async def mcp_tools(ctx: NodeContext, servers: Sequence[Mapping[str, Any]]) -> list[AgentTool]:
    """The tools the MCP servers list (each server's tools, in server order)."""
    if not servers:
        return []
    connector = ctx.services.mcp
    if connector is None:
        urls = ", ".join(str(server.get("url")) for server in servers)
        raise NodeError(
            f"MCP client is not configured in this engine (mcp_agent servers: {urls})",
            node_id=ctx.node_id,
        )
    tools: list[AgentTool] = []
    for server in servers:
        try:
            specs = await connector.list_tools(server)
        except Exception as exc:
            raise NodeError(
                f"MCP server {server.get('url')} failed to list its tools: {exc}",
                node_id=ctx.node_id,
            ) from exc
        tools += [AgentTool(spec, MCP_PROVIDER, {}, spec.name, server) for spec in specs]
    return tools


def arguments(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def invoke(ctx: NodeContext, tool: AgentTool | None, call: ToolCall) -> Outcome:
    """Run one call; never raises for a tool's own failure (that is the observation)."""
    base = {"tool_call_id": call.id, "tool_call_name": call.name}
    if tool is None:
        text = f"there is not a tool named {call.name}"
        return Outcome({**base, "tool_response": text}, text, error=text)
    parameters = {**tool.fixed, **arguments(call)}
    outcome = Outcome({}, "")
    parts: list[str] = []
    try:
        async for message in _messages(ctx, tool, parameters):
            parts.append(_observe(message, outcome))
    except Exception as exc:
        outcome.error = str(exc) or type(exc).__name__
        parts = [f"tool invoke error: {outcome.error}"]
    outcome.observation = "".join(parts)
    outcome.response = {
        **base,
        "tool_call_input": to_json(parameters),
        "tool_response": outcome.observation,
    }
    return outcome


def _messages(ctx: NodeContext, tool: AgentTool, parameters: Mapping[str, Any]) -> Any:
    if tool.mcp_server is not None:
        assert ctx.services.mcp is not None  # mcp_tools checked it
        return ctx.services.mcp.call_tool(tool.mcp_server, tool.name, parameters)
    assert ctx.services.tools is not None  # dsl_tools checked it
    caller = ToolCaller(
        app_id=_system(ctx, "app_id"),
        user_id=_system(ctx, "user_id"),
        conversation_id=_system(ctx, "conversation_id"),
    )
    return ctx.services.tools.invoke(tool.provider, tool.name, parameters, caller=caller)


def _system(ctx: NodeContext, name: str) -> str:
    value = ctx.pool.get(["sys", name])
    return value if isinstance(value, str) else ""


def _observe(message: Any, outcome: Outcome) -> str:
    """The observation text of one tool message (Dify's FC strategy wording)."""
    if isinstance(message, str):
        return message
    if isinstance(message, File):
        outcome.files.append(message)
        return IMAGE_NOTE if message.type == "image" else "Generated file ... "
    if isinstance(message, Mapping) and set(message) == {"variable", "value"}:
        return ""  # variables are for workflow tools' outputs, not the model
    if isinstance(message, Mapping) and set(message) == {"link"}:
        return f"result link: {message['link']}. please tell user to check it."
    outcome.json.append(message)
    return f"tool response: {json.dumps(to_json(message), ensure_ascii=False)}."
