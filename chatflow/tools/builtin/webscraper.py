"""The `webscraper` provider (`langgenius/webscraper/webscraper`): `webscraper` (a page's
main text in Dify's layout, which flows slice after `TEXT:\n\n`) and `url_to_markdown`
(the page's main content as Markdown).

Pages are fetched through the SSRF guard with a size limit; extraction is trafilatura's
(boilerplate such as menus and footers dropped), run in a worker thread so a large page
does not stall the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import trafilatura

from chatflow.settings import Settings
from chatflow.tools.base import TextMessage, ToolContext, ToolDescriptor, ToolError, ToolParameter
from chatflow.tools.builtin import _web
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param

ID = "webscraper"
# Dify's web reader layout (`core/tools/utils/web_reader_tool.py`).
TEMPLATE = """
TITLE: {title}
AUTHORS: {authors}
PUBLISH DATE: {publish_date}
TOP_IMAGE_URL: {top_image}
TEXT:

{text}
"""
_TEXT_TYPES = ("text/plain", "application/json", "text/markdown", "text/csv", "application/xml")


def _url(params: Mapping[str, Any]) -> str:
    url = required_text(params, "url")
    if "://" not in url:
        url = f"https://{url}"
    return url


async def _page(params: Mapping[str, Any], ctx: ToolContext, tool: str) -> _web.Page:
    headers = {}
    agent = text_param(params, "user_agent").strip()
    if agent:
        headers["User-Agent"] = agent
    return await _web.fetch(ctx, "GET", _url(params), tool=tool, headers=headers)


def _kind(page: _web.Page) -> str:
    return page.content_type.split(";")[0].strip().lower()


def markdown(html: str, url: str) -> str:
    text = trafilatura.extract(
        html, url=url, output_format="markdown", include_links=True, include_tables=True,
        favor_recall=True,
    )  # fmt: skip
    if text:
        return text
    # Pages too small for the boilerplate heuristics: all of their visible text.
    return trafilatura.html2txt(html).strip()


def scraped(html: str, url: str) -> str:
    metadata = trafilatura.extract_metadata(html, default_url=url)
    text = trafilatura.extract(html, url=url, include_tables=True, favor_recall=True)
    return TEMPLATE.format(
        title=(metadata.title if metadata else None) or "",
        authors=(metadata.author if metadata else None) or "",
        publish_date=(metadata.date if metadata else None) or "",
        top_image=(metadata.image if metadata else None) or "",
        text=text or trafilatura.html2txt(html).strip(),
    )


def scraper_tool() -> FunctionTool:
    async def webscraper(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[TextMessage]:
        page = await _page(params, ctx, "webscraper")
        kind = _kind(page)
        if kind in _TEXT_TYPES:
            yield TextMessage(page.text)
            return
        if kind and "html" not in kind:
            raise ToolError(f"webscraper: unsupported content-type {kind} at {_url(params)}")
        yield TextMessage(await asyncio.to_thread(scraped, page.text, page.url))

    descriptor = ToolDescriptor(
        ID, "webscraper", "Web Scraper", "Read a web page's main text.",
        (
            ToolParameter("url", "string", "URL", "The page to read.", required=True),
            ToolParameter("user_agent", "string", "User agent", form="form"),
            ToolParameter("generate_summary", "boolean", "Summary",
                          "Accepted for Dify compatibility.", form="form"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, webscraper)


def markdown_tool() -> FunctionTool:
    async def url_to_markdown(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[TextMessage]:
        page = await _page(params, ctx, "url_to_markdown")
        kind = _kind(page)
        if kind in _TEXT_TYPES:
            yield TextMessage(page.text)
            return
        if kind and "html" not in kind:
            raise ToolError(f"url_to_markdown: unsupported content-type {kind} at {_url(params)}")
        yield TextMessage(await asyncio.to_thread(markdown, page.text, page.url))

    descriptor = ToolDescriptor(
        ID, "url_to_markdown", "URL to Markdown", "A web page's main content as Markdown.",
        (
            ToolParameter("url", "string", "URL", "The page to convert.", required=True),
            ToolParameter("user_agent", "string", "User agent", form="form"),
        ),
    )  # fmt: skip
    return FunctionTool(descriptor, url_to_markdown)


def provider(settings: Settings) -> BuiltinProvider:
    return BuiltinProvider(
        ID,
        ("langgenius/webscraper/webscraper", "langgenius/webscraper"),
        "Web Scraper",
        [scraper_tool(), markdown_tool()],
    )
