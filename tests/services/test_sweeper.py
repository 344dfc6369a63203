"""The sweeper: runs of dead workers end `failed`, runs of live workers are left alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, update

from chatflow.runtime.redis import RedisRuntime
from chatflow.services.stream_items import STREAM_CODEC
from chatflow.services.sweeper import RunSweeper
from chatflow.services.turn import StreamItem
from chatflow.store import Database
from chatflow.store import runs as runs_repo
from chatflow.store._types import utcnow
from chatflow.store.apps import AppInfo, create_app
from chatflow.store.models import WorkflowRun
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'chatflow.db'}")
    await database.connect()
    yield database
    await database.close()


async def _runs(db: Database, count: int, *, age: float) -> list[str]:
    async with db.session() as session:
        app = await create_app(session, AppInfo(name="Demo", mode="workflow"), "app: {}\n")
        ids = []
        for _ in range(count):
            run = await runs_repo.create_run(session, app_id=app.id, workflow_id="w", inputs={})
            ids.append(run.id)
        await session.execute(
            update(WorkflowRun)
            .where(WorkflowRun.id.in_(ids))
            .values(created_at=utcnow() - timedelta(seconds=age))
        )
    return ids


async def _statuses(db: Database) -> dict[str, str]:
    async with db.session() as session:
        rows = await session.execute(select(WorkflowRun.id, WorkflowRun.status))
        return {run_id: status for run_id, status in rows.all()}


async def test_one_process_fails_at_start_what_a_previous_process_left(db: Database) -> None:
    [left] = await _runs(db, 1, age=5)
    sweeper = RunSweeper(db)
    [mine] = await _runs(db, 1, age=-5)  # started by this process, after the sweeper
    await sweeper.start()
    assert await _statuses(db) == {left: "failed", mine: "running"}
    await sweeper.close()


async def test_with_redis_only_runs_of_silent_workers_fail(db: Database) -> None:
    require_redis()
    prefix = f"cftest-{uuid.uuid4().hex[:12]}"
    live: RedisRuntime[StreamItem] = RedisRuntime(
        aioredis.Redis.from_url(REDIS_URL), prefix=prefix, codec=STREAM_CODEC
    )
    await live.start()
    try:
        alive, orphan, young = await _runs(db, 3, age=60)
        await live.streams.open("t", meta={"workflow_run_id": alive})
        async with db.session() as session:  # too young to judge: its worker may be starting
            await session.execute(
                update(WorkflowRun).where(WorkflowRun.id == young).values(created_at=utcnow())
            )
        sweeper = RunSweeper(db, live_runs=live.live_runs, interval=0.05, grace=10)
        await sweeper.start()
        # Suspected first (it might be a paused run a worker is resuming), failed when
        # still dead at the next sweep.
        assert set((await _statuses(db)).values()) == {"running"}
        await asyncio.sleep(0.2)
        statuses = await _statuses(db)
        assert (statuses[alive], statuses[orphan], statuses[young]) == (
            "running",
            "failed",
            "running",
        )
        await sweeper.close()
    finally:
        await live.close()
        await delete_prefix(prefix)
