"""The console's tools view: the providers that run here (built-in, OpenAPI, MCP), adding
and removing the operator's OpenAPI and MCP providers, and mapping an app's missing tool
references to tools that run here.

It keeps the same files as `chatflow tools add-openapi | add-mcp | remove | map`
(`tools/remote.py`, `tools/mappings.py`) and changes the running registry too, so a
change shows at once in this worker; other workers pick it up from the files within a
second of their next tool use or listing (`tools/file_sync.py`).
Credentials are written to the 0600 file only and never shown (`secrets.redacted`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chatflow.dsl import load_app, to_graph
from chatflow.errors import InvalidRequest, NotFound
from chatflow.net.ssrf import SSRFPolicy
from chatflow.settings import Settings
from chatflow.tools import mappings, remote, secrets
from chatflow.tools.base import ToolError, ToolProvider
from chatflow.tools.file_sync import ToolFileSync
from chatflow.tools.mcp.connect import McpServer
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.openapi.provider import OpenApiProvider, read_spec
from chatflow.tools.openapi.spec import load_document
from chatflow.tools.references import references
from chatflow.tools.registry import ToolRef, ToolRegistry

MAX_HEADERS = 20
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an HTTP header name (RFC 9110)


def _kind(provider: ToolProvider) -> str:
    if isinstance(provider, McpProvider):
        return "mcp"
    if isinstance(provider, OpenApiProvider):
        return "openapi"
    return "builtin"


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names as curl takes them; values may be literal or `${VAR}` references."""
    if len(headers) > MAX_HEADERS:
        raise InvalidRequest(f"headers: at most {MAX_HEADERS}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _TOKEN.match(name.strip()):
            raise InvalidRequest(f"headers: {name[:64]!r} is not a header name")
        try:
            key, item = secrets.parse_header(f"{name}: {value}")
        except ValueError as exc:
            raise InvalidRequest(f"headers: {exc}") from None
        if "\n" in item or "\r" in item:
            raise InvalidRequest(f"headers: the value of {key} has a line break")
        checked[key] = item
    return checked


class ConsoleTools:
    def __init__(self, settings: Settings, registry: ToolRegistry, sync: ToolFileSync) -> None:
        self._settings = settings
        self._registry = registry
        self._sync = sync
        self._lock = asyncio.Lock()  # one writer of the files at a time

    async def providers(self) -> list[dict[str, Any]]:
        """Every provider with its tools; remote ones with their source and header names."""
        await self._sync.check()
        stored = {row["name"]: row for row in remote.public_view(self._settings)}
        rows: list[dict[str, Any]] = []
        for provider in sorted(self._registry.providers, key=lambda p: (_kind(p), p.id)):
            try:
                tools = [
                    {"name": t.descriptor.name, "label": t.descriptor.label or t.descriptor.name,
                     "description": t.descriptor.description}
                    for t in await provider.tools()
                ]  # fmt: skip
            except ToolError:
                tools = []
            entry = stored.get(provider.id, {})
            rows.append(
                {
                    "id": provider.id,
                    "label": provider.label or provider.id,
                    "kind": _kind(provider),
                    "aliases": list(provider.aliases),
                    "needs": provider.missing_configuration(),
                    "source": entry.get("source", ""),
                    "headers": entry.get("headers", {}),
                    "tools": tools,
                }
            )
        return rows

    def _check_new(self, name: str) -> str:
        remote.check_name(name)
        existing = self._registry.provider(name)
        if existing is not None and _kind(existing) == "builtin":
            raise InvalidRequest(f"{name!r} is a built-in provider; choose another name")
        return name

    async def add_openapi(
        self, name: str, *, url: str, schema: str, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """From a URL (fetched through the SSRF guard) or the schema's text; never a path
        on this machine."""
        self._check_new(name)
        headers = checked_headers(headers)
        if bool(url) == bool(schema.strip()):
            raise InvalidRequest("Give either the schema's URL or its text.")
        if url:
            if not url.startswith(("http://", "https://")):
                raise InvalidRequest("url: must start with http:// or https://")
            document, source_url = await read_spec(url, ssrf_allow=self._settings.ssrf_allow)
        else:
            document, source_url = load_document(schema), ""
        provider = OpenApiProvider(name, document, source_url=source_url, headers=headers)
        if not provider.tool_names:
            raise InvalidRequest("The schema has no operations to use as tools.")
        entry = remote.openapi_entry(source_url or "(pasted in the console)", document,
                                     source_url, headers)  # fmt: skip
        await self._install(name, "openapi", entry, provider)
        return {"name": name, "tools": provider.tool_names}

    async def add_mcp(self, name: str, *, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """An MCP server over HTTP; its tools are listed now, so a mistake shows at once."""
        self._check_new(name)
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest("url: must start with http:// or https://")
        settings = self._settings
        server = replace(
            McpServer.http(url, checked_headers(headers)),
            timeout=settings.mcp_timeout_seconds,
            sse_read_timeout=settings.mcp_call_timeout_seconds,
        )
        policy = SSRFPolicy.parse(settings.ssrf_allow)
        provider = McpProvider(name, server, policy=policy,
                               call_timeout=settings.mcp_call_timeout_seconds)  # fmt: skip
        try:
            tools = await provider.refresh()
        except BaseException:
            await provider.aclose()
            raise
        await self._install(name, "mcp", remote.mcp_entry(server, tools), provider)
        return {"name": name, "tools": [str(t.get("name")) for t in tools]}

    async def _install(
        self, name: str, kind: str, entry: dict[str, Any], provider: ToolProvider
    ) -> None:
        async with self._lock:
            await asyncio.to_thread(remote.put, self._settings, kind, name, entry)
            old = self._registry.unregister(name)
            self._registry.register(provider)
            self._sync.mark_current()
        if old is not None:
            await remote.close([old])

    async def remove(self, name: str) -> None:
        async with self._lock:
            if not await asyncio.to_thread(remote.remove, self._settings, name):
                raise NotFound(f"No OpenAPI or MCP provider named {name!r}.")
            old = self._registry.unregister(name)
            self._sync.mark_current()
        if old is not None:
            await remote.close([old])

    async def missing(self, dsl_text: str) -> list[dict[str, str]]:
        """The app's tool references that cannot run here, with why."""
        found: list[dict[str, str]] = []
        seen: set[tuple[str, str]] = set()
        await self._sync.check()
        for ref in references(to_graph(load_app(dsl_text))):
            if (ref.provider, ref.tool) in seen:
                continue
            seen.add((ref.provider, ref.tool))
            problem = await self._registry.missing(ref.provider, ref.tool)
            if problem:
                node = ref.node_title or ref.node_id
                found.append(
                    {"provider": ref.provider, "tool": ref.tool, "node": node, "problem": problem}
                )
        return found

    async def map(self, source: str, target: str) -> None:
        """Send a DSL reference to a tool here, as `chatflow tools map` does (same file)."""
        try:
            parsed = ToolRef.parse(target)
            ToolRef.parse(source)
        except ToolError as exc:
            raise InvalidRequest(exc.message) from None
        provider = self._registry.provider(parsed.provider)
        if provider is None:
            raise InvalidRequest(f"No tool provider {parsed.provider!r} runs here.")
        if parsed.tool is not None:
            names = {t.descriptor.name for t in await provider.tools()}
            if parsed.tool not in names:
                raise InvalidRequest(f"{parsed.provider!r} has no tool {parsed.tool!r}.")
        async with self._lock:
            await asyncio.to_thread(mappings.save, self._settings, source, target)
            self._registry.map(source, target)
            self._sync.mark_current()
