"""Opening an MCP session with the official `mcp` SDK over any of its three transports.

HTTP transports (streamable HTTP and the older HTTP+SSE) get their httpx clients from
`guarded_http_factory`, so every connection (and every redirect the SDK follows) passes
the SSRF guard. Stdio servers are commands an operator configured; a DSL or a tool
parameter can never start one.

    async with open_session(McpServer.http("https://mcp.example.com/mcp"), ssrf_allow="") as s:
        tools = await list_all_tools(s)
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import httpx
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from chatflow.net.ssrf import SSRFPolicy, guarded_client
from chatflow.tools import secrets

Transport = Literal["streamable_http", "sse", "stdio"]
TRANSPORTS: tuple[Transport, ...] = ("streamable_http", "sse", "stdio")


@dataclass(frozen=True, slots=True)
class McpServer:
    """Where an MCP server is and how to talk to it. Header and env values may hold
    `${VAR}` references, read from the environment when a session opens."""

    transport: Transport
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    sse_read_timeout: float = 300.0

    @classmethod
    def http(cls, url: str, headers: Mapping[str, str] | None = None, **kw: Any) -> McpServer:
        """A URL whose path ends in `/sse` is the HTTP+SSE transport, else streamable HTTP."""
        transport: Transport = (
            "sse" if urlsplit(url).path.rstrip("/").endswith("/sse") else ("streamable_http")
        )
        return cls(transport=transport, url=url, headers=dict(headers or {}), **kw)

    def secrets_missing(self) -> list[str]:
        words = {f"arg{i}": part for i, part in enumerate(self.command)}
        return secrets.missing({**self.headers, **self.env, **words})

    def describe(self) -> str:
        """What listings show: never header or env values."""
        if self.transport == "stdio":
            # Arguments may carry tokens: only the program and how many follow it.
            program = self.command[0] if self.command else ""
            extra = len(self.command) - 1
            return f"stdio: {program}" + (f" (+{extra} args)" if extra > 0 else "")
        return f"{self.transport}: {self.url}"


def guarded_http_factory(policy: SSRFPolicy) -> Any:
    """An `McpHttpClientFactory` whose clients refuse targets the SSRF guard refuses."""

    def create(
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.AsyncClient:
        client = guarded_client(
            policy,
            timeout=timeout or httpx.Timeout(30.0, read=300.0),
            # The SDK follows same-origin redirects itself; the guard checks each hop.
            follow_redirects=False,
        )
        if headers:
            client.headers.update(headers)
        if auth is not None:
            client.auth = auth
        return client

    return create


def _errlog() -> TextIO:
    """The server's stderr goes to ours, like any child's diagnostics; the process needs
    a real file descriptor, which a replaced `sys.stderr` (a CLI test runner) may lack."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (AttributeError, OSError, ValueError):
            continue
    raise RuntimeError("no stderr to give an MCP stdio server")


@asynccontextmanager
async def _streams(server: McpServer, policy: SSRFPolicy) -> AsyncIterator[tuple[Any, Any]]:
    if server.transport == "stdio":
        if not server.command:
            raise ValueError("a stdio MCP server needs a command")
        words = secrets.expand({str(i): part for i, part in enumerate(server.command)})
        params = StdioServerParameters(
            command=words["0"],
            args=[words[str(i)] for i in range(1, len(server.command))],
            env=secrets.expand(server.env) if server.env else None,
        )
        async with stdio_client(params, errlog=_errlog()) as (read, write):
            yield read, write
        return
    headers = secrets.expand(server.headers)
    policy.check_url(server.url)
    factory = guarded_http_factory(policy)
    if server.transport == "sse":
        async with sse_client(
            server.url,
            headers=headers,
            timeout=server.timeout,
            sse_read_timeout=server.sse_read_timeout,
            httpx_client_factory=factory,
        ) as (read, write):
            yield read, write
        return
    client = factory(
        headers=headers, timeout=httpx.Timeout(server.timeout, read=server.sse_read_timeout)
    )
    async with (
        client,
        streamable_http_client(server.url, http_client=client) as (
            read,
            write,
            _,
        ),
    ):
        yield read, write


@asynccontextmanager
async def open_session(server: McpServer, policy: SSRFPolicy) -> AsyncIterator[ClientSession]:
    """An initialised session; closed (and a stdio server stopped) on exit."""
    async with _streams(server, policy) as (read, write):
        timeout = timedelta(seconds=server.sse_read_timeout)
        async with ClientSession(read, write, read_timeout_seconds=timeout) as session:
            await session.initialize()
            yield session


async def list_all_tools(session: ClientSession) -> list[types.Tool]:
    """Every tool the server offers, following pagination."""
    found: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        found.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return found
