"""Group commit: writes handed over concurrently go out together, one batch at a time.

`GroupCommit` queues what it is given and one flusher task at a time hands everything
queued to its `Flush` as one batch: whatever arrives while a batch runs forms the next
one. A lone write goes at once (no timer, no added latency); batching happens exactly when
writes pile up. A writer learns its own outcome only when its batch is done, so what it
wrote is visible when `submit` returns.

Two users: `Database.write` (every chat turn ends with one small write; one transaction
per turn made the commit, and a pooled connection per turn, the cost of a busy server;
the flushes keep each write whole and failing alone, see `store/db.py`), and the Redis
event streams (`runtime/redis.py`: one XADD pipeline per event cost ~80 µs of CPU, one
pipeline for every stream's pending events ~11 µs per event).

A writer cancelled while its write is still queued takes it out of the queue (nothing is
written, as if it had never been submitted); once its batch runs, the write completes or
fails whole and the outcome is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
# Runs a batch; returns one outcome per write, in order: None (committed) or its error.
Flush = Callable[[list[Item]], Awaitable[Sequence[BaseException | None]]]

# Most writes in one batch: bounds a batch's time (and a Postgres batch's statements).
MAX_BATCH = 256


@dataclass(slots=True)
class _Queued(Generic[Item]):
    item: Item
    done: asyncio.Future[None]


class GroupCommit(Generic[Item]):
    """A queue of writes and the one task that commits them in batches."""

    def __init__(
        self,
        flush: Flush[Item],
        *,
        max_batch: int = MAX_BATCH,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self._flush = flush
        self._observe = observe  # told each batch's size (a metric)
        self._max_batch = max_batch
        self._queue: list[_Queued[Item]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> None:
        """Queue `item` and wait until its batch has committed; raises its own error."""
        loop = asyncio.get_running_loop()
        queued = _Queued(item, loop.create_future())
        self._queue.append(queued)
        if self._flusher is None:
            self._flusher = loop.create_task(self._drain(), name="group-commit")
        # Cancelling the writer cancels this future: the flusher then skips the write.
        await queued.done

    @property
    def queued(self) -> int:
        """Writes waiting for a batch (not counting the one being committed)."""
        return len(self._queue)

    async def drain(self) -> None:
        """Wait until every queued write has been committed (or failed)."""
        while self._flusher is not None:
            await asyncio.wait([self._flusher])

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                batch = [queued for queued in batch if not queued.done.done()]
                if batch:
                    await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[_Queued[Item]]) -> None:
        if self._observe is not None:
            self._observe(len(batch))
        try:
            outcomes = await self._flush([queued.item for queued in batch])
        except asyncio.CancelledError:
            # Shutdown cancelled the flusher mid-batch: its writers must not wait forever.
            for queued in batch + self._queue:
                queued.done.cancel()
            self._queue.clear()
            raise
        except Exception as error:  # the batch failed as a whole (e.g. its commit)
            outcomes = [error] * len(batch)
        for queued, outcome in zip(batch, outcomes, strict=True):
            if queued.done.done():  # its writer was cancelled meanwhile
                continue
            if outcome is None:
                queued.done.set_result(None)
            else:
                queued.done.set_exception(outcome)
