"""What the web built-ins share: a size-limited fetch through the tool context's
SSRF-guarded client, JSON requests with clear errors, and settings that say exactly
which environment variable to set when they are missing.

Error messages never include request headers or query strings (keys travel in them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from charset_normalizer import from_bytes

from chatflow.net.ssrf import SSRFBlocked
from chatflow.settings import Settings, env_name
from chatflow.tools.base import TextMessage, ToolContext, ToolError, ToolMessage, ToolNotConfigured
from chatflow.tools.secrets import redact_request_logs

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
USER_AGENT = "Mozilla/5.0 (compatible; chatflow-server tools)"

# Keys some APIs take in the query string must not reach httpx's request log.
redact_request_logs()


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        charset = ""
        if "charset=" in self.content_type:
            charset = self.content_type.split("charset=", 1)[1].split(";")[0].strip()
        try:
            return self.body.decode(charset or "utf-8")
        except (LookupError, UnicodeDecodeError):
            best = from_bytes(self.body).best()
            return str(best) if best is not None else self.body.decode("utf-8", "replace")


def missing(settings: Settings, *fields: str) -> str | None:
    """The environment variables to set for `fields` that are empty, or None."""
    absent = [env_name(field) for field in fields if not getattr(settings, field)]
    return ", ".join(absent) if absent else None


def require(settings: Settings, tool: str, *fields: str) -> None:
    needs = missing(settings, *fields)
    if needs:
        raise ToolNotConfigured(f"{tool} needs {needs}")


def max_bytes(ctx: ToolContext) -> int:
    return ctx.settings.tools_web_max_bytes if ctx.settings is not None else DEFAULT_MAX_BYTES


def _where(url: httpx.URL | str) -> str:
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))


async def fetch(
    ctx: ToolContext,
    method: str,
    url: str,
    *,
    tool: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    seconds: float = 30.0,
) -> Page:
    """One request; the body is read up to the size limit. HTTP errors fail the tool."""
    limit = max_bytes(ctx)
    merged = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        async with ctx.http() as client:
            request = client.build_request(
                method, url, headers=merged, params=params, json=json, data=data,
                timeout=seconds,
            )  # fmt: skip
            response = await client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > limit:
                        raise ToolError(f"{tool}: {_where(url)} answered more than {limit} bytes")
            finally:
                await response.aclose()
    except httpx.HTTPError as exc:
        raise ToolError(f"{tool}: request to {_where(url)} failed: {exc}") from None
    except SSRFBlocked as exc:
        raise ToolError(f"{tool}: {exc.message}") from None
    page = Page(
        str(response.url),
        response.status_code,
        response.headers.get("content-type", ""),
        bytes(body),
    )
    if page.status >= 400:
        raise ToolError(
            f"{tool}: {_where(url)} answered HTTP {page.status}: {page.text[:300].strip()}"
        )
    return page


async def fetch_json(ctx: ToolContext, method: str, url: str, *, tool: str, **kw: Any) -> Any:
    page = await fetch(ctx, method, url, tool=tool, **kw)
    try:
        import json

        return json.loads(page.text)
    except ValueError:
        raise ToolError(f"{tool}: {_where(url)} did not answer JSON") from None


def results_text(results: Sequence[Mapping[str, Any]], link: str, body: str) -> str:
    """Search results as the text a model reads: title, link and snippet per result."""
    blocks = []
    for item in results:
        lines = [str(item.get("title") or "").strip(), str(item.get(link) or "").strip()]
        snippet = str(item.get(body) or "").strip()
        if snippet:
            lines.append(snippet)
        blocks.append("\n".join(line for line in lines if line))
    return "\n\n".join(blocks)


def no_results(query: str) -> list[ToolMessage]:
    return [TextMessage(f"No results found for '{query}'.")]


def int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    try:
        number = int(float(value)) if value not in (None, "") else default
    except (TypeError, ValueError):
        number = default
    return max(low, min(high, number))
