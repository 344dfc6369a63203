"""Picks the runtime for `Services`: in-process by default, Redis when `redis_url` is set.

Both give a `TaskRegistry` and an `EventStream[StreamItem]`; with Redis they are shared by
every worker (stop and stream resumption work across workers). The sweeper that fails
runs of dead workers comes with the runtime, since "dead" depends on which one runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.runtime.local import LocalEventStream, LocalTaskRegistry
from chatflow.services.sweeper import RunSweeper
from chatflow.services.turn import StreamItem
from chatflow.settings import Settings
from chatflow.store import Database


@dataclass(slots=True)
class Runtime:
    tasks: TaskRegistry
    streams: EventStream[StreamItem]
    sweeper: RunSweeper
    _close: Callable[[], Awaitable[None]]
    # Redis only: raises when Redis cannot be reached (the readiness probe).
    ping: Callable[[], Awaitable[object]] | None = None

    async def close(self) -> None:
        """Stop the sweeper, cancel this worker's runs (they save), release Redis."""
        await self.sweeper.close()
        await self._close()


async def open_runtime(settings: Settings, db: Database, *, sweep: bool = False) -> Runtime:
    """The runtime `settings` ask for; `sweep` starts the sweeper (servers, not the CLI)."""
    if settings.redis_url:
        return await _redis_runtime(settings, db, sweep=sweep)
    tasks = LocalTaskRegistry()
    streams: LocalEventStream[StreamItem] = LocalEventStream(
        retention=settings.stream_retention_seconds,
        max_bytes=settings.stream_memory_max_mb * 1024 * 1024,
        max_runs=settings.stream_memory_max_runs,
    )

    async def close() -> None:
        await tasks.close()
        streams.shutdown()

    sweeper = RunSweeper(db)
    if sweep:
        await sweeper.start()
    return Runtime(tasks, streams, sweeper, close)


async def _redis_runtime(settings: Settings, db: Database, *, sweep: bool) -> Runtime:
    import redis.asyncio as aioredis

    from chatflow.runtime.redis import RedisRuntime
    from chatflow.services.orphans import OrphanCloser
    from chatflow.services.stream_items import STREAM_CODEC

    assert settings.redis_url is not None
    runtime: RedisRuntime[StreamItem] = RedisRuntime(
        aioredis.Redis.from_url(settings.redis_url),
        prefix=settings.redis_prefix,
        codec=STREAM_CODEC,
        heartbeat_ttl=settings.worker_heartbeat_seconds,
        retention=settings.stream_retention_seconds,
        max_events=settings.stream_max_events,
        max_run_seconds=settings.max_execution_seconds,
    )
    await runtime.start()
    ttl = settings.worker_heartbeat_seconds
    # Every ttl/5: with the heartbeat key's 0.8 ttl, a dead worker's runs end within a ttl.
    sweeper = RunSweeper(
        db,
        live_runs=runtime.live_runs,
        orphans=OrphanCloser(db, runtime),
        interval=ttl / 5,
        grace=ttl,
    )
    if sweep:
        await sweeper.start()

    async def ping() -> None:
        await runtime.redis.ping()  # type: ignore[misc]

    return Runtime(runtime.tasks, runtime.streams, sweeper, runtime.close, ping)
