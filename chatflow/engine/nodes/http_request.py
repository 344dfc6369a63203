"""The http-request node: one templated HTTP call through the SSRF guard.

Matches Dify: method, templated url/headers/params/body (`_http_build`), authorization,
connect/read/write timeouts, `ssl_verify`, redirects followed; outputs `status_code`,
`body`, `headers` and `files` (a binary response becomes a file through the server's
`file_saver`, and `body` is then empty). A non-2xx status does not fail the node; a
response over the text/binary size limits does. Retries come from the runner.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatflow.engine.nodes._http_build import (
    Authorization,
    Body,
    KeyValue,
    Prepared,
    RequestError,
    authorize,
    body,
    key_values,
)
from chatflow.engine.nodes.base import NodeConfig, NodeContext, NodeEvent, NodeResult
from chatflow.engine.template import render
from chatflow.errors import NodeError
from chatflow.net import SSRFBlocked, SSRFPolicy, guarded_client

TYPE = "http-request"

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/x-yaml",
    "application/graphql",
    "+json",
    "+xml",
)


class Timeout(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    connect: float | None = None
    read: float | None = None
    write: float | None = None


class Config(NodeConfig):
    method: Literal["get", "post", "put", "patch", "delete", "head", "options"] = "get"
    url: str = ""
    authorization: Authorization = Field(default_factory=Authorization)
    headers: str | list[KeyValue] = ""
    params: str | list[KeyValue] = ""
    body: Body | None = None
    timeout: Timeout | None = None
    ssl_verify: bool = True
    follow_redirects: bool = True

    @field_validator("method", mode="before")
    @classmethod
    def _lower_method(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


async def run(ctx: NodeContext, config: Config) -> AsyncIterator[NodeEvent]:
    """Send the request; transport and guard failures fail the node with a clear reason."""
    pool, limits = ctx.pool, ctx.services.limits
    url = render(config.url, pool).strip()
    prepared = Prepared(
        headers=key_values(config.headers, pool), params=key_values(config.params, pool)
    )
    try:
        authorize(prepared, config.authorization, pool)
        if config.body is not None:
            await body(prepared, config.body, pool, ctx.services.file_reader)
    except RequestError as exc:
        raise NodeError(str(exc), node_id=ctx.node_id, error_type="RequestBodyError") from exc
    method = config.method.upper()
    process_data = {"request": _describe(method, url, prepared)}
    timeout = _timeout(config.timeout, limits.http_timeout_seconds)
    limit = max(limits.http_max_text_size, limits.http_max_binary_size)
    try:
        # httpx treats a host-less URL (`file:///x`) as relative and drops its scheme, so
        # check the URL as written too, for a message that names the real problem.
        SSRFPolicy.parse(ctx.services.ssrf_allow).check_url(url)
    except SSRFBlocked as exc:
        raise NodeError(
            exc.message, node_id=ctx.node_id, error_type="HttpRequestNodeError"
        ) from exc
    client = guarded_client(
        ctx.services.ssrf_allow,
        verify=_ssl_context() if config.ssl_verify else False,
        timeout=timeout,
        follow_redirects=config.follow_redirects,
    )
    try:
        async with (
            client,
            client.stream(
                method,
                url,
                headers=prepared.headers,
                params=tuple(prepared.params) or None,
                content=prepared.content,
                data=prepared.data,
                files=prepared.files,
            ) as response,
        ):
            content = await _read_capped(response, limit, ctx.node_id)
    except SSRFBlocked as exc:
        raise NodeError(
            exc.message, node_id=ctx.node_id, error_type="HttpRequestNodeError"
        ) from exc
    except httpx.HTTPError as exc:
        raise NodeError(
            f"HTTP request failed: {type(exc).__name__}: {exc}".rstrip(": "),
            node_id=ctx.node_id,
            error_type="HttpRequestNodeError",
        ) from exc
    outputs = await _outputs(ctx, response, content)
    yield NodeResult(outputs=outputs, inputs={}, process_data=process_data)


async def _outputs(ctx: NodeContext, response: httpx.Response, content: bytes) -> dict[str, Any]:
    limits = ctx.services.limits
    headers = dict(response.headers)
    files: list[Any] = []
    text = ""
    if _is_file(response, content):
        _check_size(content, limits.http_max_binary_size, "File", ctx.node_id)
        saver = ctx.services.file_saver
        if saver is None:
            raise NodeError(
                "the response is a file, but no file store is configured",
                node_id=ctx.node_id,
                error_type="HttpRequestNodeError",
            )
        mime = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        files.append(await saver(content, _filename(response), mime.strip()))
    else:
        _check_size(content, limits.http_max_text_size, "Text", ctx.node_id)
        text = content.decode(response.encoding or "utf-8", errors="replace")
    return {"status_code": response.status_code, "body": text, "headers": headers, "files": files}


def _is_file(response: httpx.Response, content: bytes) -> bool:
    """Dify's rule: attachments are files, text-like types are not, media types are;
    anything else is a file unless it decodes as UTF-8."""
    disposition = response.headers.get("content-disposition", "").lower()
    if "attachment" in disposition or "filename" in disposition:
        return True
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if any(marker in content_type for marker in _TEXT_TYPES):
        return False
    if content_type.startswith(("image/", "audio/", "video/")):
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _filename(response: httpx.Response) -> str:
    disposition: str = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"')
    name = response.url.path.rsplit("/", 1)[-1]
    return str(name) or "file"


async def _read_capped(response: httpx.Response, limit: int, node_id: str) -> bytes:
    """Read at most `limit` bytes: an endless response must not exhaust memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            _check_size(b"", limit, "Response", node_id, actual=size)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_size(
    content: bytes, limit: int, what: str, node_id: str, *, actual: int | None = None
) -> None:
    size = len(content) if actual is None else actual
    if size > limit:
        raise NodeError(
            f"{what} size is too large, max size is {limit / 1024 / 1024:.2f} MB, "
            f"but current size is {size / 1024 / 1024:.2f} MB.",
            node_id=node_id,
            error_type="ResponseSizeError",
        )


def _timeout(config: Timeout | None, default: float) -> httpx.Timeout:
    """Dify's defaults: connect 10 s, read 60 s, write 20 s; never above the limit."""
    config = config or Timeout()

    def pick(value: float | None, fallback: float) -> float:
        return min(value if value and value > 0 else fallback, default)

    return httpx.Timeout(
        connect=pick(config.connect, 10.0),
        read=pick(config.read, 60.0),
        write=pick(config.write, 20.0),
        pool=pick(config.connect, 10.0),
    )


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~10 ms); every request can share one.
    return httpx.create_ssl_context()


def _describe(method: str, url: str, prepared: Prepared) -> str:
    """Dify's `process_data.request`: the request as text, credentials masked."""
    lines = [f"{method} {url} HTTP/1.1"]
    for key, value in prepared.headers:
        masked = key.lower() in {"authorization", "x-api-key", "api-key"}
        lines.append(f"{key}: {'*' * 8 if masked else value}")
    text = ""
    if isinstance(prepared.content, bytes):
        text = prepared.content[:1024].decode("utf-8", errors="replace")
    elif prepared.data:
        text = "&".join(f"{k}={v}" for k, v in prepared.data.items())
    return "\r\n".join(lines) + "\r\n\r\n" + text
