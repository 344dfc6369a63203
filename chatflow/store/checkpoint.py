"""SQLite WAL checkpoints on a worker thread, off the event loop.

In WAL mode with `synchronous=NORMAL` a commit only appends to the WAL; the fsyncs
happen when the WAL is checkpointed back into the database file. SQLite does that by
itself inside whichever commit crosses `wal_autocheckpoint` pages, so every thousand
pages one chat turn's commit paid for the fsyncs, on the event loop, stalling every
stream of the worker (10-20 ms on a virtual disk). Here a thread checkpoints every
`interval` seconds with its own connection (`PASSIVE`: it never blocks the writer or
readers), and the connections serving requests keep SQLite's own checkpoint only as a
backstop for a much larger WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading

log = logging.getLogger("chatflow.store")

# Pages the WAL may reach before a serving connection checkpoints it itself (~40 MB).
BACKSTOP_PAGES = 10_000


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on `database` every `interval` seconds."""

    def __init__(self, database: str, interval: float = 0.5) -> None:
        self._database = database
        self._interval = interval
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
                await asyncio.to_thread(self._checkpoint)
            except sqlite3.Error as exc:  # busy or locked: the next round tries again
                log.debug("WAL checkpoint skipped: %s", exc)

    def _checkpoint(self) -> None:
        with self._busy:
            if self._closed:
                return
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self._database,
                    check_same_thread=False,
                    uri=self._database.startswith("file:"),
                    timeout=0,
                )
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
