"""The engine's `ToolRuntime`: runs a tool and turns its messages into node outputs.

Resolution goes through the `ToolRegistry` (id forms and operator mappings); a provider
that is unknown or lacks a setting fails the call with the command or setting that fixes
it. Messages become what the tool node collects, as Dify's tool node does: text is
streamed, a link is text `Link: url`, blobs and images are stored as tool files (images
fetched through the SSRF guard) and become `File`s, JSON goes to `json`, variables to
their own outputs.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import httpx

from chatflow.engine.files import File
from chatflow.engine.nodes.base import ToolCaller
from chatflow.net.ssrf import guarded_client
from chatflow.tools.base import (
    BlobMessage,
    ImageMessage,
    JsonMessage,
    LinkMessage,
    TextMessage,
    Tool,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolNotConfigured,
    ToolProvider,
    VariableMessage,
)
from chatflow.tools.file_sync import ToolFileSync
from chatflow.tools.parameters import prepare
from chatflow.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from chatflow.settings import Settings

# The most an image a tool links to may weigh when it is fetched and stored.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


class ToolFileSaver(Protocol):
    async def save(
        self, content: bytes, filename: str, mime_type: str, caller: ToolCaller | None = None
    ) -> File: ...


class ToolRuntimeService:
    """One per server; `invoke` is called per node run with the run's caller."""

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        files: ToolFileSaver | None = None,
        settings: Settings | None = None,
        services: Mapping[str, Any] | None = None,
        http_factory: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.registry = registry
        self._files = files
        self._settings = settings
        self._services = dict(services or {})
        allow = settings.ssrf_allow if settings is not None else ""
        self._http = http_factory or (lambda: guarded_client(allow))
        self._cache: dict[tuple[str, str], tuple[int, Tool, ToolProvider]] = {}
        # Set by the server: picks up tool files another process wrote (`file_sync.py`).
        self.sync: ToolFileSync | None = None

    async def _find(self, provider: str, tool: str) -> tuple[Tool, ToolProvider]:
        """The tool and its provider, cached per reference until the registry changes."""
        if self.sync is not None:
            await self.sync.check()
        key = (provider, tool)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self.registry.version:
            return cached[1], cached[2]
        found = await self.registry.find(provider, tool)
        resolved = self.registry.resolve(provider, tool)
        assert resolved is not None  # `find` succeeded
        self._cache[key] = (self.registry.version, found, resolved.provider)
        return found, resolved.provider

    async def describe(self, provider: str, tool: str) -> ToolDescriptor:
        if self.sync is not None:
            await self.sync.check()
        return await self.registry.describe(provider, tool)

    def context(self, caller: ToolCaller | None) -> ToolContext:
        caller = caller or ToolCaller()
        services = self._services
        # A file reader scoped to the calling run: a tool reads only that app's and that
        # end user's files.
        reader_for = services.get("file_reader_for")
        if callable(reader_for):
            services = {**services, "file_reader": reader_for(caller)}
        return ToolContext(
            app_id=caller.app_id,
            user_id=caller.user_id,
            conversation_id=caller.conversation_id,
            settings=self._settings,
            http_factory=self._http,
            services=services,
        )

    async def messages(
        self,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[ToolMessage]:
        """The tool's own messages, after resolution, configuration and parameter checks."""
        found, owner = await self._find(provider, tool)
        needs = owner.missing_configuration()
        if needs:
            raise ToolNotConfigured(f"tool provider '{provider}' is not configured: set {needs}")
        values = prepare(found.descriptor, parameters)
        async for message in found.invoke(values, self.context(caller)):
            yield message

    async def invoke(
        self,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[Any]:
        async for message in self.messages(provider, tool, parameters, caller=caller):
            if isinstance(message, TextMessage):
                yield message.text
            elif isinstance(message, LinkMessage):
                yield f"Link: {message.url}\n"
            elif isinstance(message, BlobMessage):
                yield await self._save(message.data, message.filename, message.mime_type, caller)
            elif isinstance(message, ImageMessage):
                yield await self._image(message.url, caller)
            elif isinstance(message, VariableMessage):
                yield {"variable": message.name, "value": message.value}
            elif isinstance(message, JsonMessage):
                value = message.value
                # The node reads a bare string as text; JSON output is always a container.
                yield value if isinstance(value, dict | list) else {"data": value}
            else:
                raise ToolError(f"tool '{tool}' yielded an unknown message {message!r}")

    async def _save(
        self, data: bytes, filename: str, mime_type: str, caller: ToolCaller | None
    ) -> File:
        if self._files is None:
            raise ToolError("the tool made a file, but no file storage is configured")
        return await self._files.save(data, filename, mime_type, caller)

    async def _image(self, url: str, caller: ToolCaller | None) -> File:
        async with self._http() as client, client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ToolError(f"could not fetch image {url}: HTTP {response.status_code}")
            parts: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > MAX_IMAGE_BYTES:
                    raise ToolError(f"image {url} is larger than {MAX_IMAGE_BYTES} bytes")
                parts.append(chunk)
            mime = response.headers.get("content-type", "").split(";")[0].strip()
        name = urlparse(url).path.rsplit("/", 1)[-1] or "image"
        if "." not in name:
            name += mimetypes.guess_extension(mime or "image/png") or ".png"
        return await self._save(b"".join(parts), name, mime or "image/png", caller)
