"""A real MCP server built with FastMCP (from the official `mcp` SDK).

Run as a script it serves stdio (`python tests/tools/mcp_demo.py`); `app(transport)`
gives the streamable HTTP or HTTP+SSE Starlette app for `tests.tools.loopback.serve`.
Its tools cover each kind of result: text, JSON, structured output, an image, an error.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mcp.server.fastmcp import FastMCP, Image

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 16


def server() -> FastMCP:
    mcp = FastMCP("demo", log_level="WARNING")

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool()
    def pet(name: str, age: int = 1) -> dict[str, Any]:
        """A pet record."""
        return {"name": name, "age": age}

    @mcp.tool()
    def picture() -> Image:
        """A tiny PNG."""
        return Image(data=PNG, format="png")

    @mcp.tool()
    def broken(reason: str) -> str:
        """Always fails."""
        raise ValueError(f"broken on purpose: {reason}")

    @mcp.tool()
    def env(name: str) -> str:
        """An environment variable of the server process (stdio env passing)."""
        return os.environ.get(name, "<unset>")

    @mcp.tool()
    def crash() -> str:
        """Ends the server process at once (a server that dies mid-session)."""
        os._exit(3)

    return mcp


def app(transport: str) -> Any:
    demo = server()
    return demo.sse_app() if transport == "sse" else demo.streamable_http_app()


if __name__ == "__main__":
    server().run("stdio" if len(sys.argv) < 2 else sys.argv[1])  # type: ignore[arg-type]
