"""The MCP server the MCP benchmark calls: FastMCP over stdio with one small tool."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("bench", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    server.run("stdio")
