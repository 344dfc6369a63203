"""The sweeper: runs whose worker died are marked failed instead of staying `running`.

One process (no Redis): every run still `running` when the process starts was left by a
previous process, so one sweep at start-up fails them all. Many workers (Redis): every
worker sweeps periodically; a run announced by a worker that no longer heartbeats is
dead at once (`orphans`: it is failed with its partial answer and its stream closed, see
`services/orphans.py`); a run nobody announced is dead when two sweeps in a row find it
so (it may be a paused run a worker is resuming this very moment). Sweeps are
idempotent, so workers sweeping at the same time do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Protocol

from chatflow.store import Database
from chatflow.store import runs as runs_repo
from chatflow.store._types import utcnow
from chatflow.store.lifecycle import RunStore
from chatflow.store.turns import TurnStore

log = logging.getLogger("chatflow.sweeper")

LiveRuns = Callable[[Iterable[str]], Awaitable[set[str]]]


class Orphans(Protocol):
    async def known_dead(self, run_ids: Sequence[str]) -> dict[str, str]: ...

    async def close(self, runs: dict[str, str]) -> int: ...


class RunSweeper:
    """Fails runs left behind by dead workers; `live_runs` is None for one process."""

    def __init__(
        self,
        db: Database,
        *,
        live_runs: LiveRuns | None = None,
        orphans: Orphans | None = None,
        interval: float = 10.0,
        grace: float = 10.0,
    ) -> None:
        self._db = db
        self._runs: RunStore = TurnStore(db)
        self._live_runs = live_runs
        self._orphans = orphans
        self._interval = interval
        # A run younger than this may not have announced its worker yet.
        self._grace = grace
        self._started_at = utcnow()
        self._loop: asyncio.Task[None] | None = None
        self._suspects: set[str] = set()

    async def sweep(self) -> int:
        """One sweep; returns how many runs it failed."""
        if self._live_runs is None:
            failed = await self._runs.fail_stale(self._started_at)
        else:
            cutoff = utcnow() - timedelta(seconds=self._grace)
            async with self._db.session() as session:
                candidates = await runs_repo.running_run_ids(session, started_before=cutoff)
            if not candidates:
                return 0
            alive = await self._live_runs(candidates)
            dead = {run_id for run_id in candidates if run_id not in alive}
            orphaned: dict[str, str] = {}
            if self._orphans is not None and dead:
                orphaned = await self._orphans.known_dead(sorted(dead))
            # Unannounced runs fail only when found dead by two sweeps in a row: a paused
            # run that is being resumed is `running` a moment before its worker says so.
            confirmed = (dead & self._suspects) - orphaned.keys()
            self._suspects = dead - confirmed - orphaned.keys()
            failed = 0
            if orphaned:
                assert self._orphans is not None
                failed += await self._orphans.close(orphaned)
            if confirmed:
                failed += await self._runs.fail_runs(sorted(confirmed))
        if failed:
            log.warning(
                "marked %d interrupted run(s) failed", failed, extra={"failed_runs": failed}
            )
        return failed

    async def start(self) -> None:
        """Sweep once now; with many workers, keep sweeping every `interval` seconds."""
        await self.sweep()
        if self._live_runs is not None:
            self._loop = asyncio.create_task(self._periodic(), name="run-sweeper")

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception as exc:  # a database or Redis hiccup: try again next time
                log.warning("sweep failed: %r", exc)
