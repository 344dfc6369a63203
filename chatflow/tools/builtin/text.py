"""The `text` provider: small text utilities (also Dify's `regex` extraction).

regex_extract (every match, as `langgenius/regex`), text_stats, case_convert,
substring_replace and split. Regexes are bounded in length and run on bounded input so
a hostile pattern cannot hold the worker for long.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
    VariableMessage,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "text"
MAX_PATTERN = 500
MAX_INPUT = 1_000_000


def _content(params: Mapping[str, Any]) -> str:
    content = text_param(params, "content")
    if len(content) > MAX_INPUT:
        raise ToolError(f"content longer than {MAX_INPUT} characters")
    return content


async def regex_extract(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
    pattern = required_text(params, "expression")
    if len(pattern) > MAX_PATTERN:
        raise ToolError(f"expression longer than {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ToolError(f"Invalid regular expression: {error}") from error
    matches: list[Any] = []
    for match in compiled.finditer(_content(params)):
        groups = match.groups()
        matches.append(groups[0] if len(groups) == 1 else list(groups) if groups else match[0])
    yield TextMessage(
        "\n".join(m if isinstance(m, str) else " ".join(map(str, m)) for m in matches)
    )
    yield JsonMessage({"matches": matches})


async def text_stats(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
    content = _content(params)
    stats = {
        "characters": len(content),
        "characters_no_spaces": len(re.sub(r"\s", "", content)),
        "words": len(content.split()),
        "lines": len(content.splitlines()) if content else 0,
    }
    yield JsonMessage(stats)
    yield TextMessage(", ".join(f"{key}: {value}" for key, value in stats.items()))


_CASES = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "capitalize": str.capitalize,
    "swapcase": str.swapcase,
}


async def case_convert(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
    mode = text_param(params, "mode", "upper")
    if mode not in _CASES:
        raise ToolError(f"mode must be one of {', '.join(_CASES)}, got {mode!r}")
    yield TextMessage(_CASES[mode](_content(params)))


async def substring_replace(
    params: Mapping[str, Any], ctx: ToolContext
) -> AsyncIterator[TextMessage]:
    find = text_param(params, "find")
    if not find:
        raise ToolError("parameter 'find' is required")
    yield TextMessage(_content(params).replace(find, text_param(params, "replace")))


async def split(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
    delimiter = text_param(params, "delimiter") or "\n"
    parts = _content(params).split(delimiter.encode().decode("unicode_escape"))
    yield VariableMessage("parts", parts)
    yield JsonMessage({"parts": parts})


def provider(settings: Settings) -> BuiltinProvider:
    content = ToolParameter("content", "string", "Text", required=True)

    def tool(name: str, description: str, *params: ToolParameter) -> ToolDescriptor:
        return ToolDescriptor(ID, name, name.replace("_", " ").title(), description, params)

    tools = [
        FunctionTool(
            tool(
                "regex_extract",
                "Every match of a regular expression (first group if any).",
                content,
                ToolParameter("expression", "string", "Regex", required=True),
            ),
            regex_extract,
        ),
        FunctionTool(tool("text_stats", "Count characters, words and lines.", content), text_stats),
        FunctionTool(
            tool(
                "case_convert",
                "Upper, lower, title, capitalize or swap case.",
                content,
                ToolParameter(
                    "mode", "select", "Mode", default="upper", options=tuple(_CASES), form="form"
                ),
            ),
            case_convert,
        ),
        FunctionTool(
            tool(
                "substring_replace",
                "Replace every occurrence of a substring.",
                content,
                ToolParameter("find", "string", "Find", required=True),
                ToolParameter("replace", "string", "Replace with", default=""),
            ),
            substring_replace,
        ),
        FunctionTool(
            tool(
                "split",
                "Split text by a delimiter into the `parts` output.",
                content,
                ToolParameter("delimiter", "string", "Delimiter", default="\\n"),
            ),
            split,
        ),
    ]
    return BuiltinProvider(
        ID, ("regex", "langgenius/regex/regex", "text_utils"), "Text utilities", tools
    )
