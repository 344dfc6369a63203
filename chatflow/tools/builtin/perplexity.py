"""The `perplexity` provider (`langgenius/perplexity/perplexity`): the `perplexity`
search tool on Perplexity's OpenAI-style chat API (`tools_perplexity_url`, key
`tools_perplexity_api_key`). Yields the answer as text and `{content, citations}` as
json, as Dify's Perplexity tool does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatflow.settings import Settings
from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "perplexity"
NEEDS = ("tools_perplexity_api_key",)
_NUMBERS = ("max_tokens", "temperature", "top_p", "top_k", "presence_penalty",
            "frequency_penalty")  # fmt: skip


def _number(value: Any) -> float | int | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


def request_body(params: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": text_param(params, "model") or "sonar",
        "messages": [
            {"role": "system", "content": "Be precise and concise."},
            {"role": "user", "content": required_text(params, "query")},
        ],
        "stream": False,
    }
    for name in _NUMBERS:
        number = _number(params.get(name))
        if number is not None:
            body[name] = number
    for name in ("return_images", "return_related_questions"):
        value = params.get(name)
        if value not in (None, ""):
            body[name] = value is True or str(value).lower() in ("true", "1")
    recency = text_param(params, "search_recency_filter").strip()
    if recency:
        body["search_recency_filter"] = recency
    domains = [d.strip() for d in text_param(params, "search_domain_filter").split(",")]
    if any(domains):
        body["search_domain_filter"] = [d for d in domains if d]
    size = text_param(params, "search_context_size").strip()
    if size:
        body["web_search_options"] = {"search_context_size": size}
    return body


def search_tool(settings: Settings) -> FunctionTool:
    async def perplexity(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        _web.require(settings, "perplexity", *NEEDS)
        url = settings.tools_perplexity_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {settings.tools_perplexity_api_key}"}
        answer = await _web.fetch_json(
            ctx, "POST", url, tool="perplexity", headers=headers, json=request_body(params),
            seconds=120.0,
        )  # fmt: skip
        try:
            content = str(answer["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise ToolError("perplexity: the API answered without a message") from None
        yield TextMessage(content)
        yield JsonMessage({"content": content, "citations": answer.get("citations") or []})

    def p(name: str, kind: str, default: Any, *options: str) -> ToolParameter:
        return ToolParameter(name, kind, name.replace("_", " ").title(), default=default,  # type: ignore[arg-type]
                             options=options, form="form")  # fmt: skip

    descriptor = ToolDescriptor(
        ID, "perplexity", "Perplexity Search",
        "Search information using Perplexity AI's language models.",
        (
            ToolParameter("query", "string", "Query", "The text query.", required=True),
            p("model", "select", "sonar", "sonar", "sonar-pro", "sonar-reasoning",
              "sonar-reasoning-pro", "sonar-deep-research"),
            p("max_tokens", "number", 4096), p("temperature", "number", 0.7),
            p("top_k", "number", 5), p("top_p", "number", 1),
            p("presence_penalty", "number", 0), p("frequency_penalty", "number", 1),
            p("return_images", "boolean", False), p("return_related_questions", "boolean", False),
            p("search_domain_filter", "string", ""),
            p("search_recency_filter", "select", "month", "day", "week", "month", "year"),
            p("search_context_size", "select", "low", "low", "medium", "high"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, perplexity)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/perplexity/perplexity", "langgenius/perplexity"),
        "Perplexity",
        [search_tool(settings)],
        needs=lambda: _web.missing(settings, *NEEDS),
    )
