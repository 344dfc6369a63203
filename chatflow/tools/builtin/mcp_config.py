"""The `mcp_config` provider: Dify's community plugin "MCP Config During Use"
(`arrenxxxxx/mcp_config_during_use/mcp_config`), whose MCP server comes as tool
parameters at run time: `mcp_list_tools` and `mcp_call_tool`.

Like the plugin: `server_url`, optional `headers` (a JSON object as text), `timeout`,
`sse_read_timeout` and `transport` (`sse`, `streamable_http`, or empty to pick by the
URL and fall back to the other); results are JSON text (the tool list, or the call's
content items), and a failure is returned as text the model can read. Every URL passes
the SSRF guard (the URL may come from a model), and only HTTP transports exist here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from mcp import ClientSession

from chatflow.net.ssrf import SSRFPolicy
from chatflow.settings import Settings
from chatflow.tools.base import (
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolParameter,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param
from chatflow.tools.mcp.connect import McpServer, list_all_tools, open_session
from chatflow.tools.mcp.provider import error_text

ID = "mcp_config"
T = TypeVar("T")


def _json_object(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = params.get(name)
    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(str(raw))
    except ValueError as exc:
        raise ToolError(f"{name} must be a valid JSON string: {exc}") from None
    if not isinstance(value, dict):
        raise ToolError(f"{name} must be a JSON object")
    return value


def _seconds(params: Mapping[str, Any], name: str, default: float) -> float:
    try:
        value = float(params.get(name) or default)
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


def server_from(params: Mapping[str, Any]) -> tuple[McpServer, bool]:
    """The server the parameters describe, and whether its transport was chosen."""
    url = required_text(params, "server_url")
    headers = {str(k): str(v) for k, v in _json_object(params, "headers").items()}
    server = McpServer.http(
        url, headers,
        timeout=_seconds(params, "timeout", 60.0),
        sse_read_timeout=_seconds(params, "sse_read_timeout", 300.0),
    )  # fmt: skip
    transport = text_param(params, "transport").strip()
    if transport in ("sse", "streamable_http"):
        return replace(server, transport=transport), True  # type: ignore[arg-type]
    return server, False


async def _with_session(
    params: Mapping[str, Any], ctx: ToolContext, work: Callable[[ClientSession], Awaitable[T]]
) -> T:
    server, chosen = server_from(params)
    policy = SSRFPolicy.parse(ctx.settings.ssrf_allow if ctx.settings is not None else "")
    other = "sse" if server.transport == "streamable_http" else "streamable_http"
    attempts = [server] if chosen else [server, replace(server, transport=other)]  # type: ignore[arg-type]
    errors: list[str] = []
    for attempt in attempts:
        try:
            async with open_session(attempt, policy) as session:
                return await work(session)
        except Exception as exc:
            errors.append(f"{attempt.transport}: {error_text(exc)}")
    raise ToolError("; ".join(errors))


def list_tool() -> FunctionTool:
    async def mcp_list_tools(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[TextMessage]:
        try:
            tools = await _with_session(params, ctx, list_all_tools)
        except ToolError as exc:
            yield TextMessage(f"Error listing MCP Server tools: {exc.message}")
            return
        listed = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        yield TextMessage(json.dumps(listed, ensure_ascii=False))

    return FunctionTool(_descriptor("mcp_list_tools", "List tools from an MCP server."),
                        mcp_list_tools)  # fmt: skip


def call_tool() -> FunctionTool:
    async def mcp_call_tool(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[TextMessage]:
        name = required_text(params, "tool_name")
        arguments = _json_object(params, "arguments")

        async def call(session: ClientSession) -> Any:
            return await session.call_tool(name, arguments)

        try:
            result = await _with_session(params, ctx, call)
        except ToolError as exc:
            yield TextMessage(f"Error calling MCP Server tool: {exc.message}")
            return
        content = [item.model_dump(mode="json", exclude_none=True) for item in result.content]
        yield TextMessage(json.dumps(content, ensure_ascii=False))

    return FunctionTool(
        _descriptor(
            "mcp_call_tool", "Call a tool on an MCP server.",
            ToolParameter("tool_name", "string", "Tool Name", "Name of the tool to execute.",
                          required=True),
            ToolParameter("arguments", "string", "Arguments",
                          "Tool arguments (JSON string in the python dict[str, Any] format)."),
        ),
        mcp_call_tool,
    )  # fmt: skip


def _descriptor(name: str, description: str, *extra: ToolParameter) -> ToolDescriptor:
    common = (
        ToolParameter("server_url", "string", "Server URL", "The URL of the MCP Server.",
                      required=True),
        ToolParameter("transport", "string", "Transport",
                      "sse or streamable_http (empty: chosen by the URL)."),
        ToolParameter("headers", "string", "Headers",
                      'HTTP headers in JSON format (e.g. {"Authorization":"Bearer token"}).'),
        ToolParameter("timeout", "number", "Timeout", "HTTP request timeout in seconds.",
                      default=60),
        ToolParameter("sse_read_timeout", "number", "SSE Read Timeout",
                      "SSE read timeout in seconds.", default=300),
    )  # fmt: skip
    return ToolDescriptor(ID, name, name.replace("_", " "), description, (*common, *extra))


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        (
            "arrenxxxxx/mcp_config_during_use/mcp_config",
            "arrenxxxxx/mcp_config_during_use",
            "mcp_config_during_use",
        ),
        "MCP Config During Use",
        [list_tool(), call_tool()],
    )
