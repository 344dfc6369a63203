"""An MCP `CallToolResult` as tool messages, the way Dify's MCP tools read it.

Text that is a JSON object becomes a json message (a list of objects, one per object);
other text stays text; images and audio become blobs; embedded resources become text or
blobs; `structuredContent` sets one output variable per key. A result flagged `isError`
fails the tool with its text.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mcp import types

from chatflow.tools.base import (
    BlobMessage,
    JsonMessage,
    LinkMessage,
    TextMessage,
    ToolError,
    ToolMessage,
    VariableMessage,
)

_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "application/pdf": "pdf",
}


def _filename(stem: str, mime_type: str) -> str:
    return f"{stem}.{_EXTENSIONS.get(mime_type, 'bin')}"


def text_messages(text: str) -> list[ToolMessage]:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            value: Any = json.loads(stripped)
        except ValueError:
            return [TextMessage(text)]
        if isinstance(value, dict):
            return [JsonMessage(value)]
        if isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
            return [JsonMessage(item) for item in value]
        return [TextMessage(text)]
    return [TextMessage(text)]


def result_messages(tool: str, result: types.CallToolResult) -> list[ToolMessage]:
    if result.isError:
        texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
        raise ToolError(f"MCP tool '{tool}' failed: {' '.join(texts) or 'no details'}")
    messages: list[ToolMessage] = []
    for index, content in enumerate(result.content):
        if isinstance(content, types.TextContent):
            messages.extend(text_messages(content.text))
        elif isinstance(content, types.ImageContent | types.AudioContent):
            data = base64.b64decode(content.data)
            name = _filename(f"{tool}-{index}", content.mimeType)
            messages.append(BlobMessage(data, name, content.mimeType))
        elif isinstance(content, types.EmbeddedResource):
            resource = content.resource
            if isinstance(resource, types.TextResourceContents):
                messages.append(TextMessage(resource.text))
            else:
                mime_type = resource.mimeType or "application/octet-stream"
                stem = str(resource.uri).rstrip("/").rsplit("/", 1)[-1] or f"{tool}-{index}"
                name = stem if "." in stem else _filename(stem, mime_type)
                messages.append(BlobMessage(base64.b64decode(resource.blob), name, mime_type))
        elif isinstance(content, types.ResourceLink):
            messages.append(LinkMessage(str(content.uri)))
    if isinstance(result.structuredContent, dict):
        messages.extend(VariableMessage(k, v) for k, v in result.structuredContent.items())
    return messages
