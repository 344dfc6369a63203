"""The `duckduckgo` provider (`langgenius/duckduckgo/duckduckgo`): `ddgo_search`.

Queries DuckDuckGo's HTML endpoint (`tools_duckduckgo_url`, so a deployment can point
it at a mirror or a stand-in) and yields one json message per result,
`{title, href, body}`, as Dify's DuckDuckGo tool does (flows read
`json[0].href`), plus the results as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html  # type: ignore[import-untyped]

from chatflow.settings import Settings
from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text

ID = "duckduckgo"


def parse_results(html: str, base_url: str) -> list[dict[str, str]]:
    """Results of DuckDuckGo's HTML page: its redirect links decoded to the target."""
    if not html.strip():
        return []
    tree = lxml.html.fromstring(html)
    found: list[dict[str, str]] = []
    for result in tree.xpath('//div[contains(concat(" ", @class, " "), " result ")]'):
        anchors = result.xpath('.//a[contains(@class, "result__a")]')
        if not anchors:
            continue
        anchor = anchors[0]
        href = _target(urljoin(base_url, anchor.get("href") or ""))
        if not href or "duckduckgo.com/y.js" in href:  # ads
            continue
        snippets = result.xpath('.//*[contains(@class, "result__snippet")]')
        found.append(
            {
                "title": anchor.text_content().strip(),
                "href": href,
                "body": snippets[0].text_content().strip() if snippets else "",
            }
        )
    return found


def _target(href: str) -> str:
    parts = urlsplit(href)
    if parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


def search_tool(settings: Settings) -> FunctionTool:
    async def ddgo_search(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        query = required_text(params, "query")
        limit = _web.int_param(params, "max_results", 5, 1, 50)
        page = await _web.fetch(
            ctx, "POST", settings.tools_duckduckgo_url, tool="ddgo_search",
            data={"q": query, "b": "", "kl": ""},
        )  # fmt: skip
        results = parse_results(page.text, page.url)[:limit]
        if not results:
            for message in _web.no_results(query):
                yield message
            return
        for result in results:
            yield JsonMessage(result)
        yield TextMessage(_web.results_text(results, "href", "body"))

    descriptor = ToolDescriptor(
        ID,
        "ddgo_search",
        "DuckDuckGo Search",
        "Search the web with DuckDuckGo; returns titles, links and snippets.",
        (
            ToolParameter("query", "string", "Query", "The search query.", required=True),
            ToolParameter(
                "max_results", "number", "Max results", "How many results.", default=5,
                form="form",
            ),
            ToolParameter(
                "require_summary", "boolean", "Summary", "Accepted for Dify compatibility.",
                default=False, form="form",
            ),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, ddgo_search)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/duckduckgo/duckduckgo", "langgenius/duckduckgo"),
        "DuckDuckGo",
        [search_tool(settings)],
        needs=lambda: _web.missing(settings, "tools_duckduckgo_url"),
    )
