"""An MCP server an operator added (`chatflow tools add-mcp`) as a tool provider.

The server's tool list is cached: it is listed when the server is added and kept in the
remote-tools store, so describing tools (and starting the server process) needs no
connection; `refresh()` lists again, and a call naming a tool the cache lacks refreshes
once before failing. Dify's `provider_type: mcp` tool nodes name the provider by its
server identifier, which `--alias` maps.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mcp import ClientSession, types

from chatflow.net.ssrf import SSRFPolicy
from chatflow.tools.base import (
    ParameterType,
    Tool,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolNotConfigured,
    ToolParameter,
)
from chatflow.tools.coerce import coerce_arguments
from chatflow.tools.mcp.connect import McpServer, list_all_tools
from chatflow.tools.mcp.connection import McpConnection
from chatflow.tools.mcp.results import result_messages

logger = logging.getLogger(__name__)
_SIMPLE_TYPES = ("string", "number", "integer", "boolean", "object", "array")


@dataclass(frozen=True, slots=True)
class McpDescriptor(ToolDescriptor):
    """Offers a model the server's own input schema, unchanged."""

    input_schema: Mapping[str, Any] = field(default_factory=dict)

    def json_schema(self) -> dict[str, Any]:
        schema = dict(self.input_schema) or {"type": "object", "properties": {}}
        schema.setdefault("type", "object")
        return schema


def _parameter_type(schema: Mapping[str, Any]) -> ParameterType:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if schema.get("enum"):
        return "select"
    return kind if kind in _SIMPLE_TYPES else "string"  # type: ignore[return-value]


def describe(provider: str, tool: Mapping[str, Any]) -> McpDescriptor:
    """A descriptor from a tool as `tools/list` gives it (`name`, `description`,
    `inputSchema`)."""
    schema = tool.get("inputSchema") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parameters = tuple(
        ToolParameter(
            name=name,
            type=_parameter_type(sub),
            label=str(sub.get("title") or name),
            description=str(sub.get("description") or ""),
            required=name in required,
            default=sub.get("default"),
            options=tuple(str(option) for option in sub.get("enum") or ()),
            form="llm",
        )
        for name, sub in properties.items()
        if isinstance(sub, Mapping)
    )
    name = str(tool["name"])
    return McpDescriptor(
        provider=provider,
        name=name,
        label=str(tool.get("title") or name),
        description=str(tool.get("description") or ""),
        parameters=parameters,
        input_schema=schema,
    )


def error_text(exc: BaseException) -> str:
    """The innermost message of an (anyio) exception group, else the exception's own."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


class McpTool:
    def __init__(self, provider: McpProvider, descriptor: McpDescriptor) -> None:
        self.provider = provider
        self.descriptor: ToolDescriptor = descriptor
        self._schema = descriptor.input_schema

    async def invoke(
        self, parameters: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        arguments = coerce_arguments(parameters, self._schema)
        result = await self.provider.call_tool(self.descriptor.name, arguments)
        for message in result_messages(self.descriptor.name, result):
            yield message


class McpProvider:
    def __init__(
        self,
        name: str,
        server: McpServer,
        *,
        policy: SSRFPolicy | None = None,
        tools: Sequence[Mapping[str, Any]] = (),
        aliases: Sequence[str] = (),
        call_timeout: float = 60.0,
    ) -> None:
        self.id = name
        self.aliases = tuple(aliases)
        self.label = name
        self.server = server
        self.call_timeout = call_timeout
        self._connection = McpConnection(server, policy or SSRFPolicy())
        self._listed: list[dict[str, Any]] = [dict(tool) for tool in tools]
        self._tools = [McpTool(self, describe(name, tool)) for tool in self._listed]

    @property
    def listed(self) -> list[dict[str, Any]]:
        """The cached `tools/list` entries (what the store keeps)."""
        return list(self._listed)

    async def tools(self) -> Sequence[Tool]:
        """The cached tools; an empty cache is listed once (a listing that fails leaves it
        empty, so `chatflow tools list` still shows the other providers)."""
        if not self._tools:
            try:
                await self.refresh()
            except ToolError as exc:
                logger.warning("MCP server '%s': %s", self.id, exc.message)
        return self._tools

    async def refresh(self) -> list[dict[str, Any]]:
        """List the server's tools again and replace the cache."""
        self._require_configuration()
        try:
            found = await self._connection.call(list_all_tools)
        except ToolError:
            raise
        except Exception as exc:
            reason = error_text(exc)
            raise ToolError(f"MCP server '{self.id}' could not list tools: {reason}") from None
        self._listed = [
            tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in found
        ]
        self._tools = [McpTool(self, describe(self.id, tool)) for tool in self._listed]
        return self.listed

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
        self._require_configuration()
        if all(tool.descriptor.name != name for tool in self._tools):
            await self.refresh()
            if all(tool.descriptor.name != name for tool in self._tools):
                raise ToolError(f"MCP server '{self.id}' has no tool '{name}'")
        timeout = timedelta(seconds=self.call_timeout)

        async def call(session: ClientSession) -> types.CallToolResult:
            return await session.call_tool(name, dict(arguments), read_timeout_seconds=timeout)

        try:
            return await self._connection.call(call)
        except Exception as exc:
            raise ToolError(f"MCP tool '{self.id}/{name}' failed: {error_text(exc)}") from None

    def missing_configuration(self) -> str | None:
        absent = self.server.secrets_missing()
        if not absent:
            return None
        return f"environment variable(s) {', '.join(absent)} (used by MCP server '{self.id}')"

    def _require_configuration(self) -> None:
        missing = self.missing_configuration()
        if missing:
            raise ToolNotConfigured(f"MCP server '{self.id}' needs {missing}")

    async def aclose(self) -> None:
        await self._connection.aclose()
