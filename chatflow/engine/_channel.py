"""Hand-over of events from a run's tasks to the single consumer, in batches.

`drain` runs a driver coroutine in its own task and yields what it emits; when the
consumer stops early (cancelled, or the generator is closed) the driver task, and with
it every task of the run, is cancelled before `drain` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from chatflow.engine.events import Event


class Channel:
    """A list of events plus one waiter: cheaper than `asyncio.Queue` per event."""

    __slots__ = ("_closed", "_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def emit(self, event: Event) -> None:
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_batch(self) -> list[Event] | None:
        """The events emitted since the last call, or None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        batch, self._items = self._items, []
        return batch


async def drain(
    driver: Coroutine[Any, Any, None], channel: Channel
) -> AsyncGenerator[list[Event], None]:
    """Run `driver` in a task and yield the channel's batches until it closes."""

    async def drive() -> None:
        try:
            await driver
        finally:
            channel.close()

    task = asyncio.create_task(drive())
    try:
        while (batch := await channel.next_batch()) is not None:
            yield batch
        await task
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
