"""An operator's OpenAPI spec as a tool provider (`chatflow tools add-openapi`).

The spec is read once, when it is added (from a file, or a URL fetched through the SSRF
guard), and its document is kept in the remote-tools store, so a server start never
depends on the spec's host. Dify's `provider_type: api` tool nodes name the provider by
its name (or the Dify id an operator maps with `--alias`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chatflow.net.ssrf import guarded_client
from chatflow.tools import secrets
from chatflow.tools.base import Tool
from chatflow.tools.openapi.spec import SpecError, load_document, parse_spec
from chatflow.tools.openapi.tool import OpenApiTool

_MAX_SPEC_BYTES = 5 * 1024 * 1024


class OpenApiProvider:
    def __init__(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        source_url: str = "",
        headers: Mapping[str, str] | None = None,
        aliases: Sequence[str] = (),
        label: str = "",
    ) -> None:
        self.id = name
        self.aliases = tuple(aliases)
        self.label = label or str((document.get("info") or {}).get("title") or name)
        self.headers = dict(headers or {})
        self._tools = [
            OpenApiTool(name, operation, self.headers)
            for operation in parse_spec(document, source_url)
        ]

    async def tools(self) -> Sequence[Tool]:
        return self._tools

    @property
    def tool_names(self) -> list[str]:
        return [tool.descriptor.name for tool in self._tools]

    def missing_configuration(self) -> str | None:
        absent = secrets.missing(self.headers)
        if not absent:
            return None
        return f"environment variable(s) {', '.join(absent)} (used in {self.id}'s headers)"


async def read_spec(source: str, *, ssrf_allow: str = "") -> tuple[dict[str, Any], str]:
    """The document at `source` (a path or an http(s) URL) and the URL it came from."""
    if source.startswith(("http://", "https://")):
        async with guarded_client(ssrf_allow) as client:
            async with client.stream("GET", source) as response:
                if response.status_code >= 400:
                    raise SpecError(f"fetching {source} failed with status {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > _MAX_SPEC_BYTES:
                        raise SpecError(f"the spec at {source} is larger than 5 MiB")
                final_url = str(response.url)
        return load_document(body.decode("utf-8", "replace")), final_url
    try:
        text = await asyncio.to_thread(Path(source).read_text, encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {source}: {exc.strerror or exc}") from None
    return load_document(text), ""
