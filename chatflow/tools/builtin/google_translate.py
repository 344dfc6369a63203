"""The `google_translate` provider (`langgenius/google_translate/google_translate`):
`translate` (content to the `dest` language) on Google's keyless web endpoint
(`tools_google_translate_url`), as Dify's tool does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatflow.settings import Settings
from chatflow.tools.base import (
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolParameter,
)
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "google_translate"


def translated_text(answer: Any) -> str:
    """The endpoint answers `[[["translated", "source", ...], ...], ...]`."""
    try:
        return "".join(str(part[0]) for part in answer[0] if part and part[0])
    except (TypeError, IndexError, KeyError):
        raise ToolError("translate: the endpoint answered an unexpected shape") from None


def translate_tool(settings: Settings) -> FunctionTool:
    async def translate(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
        content = required_text(params, "content")
        dest = text_param(params, "dest").strip() or "en"
        answer = await _web.fetch_json(
            ctx, "GET", settings.tools_google_translate_url, tool="translate",
            params={"client": "gtx", "sl": "auto", "tl": dest, "dt": "t", "q": content},
        )  # fmt: skip
        yield TextMessage(translated_text(answer))

    descriptor = ToolDescriptor(
        ID, "translate", "Translate", "Translate text into another language.",
        (
            ToolParameter("content", "string", "Text", "The text to translate.", required=True),
            ToolParameter("dest", "string", "Target language", "Language code, e.g. en, zh.",
                          default="en", form="form"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, translate)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/google_translate/google_translate", "langgenius/google_translate"),
        "Google Translate",
        [translate_tool(settings)],
        needs=lambda: _web.missing(settings, "tools_google_translate_url"),
    )
