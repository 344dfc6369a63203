"""SQLite WAL checkpoints on a worker thread, off the event loop.

In WAL mode with `synchronous=NORMAL` a commit only appends to the WAL; the copying back
into the database file, and the fsyncs, happen at checkpoints. SQLite runs those by
itself inside whichever commit crosses `wal_autocheckpoint` pages, so every thousand
pages one chat turn's commit paid for them on the event loop, stalling every stream of
the worker (10-30 ms on a virtual disk).

Here a thread does that work with its own connection. A `PASSIVE` checkpoint copies
what it can without blocking anyone; under steady writes it never quite catches up (a
commit lands while it runs), so the WAL would only grow. Once it holds `restart_pages`
frames, the checkpointer therefore also takes this process's database connection for a
moment (`hold`: the requests that need the database wait for it asynchronously, the event
loop does not) and runs a `RESTART` checkpoint, which copies the few frames left and lets
the next commit start the WAL from the beginning. SQLite's own checkpoint stays on, set
much higher, as a backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

log = logging.getLogger("chatflow.store")

# Pages the WAL may reach before a serving connection checkpoints it itself (~40 MB).
BACKSTOP_PAGES = 10_000
# Keep the WAL file at most this large once it has been restarted.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class WalCheckpointer:
    """Checkpoints the WAL of `database` every `interval` seconds, on a thread."""

    def __init__(
        self,
        database: str,
        hold: Callable[[], AbstractAsyncContextManager[Any]],
        *,
        interval: float = 0.25,
        restart_pages: int = 1_000,
    ) -> None:
        self._database = database
        self._hold = hold
        self._interval = interval
        self._restart_pages = restart_pages
        self._task: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None
        # Held by the thread while it checkpoints: a cancelled `to_thread` keeps running,
        # and closing the connection under it would crash the process.
        self._busy = threading.Lock()
        self._closed = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="sqlite-wal-checkpoint")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with self._busy:  # waits for a checkpoint still running in its thread
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                frames = await asyncio.to_thread(self._checkpoint, "PASSIVE")
                if frames >= self._restart_pages:
                    async with self._hold():
                        await asyncio.to_thread(self._checkpoint, "RESTART")
            except sqlite3.Error as exc:  # locked by another process: try again later
                log.debug("WAL checkpoint skipped: %s", exc)

    def _checkpoint(self, mode: str) -> int:
        """Run one checkpoint; returns the frames the WAL holds (0 after a restart)."""
        with self._busy:
            if self._closed:
                return 0
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self._database,
                    check_same_thread=False,
                    uri=self._database.startswith("file:"),
                    timeout=0,
                    isolation_level=None,
                )
                self._connection.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            busy, frames, _ = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return 0 if mode == "RESTART" and not busy else int(frames)
