"""The operator's OpenAPI and MCP tool providers, kept in `data_dir/remote_tools.json`.

`chatflow tools add-openapi` / `add-mcp` write here; the server reads it at start and
registers one provider per entry. The file holds the spec documents (read once, when
added) and the MCP servers' cached tool lists, so starting the server connects to
nothing. Header and env values may be `${VAR}` references, read from the environment
per call; literal values are kept in this file only (mode 0600), never shown by a
listing, an endpoint or a log line (`public_view` shows names and references only).

    {"version": 1,
     "openapi": {"pets": {"source": "...", "source_url": "...", "document": {...},
                          "headers": {"X-Key": "${PETS_KEY}"}, "aliases": []}},
     "mcp": {"fs": {"transport": "stdio", "command": ["npx", "..."], "env": {},
                    "url": "", "headers": {}, "aliases": [], "tools": [...]}}}
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chatflow.errors import ChatflowError, InvalidRequest
from chatflow.net.ssrf import SSRFPolicy
from chatflow.settings import Settings
from chatflow.tools import secrets
from chatflow.tools.base import ToolProvider
from chatflow.tools.mcp.connect import TRANSPORTS, McpServer
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.openapi.provider import OpenApiProvider

logger = logging.getLogger(__name__)

FILE_NAME = "remote_tools.json"
KINDS = ("openapi", "mcp")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RemoteToolsError(InvalidRequest):
    """A remote-tools entry or file that cannot be used."""


def store_path(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RemoteToolsError(
            f"provider name {name!r}: use letters, digits, '_', '-' or '.' (at most 64)"
        )
    return name


def load(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    path = store_path(settings)
    empty: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
    if not path.is_file():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RemoteToolsError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RemoteToolsError(f"{path} must hold a JSON object")
    for kind in KINDS:
        entries = data.get(kind) or {}
        if not isinstance(entries, dict):
            raise RemoteToolsError(f"{path}: '{kind}' must be an object")
        empty[kind] = {str(name): dict(entry) for name, entry in entries.items()}
    return empty


def save(settings: Settings, data: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write atomically, readable by the owner only (it may hold literal credentials)."""
    path = store_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    payload = {"version": 1, **{kind: dict(data.get(kind) or {}) for kind in KINDS}}
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return path


def put(settings: Settings, kind: str, name: str, entry: Mapping[str, Any]) -> None:
    """Add or replace one entry; a name is unique across both kinds."""
    check_name(name)
    data = load(settings)
    for other in KINDS:
        if other != kind:
            data[other].pop(name, None)
    data[kind][name] = dict(entry)
    save(settings, data)


def remove(settings: Settings, name: str) -> bool:
    data = load(settings)
    found = any(data[kind].pop(name, None) is not None for kind in KINDS)
    if found:
        save(settings, data)
    return found


def openapi_entry(
    source: str,
    document: Mapping[str, Any],
    source_url: str,
    headers: Mapping[str, str],
    aliases: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "source": source,
        "source_url": source_url,
        "document": dict(document),
        "headers": dict(headers),
        "aliases": list(aliases),
    }


def mcp_entry(
    server: McpServer, tools: Sequence[Mapping[str, Any]], aliases: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "transport": server.transport,
        "url": server.url,
        "headers": dict(server.headers),
        "command": list(server.command),
        "env": dict(server.env),
        "aliases": list(aliases),
        "tools": [dict(tool) for tool in tools],
    }


def mcp_server(entry: Mapping[str, Any], settings: Settings) -> McpServer:
    transport = entry.get("transport")
    if transport not in TRANSPORTS:
        raise RemoteToolsError(f"unknown MCP transport {transport!r}")
    return McpServer(
        transport=transport,
        url=str(entry.get("url") or ""),
        headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
        command=tuple(str(part) for part in entry.get("command") or ()),
        env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
        timeout=settings.mcp_timeout_seconds,
        sse_read_timeout=settings.mcp_call_timeout_seconds,
    )


def providers(settings: Settings) -> list[ToolProvider]:
    """One provider per stored entry (none connects until it is used). An entry that can
    no longer be read (a hand-edited file) is skipped with a warning naming it, so one bad
    entry does not stop the server."""
    data = load(settings)
    policy = SSRFPolicy.parse(settings.ssrf_allow)
    found: list[ToolProvider] = []
    for name, entry in data["openapi"].items():
        try:
            found.append(
                OpenApiProvider(
                    name,
                    entry.get("document") or {},
                    source_url=str(entry.get("source_url") or ""),
                    headers=entry.get("headers") or {},
                    aliases=entry.get("aliases") or (),
                )
            )
        except ChatflowError as exc:
            logger.warning("OpenAPI tool provider %r skipped: %s", name, exc.message)
    for name, entry in data["mcp"].items():
        try:
            server = mcp_server(entry, settings)
        except ChatflowError as exc:
            logger.warning("MCP tool provider %r skipped: %s", name, exc.message)
            continue
        found.append(
            McpProvider(
                name,
                server,
                policy=policy,
                tools=entry.get("tools") or (),
                aliases=entry.get("aliases") or (),
                call_timeout=settings.mcp_call_timeout_seconds,
            )
        )
    return found


def public_view(settings: Settings) -> list[dict[str, Any]]:
    """What `chatflow tools remote` lists: never a credential's value."""
    data = load(settings)
    rows: list[dict[str, Any]] = []
    for name, entry in data["openapi"].items():
        rows.append(
            {
                "name": name,
                "kind": "openapi",
                "source": entry.get("source_url") or entry.get("source") or "",
                "headers": secrets.redacted(entry.get("headers") or {}),
                "aliases": list(entry.get("aliases") or ()),
            }
        )
    for name, entry in data["mcp"].items():
        server = mcp_server(entry, settings)
        rows.append(
            {
                "name": name,
                "kind": "mcp",
                "source": server.describe(),
                "headers": secrets.redacted(dict(server.headers)),
                "env": secrets.redacted(dict(server.env)),
                "aliases": list(entry.get("aliases") or ()),
                "tools": [str(tool.get("name")) for tool in entry.get("tools") or ()],
            }
        )
    return rows


async def close(providers: Sequence[ToolProvider]) -> None:
    """End the sessions (and stdio server processes) MCP providers hold open."""
    for provider in providers:
        if isinstance(provider, McpProvider):
            await provider.aclose()
