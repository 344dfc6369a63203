"""One long-lived MCP session per configured server, shared by every call.

Opening a session costs a handshake (and, for stdio, a process start), so a provider
keeps one open: a background task holds the SDK's context managers open (they must be
entered and left in one task) and hands the session out. Calls from any task of the same
event loop share it (the SDK multiplexes requests by id). A broken session is dropped
and the call is retried once on a fresh one; `aclose` ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from mcp import ClientSession
from mcp.shared.exceptions import McpError

from chatflow.net.ssrf import SSRFPolicy
from chatflow.tools.mcp.connect import McpServer, open_session

T = TypeVar("T")

# What a session that died (server gone, stream closed) raises to its callers.
_BROKEN: tuple[type[BaseException], ...] = (
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    ConnectionError,
)


class McpConnection:
    def __init__(self, server: McpServer, policy: SSRFPolicy) -> None:
        self.server = server
        self.policy = policy
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._holder: asyncio.Task[None] | None = None
        self._session: ClientSession | None = None
        self._closing: asyncio.Event | None = None

    async def call(self, work: Callable[[ClientSession], Awaitable[T]]) -> T:
        """Run `work` on the shared session, reconnecting once if the session broke."""
        session = await self._open()
        try:
            return await work(session)
        except _BROKEN:
            await self._drop(session)
        except McpError as exc:
            if "closed" not in str(exc).lower():
                raise
            await self._drop(session)
        return await work(await self._open())

    async def _open(self) -> ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A provider outlives an event loop only in tests; the old loop's task is gone.
            self._loop, self._lock, self._holder, self._session = loop, asyncio.Lock(), None, None
        assert self._lock is not None
        async with self._lock:
            if self._session is not None and self._holder is not None and not self._holder.done():
                return self._session
            ready: asyncio.Future[ClientSession] = loop.create_future()
            self._closing = asyncio.Event()
            self._holder = loop.create_task(self._hold(ready, self._closing))
            self._session = await ready
            return self._session

    async def _hold(self, ready: asyncio.Future[ClientSession], closing: asyncio.Event) -> None:
        try:
            async with open_session(self.server, self.policy) as session:
                ready.set_result(session)
                await closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError(exc))
            elif not isinstance(exc, Exception):
                raise
        finally:
            self._session = None

    async def _drop(self, session: ClientSession) -> None:
        if self._session is session:
            await self.aclose()

    async def aclose(self) -> None:
        holder, closing = self._holder, self._closing
        self._holder, self._session = None, None
        if holder is None or closing is None or holder.done():
            return
        if holder.get_loop() is not asyncio.get_running_loop():
            return
        closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(holder), timeout=5)
        except TimeoutError:
            holder.cancel()
