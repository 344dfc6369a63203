"""How files in an LLM prompt reach the model: images as parts, documents as text.

Images become `ImagePart`s (a URL, or the bytes as a data: URL); backends without vision
drop them. Documents become their extracted text (the document-extractor's converters,
`nodes/_documents.py`) in a `<document name="...">...</document>` block appended to the
message's text, cut at `EngineLimits.llm_document_max_chars` with a note. Audio and
video are left out without error.

Where this differs from Dify (graphon `llm_utils` / `file_manager.to_prompt_message_content`):
Dify sends documents, audio and video natively as `DocumentPromptMessageContent` etc. and
drops them for models whose schema lacks that feature, so a non-document model never
sees an uploaded PDF; our chat protocol carries only text and images, so every backend
gets the document's text instead. Dify writes `[Unsupported file type: name (custom)]`
for custom files; we extract them like documents when the extension is known. A
document that cannot be read or parsed does not fail the node here (Dify would fail on a
download error): the block says why its text is missing, so the model can tell the user.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Literal

from chatflow.engine.files import File
from chatflow.engine.nodes._documents import extract_text
from chatflow.engine.nodes.base import EngineServices
from chatflow.errors import NodeError
from chatflow.providers.base import ImagePart

Detail = Literal["low", "high", "auto"]
_SKIPPED = frozenset({"audio", "video"})


async def image_part(file: File, services: EngineServices, detail: Detail) -> ImagePart | None:
    """An image for the model: its URL when remote, else the bytes as a data: URL.
    Files of other kinds are not images and give None."""
    if file.type != "image":
        return None
    if file.transfer_method == "remote_url" and file.url:
        return ImagePart(file.url, detail)
    if services.file_reader is not None:
        data = await services.file_reader(file)
        mime = file.mime_type or "image/png"
        return ImagePart(f"data:{mime};base64,{base64.b64encode(data).decode()}", detail)
    return ImagePart(file.url, detail) if file.url else None


async def document_block(file: File, services: EngineServices) -> str | None:
    """A delimited block with the file's extracted text; None for images, audio, video."""
    if file.type == "image" or file.type in _SKIPPED:
        return None
    name = html.escape(file.filename or file.id or "document", quote=True)
    try:
        text = await extract_text(services.file_reader, file, services.limits)
    except NodeError as exc:
        text = f"[The text of this file is unavailable: {exc}]"
    else:
        limit = services.limits.llm_document_max_chars
        if len(text) > limit:
            note = f"\n[Truncated: the first {limit} of {len(text)} characters are shown.]"
            text = text[:limit] + note
    return f'<document name="{name}">\n{text}\n</document>'


async def with_documents(text: str, files: Sequence[File], services: EngineServices) -> str:
    """`text` followed by a block for each document among `files`, in order."""
    blocks = [block for file in files if (block := await document_block(file, services))]
    return "\n\n".join([text, *blocks] if text else blocks)
