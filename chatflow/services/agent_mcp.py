"""The MCP servers an `mcp_agent` node names in its DSL (`McpConnector` for the engine).

Each server entry becomes an `McpProvider` of the tools package (same sessions, SSRF
guard on every connection, argument coercion and result conversion), kept per server
(URL, transport, headers) so a node's rounds and later runs reuse one session. The
servers come from an imported DSL, so they are untrusted: only http(s) URLs, and only
where the SSRF guard lets them (loopback and private addresses need
`CHATFLOW_SSRF_ALLOW`). Results reach the engine as the tool runtime gives them:
text, JSON, and files stored as tool files.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatflow.engine.nodes.base import ToolCaller
from chatflow.net.ssrf import SSRFPolicy
from chatflow.providers.base import ToolSpec
from chatflow.tools.base import (
    BlobMessage,
    ImageMessage,
    JsonMessage,
    LinkMessage,
    TextMessage,
    ToolContext,
    ToolMessage,
    VariableMessage,
)
from chatflow.tools.mcp.connect import McpServer, Transport
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.runtime import ToolFileSaver

_MAX_SERVERS = 64  # sessions kept open at most; the oldest is closed first


class AgentMcpServers:
    def __init__(self, ssrf_allow: str = "", files: ToolFileSaver | None = None) -> None:
        self._policy = SSRFPolicy.parse(ssrf_allow)
        self._files = files
        self._providers: dict[str, McpProvider] = {}
        self._lock = asyncio.Lock()

    async def _provider(self, server: Mapping[str, Any]) -> McpProvider:
        key = json.dumps(
            [server.get("url"), server.get("transport"), server.get("headers")], sort_keys=True
        )
        async with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                if len(self._providers) >= _MAX_SERVERS:
                    oldest = next(iter(self._providers))
                    await self._providers.pop(oldest).aclose()
                transport: Transport = (
                    "sse" if server.get("transport") == "sse" else "streamable_http"
                )
                spec = McpServer(
                    transport=transport,
                    url=str(server["url"]),
                    headers=dict(server.get("headers") or {}),
                    timeout=float(server.get("timeout") or 30),
                    sse_read_timeout=float(server.get("sse_read_timeout") or 300),
                )
                name = str(server.get("name") or "mcp")
                provider = McpProvider(name, spec, policy=self._policy)
                self._providers[key] = provider
            return provider

    async def list_tools(self, server: Mapping[str, Any]) -> list[ToolSpec]:
        provider = await self._provider(server)
        if not provider.listed:
            await provider.refresh()  # raises when the server cannot be listed (as Dify)
        tools = await provider.tools()
        return [
            ToolSpec(t.descriptor.name, t.descriptor.description, t.descriptor.json_schema())
            for t in tools
        ]

    async def call_tool(
        self, server: Mapping[str, Any], tool: str, arguments: Mapping[str, Any]
    ) -> AsyncIterator[Any]:
        provider = await self._provider(server)
        found = next((t for t in await provider.tools() if t.descriptor.name == tool), None)
        if found is None:
            await provider.refresh()
            found = next((t for t in await provider.tools() if t.descriptor.name == tool), None)
        if found is None:
            raise LookupError(f"MCP server {server.get('url')} has no tool '{tool}'")
        async for message in found.invoke(arguments, ToolContext()):
            yield await self._engine_message(message)

    async def _engine_message(self, message: ToolMessage) -> Any:
        """A tool message as the engine's tool runtime yields it."""
        if isinstance(message, TextMessage):
            return message.text
        if isinstance(message, LinkMessage):
            return {"link": message.url}
        if isinstance(message, ImageMessage):
            return {"link": message.url}
        if isinstance(message, BlobMessage):
            if self._files is None:
                return f"(file {message.filename}, not stored: no file storage)"
            return await self._files.save(
                message.data, message.filename, message.mime_type, ToolCaller()
            )
        if isinstance(message, VariableMessage):
            return {"variable": message.name, "value": message.value}
        if isinstance(message, JsonMessage):
            value = message.value
            return value if isinstance(value, dict | list) else {"data": value}
        return str(message)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
