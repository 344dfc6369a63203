"""Group commit: the writes of concurrent turns share one transaction.

Every chat turn ends with one small write (`Database.write`: its message, run and node
executions). One transaction per turn makes the commit the dominant cost of a busy
server: on SQLite each commit appends its pages to the WAL (the same B-tree pages again
and again for neighbouring turns), on Postgres each commit is a WAL flush and every turn
holds a pooled connection for its round trip. `GroupCommit` queues the writes handed to it
and one flusher task at a time runs everything queued as one batch: whatever arrives while
a batch runs forms the next one. A lone write goes at once (no timer, no added latency);
batching happens exactly when writes pile up.

The flusher (`Flush`, given by `Database`) keeps each write whole and apart: on SQLite
every write runs inside its own SAVEPOINT (a failing write is rolled back to it, the rest
commit); on Postgres a failing write aborts the shared transaction, so the batch is rolled
back and each write rerun in its own transaction (only the bad one fails again). A writer
learns its outcome only once the batch has committed, so what it wrote is readable when
`submit` returns (a client that sees a turn's end can read the message back).

A writer cancelled while its write is still queued takes it out of the queue (nothing is
written, as if it had never been submitted); once its batch runs, the write completes or
fails whole and the outcome is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatflow.observability import metrics as m

Item = TypeVar("Item")
# Runs a batch; returns one outcome per write, in order: None (committed) or its error.
Flush = Callable[[list[Item]], Awaitable[Sequence[BaseException | None]]]

# Most writes in one transaction: bounds a batch's time (and its Postgres statements).
MAX_BATCH = 256


@dataclass(slots=True)
class _Queued(Generic[Item]):
    item: Item
    done: asyncio.Future[None]


class GroupCommit(Generic[Item]):
    """A queue of writes and the one task that commits them in batches."""

    def __init__(self, flush: Flush[Item], *, max_batch: int = MAX_BATCH) -> None:
        self._flush = flush
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
        m.DB_GROUP_COMMIT_WRITES.observe(len(batch))
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
