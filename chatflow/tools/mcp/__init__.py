"""MCP servers as tool providers, through the official `mcp` SDK: `connect` opens
sessions (stdio, streamable HTTP, HTTP+SSE), `connection` keeps one open per server,
`provider` caches the tool list and calls tools, `results` reads what they return."""

from chatflow.tools.mcp.connect import McpServer, open_session
from chatflow.tools.mcp.provider import McpProvider, McpTool

__all__ = ["McpProvider", "McpServer", "McpTool", "open_session"]
