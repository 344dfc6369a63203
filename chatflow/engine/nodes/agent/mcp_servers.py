"""The `mcp_server` parameter of hjlarry's mcp_agent strategy, as a server list.

It is either one URL (an SSE endpoint, e.g. `http://host:8000/sse`) or a JSON object of
named servers, `{"name": {"url", "headers", "timeout", "sse_read_timeout",
"transport"}}`, optionally wrapped in `{"mcpServers": {...}}`. A URL ending in `/mcp`
(or a `transport: streamable_http`) is Streamable HTTP, anything else SSE.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chatflow.errors import NodeError


def parse_servers(value: Any) -> list[dict[str, Any]]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            return [_server("default", {"url": text})]
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise NodeError(f"mcp_server is neither a URL nor JSON: {exc}") from exc
    if not isinstance(value, Mapping):
        raise NodeError("mcp_server must be a URL or a JSON object of servers")
    if isinstance(value.get("mcpServers"), Mapping):
        value = value["mcpServers"]
    if "url" in value and isinstance(value["url"], str):
        return [_server("default", value)]
    return [_server(str(name), entry) for name, entry in value.items()]


def _server(name: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
        raise NodeError(f"mcp_server '{name}' needs a url")
    url = entry["url"].strip()
    if not url.startswith(("http://", "https://")):
        raise NodeError(f"mcp_server '{name}': only http(s) URLs are supported, got {url!r}")
    transport = entry.get("transport") or ("streamable_http" if url.rstrip("/").endswith("/mcp")
                                           else "sse")  # fmt: skip
    headers = entry.get("headers") if isinstance(entry.get("headers"), Mapping) else {}
    return {
        "name": name,
        "url": url,
        "transport": "streamable_http" if transport in ("streamable_http", "http") else "sse",
        "headers": {str(k): str(v) for k, v in (headers or {}).items()},
        "timeout": float(entry.get("timeout") or 50),
        "sse_read_timeout": float(entry.get("sse_read_timeout") or 300),
    }
