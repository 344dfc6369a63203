"""The seam between resources and clients: what a resource needs from `Client`/`AsyncClient`."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import httpx

from .._base import Operation

T = TypeVar("T")


class SyncRequester(Protocol):
    def request(self, op: Operation[T]) -> T: ...
    def open_stream(self, op: Operation[Any]) -> httpx.Response: ...


class AsyncRequester(Protocol):
    async def request(self, op: Operation[T]) -> T: ...
    async def open_stream(self, op: Operation[Any]) -> httpx.Response: ...


class SyncResource:
    def __init__(self, client: SyncRequester) -> None:
        self._client = client


class AsyncResource:
    def __init__(self, client: AsyncRequester) -> None:
        self._client = client
