"""Runtimes under test: the in-process one, and Redis with two workers sharing one prefix.

Each test gets two "workers" (`a` runs tasks and publishes, `b` stops and subscribes);
in-process both are the same objects, on Redis they are two `RedisRuntime`s, i.e. what two
server processes would hold. Redis is skipped only outside CI: with `CI` set, an
unreachable server fails the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from chatflow.runtime import LocalEventStream, LocalTaskRegistry
from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.runtime.redis import RedisRuntime
from chatflow.services.stream_items import STREAM_CODEC
from chatflow.services.turn import StreamItem
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis


@dataclass
class Workers:
    kind: str
    a_tasks: TaskRegistry
    b_tasks: TaskRegistry
    a_streams: EventStream[StreamItem]
    b_streams: EventStream[StreamItem]
    redis: list[RedisRuntime[StreamItem]]


async def redis_runtime(prefix: str, **options: Any) -> RedisRuntime[StreamItem]:
    runtime: RedisRuntime[StreamItem] = RedisRuntime(
        aioredis.Redis.from_url(REDIS_URL), prefix=prefix, codec=STREAM_CODEC, **options
    )
    await runtime.start()
    return runtime


@pytest.fixture
def prefix() -> str:
    return f"cftest-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", "redis"])
async def workers(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Workers]:
    if request.param == "local":
        tasks = LocalTaskRegistry()
        streams: LocalEventStream[StreamItem] = LocalEventStream(retention=0.2)
        yield Workers("local", tasks, tasks, streams, streams, [])
        await tasks.close()
        streams.shutdown()
        return
    require_redis()
    a = await redis_runtime(prefix, retention=0.2)
    b = await redis_runtime(prefix, retention=0.2)
    yield Workers("redis", a.tasks, b.tasks, a.streams, b.streams, [a, b])
    await a.close()
    await b.close()
    await delete_prefix(prefix)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (2 s at most) until `check()` holds: Redis bookkeeping is written a moment
    after the fact."""
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met within 2 s")
