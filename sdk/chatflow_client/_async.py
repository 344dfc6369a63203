"""`AsyncClient`: the asynchronous client. It only sends; everything else lives in `_base.py`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ._base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, BaseClient, Operation
from ._errors import error_from_response, transport_error
from ._resources.annotations import AsyncAnnotations
from ._resources.app import AsyncApp
from ._resources.audio import AsyncAudio
from ._resources.chat import AsyncChat
from ._resources.conversations import AsyncConversations
from ._resources.end_users import AsyncEndUsers
from ._resources.feedbacks import AsyncFeedbacks
from ._resources.files import AsyncFiles
from ._resources.knowledge import AsyncKnowledge
from ._resources.messages import AsyncMessages
from ._resources.workflows import AsyncWorkflows

T = TypeVar("T")


class AsyncClient(BaseClient):
    """Asynchronous client for one app (one API key); the twin of `Client`.

    >>> client = AsyncClient("http://localhost:5001/v1", "app-...")
    >>> (await client.chat.send("Hi", user="u1")).answer
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries,
            backoff=backoff, headers=headers,
        )  # fmt: skip
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=self.timeout)
        self.chat = AsyncChat(self)
        self.messages = AsyncMessages(self)
        self.conversations = AsyncConversations(self)
        self.files = AsyncFiles(self)
        self.feedbacks = AsyncFeedbacks(self)
        self.annotations = AsyncAnnotations(self)
        self.audio = AsyncAudio(self)
        self.app = AsyncApp(self)
        self.workflows = AsyncWorkflows(self)
        self.end_users = AsyncEndUsers(self)
        self.knowledge = AsyncKnowledge(self)  # with a `dataset-...` key

    async def request(self, op: Operation[T]) -> T:
        """Send `op` (with retries where safe) and parse its answer."""
        response = await self._send(op, stream=False)
        try:
            return op.parse(response)
        finally:
            await response.aclose()

    async def open_stream(self, op: Operation[Any]) -> httpx.Response:
        """Send `op` and return the open streaming response (caller closes it)."""
        return await self._send(op, stream=True)

    async def _send(self, op: Operation[Any], *, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(
                    self.build_request(op, stream=stream), stream=stream
                )
            except httpx.TransportError as exc:
                if not self.should_retry(op, attempt, error=exc):
                    raise transport_error(exc) from exc
                await asyncio.sleep(self.retry_delay(attempt))
                attempt += 1
                continue
            if response.is_success:
                return response
            retry = self.should_retry(op, attempt, response=response)
            await response.aread()
            await response.aclose()
            if not retry:
                raise error_from_response(response)
            await asyncio.sleep(self.retry_delay(attempt, response))
            attempt += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
