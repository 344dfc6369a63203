"""`open_runtime`: in-process tasks and streams without Redis, shared ones through Redis
(with a readiness ping); either way a turn's items published on one side read back, and
closing releases everything."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis.exceptions

from chatflow.engine.events import TextChunk
from chatflow.runtime.base import EventStream
from chatflow.runtime.local import LocalEventStream, LocalTaskRegistry
from chatflow.services.runtime import open_runtime
from chatflow.services.turn import StreamItem
from chatflow.settings import Settings
from chatflow.store import Database
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis


async def _round_trip(streams: EventStream[StreamItem]) -> list[StreamItem]:
    task_id = str(uuid.uuid4())
    await streams.open(task_id, {"app_id": "a"})
    await streams.publish(task_id, TextChunk(text="hi", from_node_id="answer"))
    await streams.close(task_id)
    assert await streams.meta(task_id) == {"app_id": "a"}
    return [item async for _, item in streams.subscribe(task_id)]


async def test_without_redis_the_runtime_is_in_process(tmp_path: Path) -> None:
    db = Database("sqlite+aiosqlite://")
    await db.connect()
    settings = Settings(data_dir=tmp_path, redis_url=None, stream_memory_max_runs=7)
    runtime = await open_runtime(settings, db)
    try:
        assert isinstance(runtime.tasks, LocalTaskRegistry)
        assert isinstance(runtime.streams, LocalEventStream)
        assert runtime.ping is None  # nothing outside the process to be ready
        assert [getattr(i, "text", None) for i in await _round_trip(runtime.streams)] == ["hi"]
    finally:
        await runtime.close()
        await db.close()


async def test_with_redis_streams_travel_as_bytes_and_ping(tmp_path: Path) -> None:
    require_redis()
    prefix = f"cftest-{uuid.uuid4().hex[:12]}"
    db = Database("sqlite+aiosqlite://")
    await db.connect()
    settings = Settings(data_dir=tmp_path, redis_url=REDIS_URL, redis_prefix=prefix)
    runtime = await open_runtime(settings, db)
    try:
        assert not isinstance(runtime.streams, LocalEventStream)
        assert runtime.ping is not None
        await runtime.ping()
        items = await _round_trip(runtime.streams)
        assert items == [TextChunk(text="hi", from_node_id="answer")]
    finally:
        await runtime.close()
        await db.close()
        await delete_prefix(prefix)


async def test_an_unreachable_redis_fails_at_open(tmp_path: Path) -> None:
    db = Database("sqlite+aiosqlite://")
    await db.connect()
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await open_runtime(settings, db)
    finally:
        await db.close()
