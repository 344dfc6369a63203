"""The runtime contract, run on the in-process runtime and on Redis with two workers.

Worker `a` runs the tasks and publishes; worker `b` stops them and subscribes. On Redis
that is the scale-out case: stop across workers, streams served by another worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from chatflow.engine import events as ev
from chatflow.providers.base import Usage
from chatflow.services.turn import StreamItem, TurnEnded, TurnError
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis

from .conftest import Workers, eventually, redis_runtime

pytestmark = pytest.mark.timeout(30)

USAGE = Usage(prompt_tokens=3, completion_tokens=5, prompt_price=Decimal("0.0001"), latency=0.5)
ITEMS: list[StreamItem] = [
    ev.RunStarted(run_id="r", inputs={"n": 1, "t": (1, "x")}, started_at=1.5),
    ev.TextChunk(text="Hi\u2028", from_node_id="llm", from_variable_selector=("llm", "text")),
    ev.NodeFinished(
        execution_id="e",
        node_id="llm",
        node_type="llm",
        title="LLM",
        index=1,
        predecessor_node_id=None,
        status="succeeded",
        inputs={},
        process_data={"k": {1: "int key"}},
        outputs={"text": "Hi", "price": Decimal("1.20")},
        error=None,
        error_type=None,
        started_at=1.0,
        finished_at=2.0,
        usage=USAGE,
        scope=ev.ContainerScope(iteration_id="it", iteration_index=0),
    ),
    TurnEnded(
        run=ev.RunFinished("r", "failed", {}, "boom", 1.0, 3.0, 8, 2, usage=USAGE),
        answer="Hi",
        usage=USAGE,
        retriever_resources=({"position": 1},),
        error=TurnError("invalid_param", 400, "Run failed: boom"),
    ),
]


async def _sleeper(log: list[str]) -> str:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)  # e.g. saving the partial answer
        log.append("saved")
        raise
    return "done"


async def test_stop_across_workers_only_for_the_owner(workers: Workers) -> None:
    log: list[str] = []
    task = asyncio.create_task(_sleeper(log))
    workers.a_tasks.register("t1", "app:alice", task)

    async def announced() -> bool:
        return await workers.b_tasks.find_owner("t1") == "app:alice"

    await eventually(announced)
    assert await workers.b_tasks.stop("t1", "app:bob") is False
    await asyncio.sleep(0.05)
    assert not task.done()
    assert await workers.b_tasks.stop("t1", "app:alice") is True
    # Stop answers only after the run saved (as with one worker).
    assert task.cancelled() and log == ["saved"]

    async def forgotten() -> bool:
        return await workers.b_tasks.find_owner("t1") is None

    await eventually(forgotten)
    assert workers.a_tasks.owner("t1") is None
    assert await workers.b_tasks.stop("unknown", "app:alice") is False


async def test_close_cancels_running_tasks(workers: Workers) -> None:
    quick = asyncio.create_task(asyncio.sleep(0))
    slow = asyncio.create_task(asyncio.sleep(30))
    workers.a_tasks.register("quick", "o", quick)
    workers.a_tasks.register("slow", "o", slow)
    await quick
    await asyncio.sleep(0)
    assert workers.a_tasks.owner("quick") is None and workers.a_tasks.owner("slow") == "o"
    await workers.a_tasks.close()
    assert slow.cancelled()


async def test_stream_is_exact_replayable_and_followed_live_from_another_worker(
    workers: Workers,
) -> None:
    a, b = workers.a_streams, workers.b_streams
    await a.open("t", meta={"app_id": "app", "info": {"task_id": "t"}})
    assert await b.meta("t") == {"app_id": "app", "info": {"task_id": "t"}}
    assert await a.publish("t", ITEMS[0]) == 1
    received: list[tuple[int, StreamItem]] = []

    async def follow() -> None:
        async for item in b.subscribe("t"):
            received.append(item)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    for item in ITEMS[1:]:
        await a.publish("t", item)
    await a.close("t")
    await asyncio.wait_for(follower, 2)
    # Equal objects: tuples, Decimals, int keys, dataclasses all survive the trip.
    assert received == list(enumerate(ITEMS, start=1))
    assert [item async for item in b.subscribe("t", after=2)] == [(3, ITEMS[2]), (4, ITEMS[3])]
    assert [item async for item in b.subscribe("t", after=4)] == []
    with pytest.raises(RuntimeError):
        await a.publish("t", ITEMS[0])


async def test_subscriber_waits_for_a_stream_opened_but_still_empty(workers: Workers) -> None:
    await workers.a_streams.open("t")
    first = asyncio.ensure_future(anext(aiter(workers.b_streams.subscribe("t"))))
    await asyncio.sleep(0.05)
    assert not first.done()
    await workers.a_streams.publish("t", ITEMS[1])
    assert await asyncio.wait_for(first, 2) == (1, ITEMS[1])


async def test_unknown_streams_yield_nothing_and_finished_ones_expire(workers: Workers) -> None:
    assert [item async for item in workers.b_streams.subscribe("nope")] == []
    assert await workers.b_streams.meta("nope") is None
    await workers.a_streams.open("t", meta={"x": 1})
    await workers.a_streams.publish("t", ITEMS[1])
    await workers.a_streams.close("t")
    assert [n async for n, _ in workers.b_streams.subscribe("t")] == [1]
    await asyncio.sleep(0.4)  # retention is 0.2 s in these tests
    assert [item async for item in workers.b_streams.subscribe("t")] == []
    assert await workers.b_streams.meta("t") is None


async def test_cross_worker_stop_cancels_within_100ms(prefix: str) -> None:
    require_redis()
    a, b = await redis_runtime(prefix), await redis_runtime(prefix)
    try:
        cancelled_at: list[float] = []

        async def run() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled_at.append(time.perf_counter())
                raise

        task = asyncio.create_task(run())
        a.tasks.register("t", "o", task)
        await eventually(lambda: _owner_is(b, "t", "o"))
        latencies = []
        sent = time.perf_counter()
        assert await b.tasks.stop("t", "o") is True
        latencies.append(cancelled_at[0] - sent)
        print(f"cross-worker stop -> cancel: {latencies[0] * 1000:.2f} ms")
        assert latencies[0] < 0.1
    finally:
        await a.close()
        await b.close()
        await delete_prefix(prefix)


async def _owner_is(runtime: object, task_id: str, owner: str) -> bool:
    found = await runtime.tasks.find_owner(task_id)  # type: ignore[attr-defined]
    return bool(found == owner)


async def test_stream_of_a_dead_worker_ends_and_its_runs_are_not_live(prefix: str) -> None:
    require_redis()
    a = await redis_runtime(prefix, heartbeat_ttl=0.3)
    b = await redis_runtime(prefix, heartbeat_ttl=0.3)
    try:
        await a.streams.open("t", meta={"workflow_run_id": "run-a"})
        await a.streams.publish("t", ITEMS[1])
        assert await b.live_runs(["run-a", "run-unknown"]) == {"run-a"}
        # Worker a dies: no more heartbeats, the stream is never closed.
        a.stop_heartbeat()
        await asyncio.sleep(0.5)
        assert await b.live_runs(["run-a"]) == set()
        started = time.perf_counter()
        assert [n async for n, _ in b.streams.subscribe("t")] == [1]
        assert time.perf_counter() - started < 3
    finally:
        await a.redis.aclose()
        await b.close()
        await delete_prefix(prefix)


async def test_prefixes_are_isolated(prefix: str) -> None:
    require_redis()
    a = await redis_runtime(prefix)
    other = await redis_runtime(prefix + "-other")
    try:
        await a.streams.open("t")
        await a.streams.publish("t", ITEMS[1])
        await a.streams.close("t")
        assert await other.streams.meta("t") is None
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            assert await client.exists(f"{prefix}:events:t")
        finally:
            await client.aclose()
        # Only this prefix's keys exist for the task.
        assert [item async for item in other.streams.subscribe("t")] == []
    finally:
        await a.close()
        await other.close()
        await delete_prefix(prefix)
        await delete_prefix(prefix + "-other")


async def test_the_running_worker_serves_its_own_followers_from_memory(prefix: str) -> None:
    """Worker a's followers of its own run read a memory copy (no XREAD per event): they
    get every event even when Redis lost them; worker b's follower reads Redis; both end
    at the close, and replays after the end come from Redis."""
    require_redis()
    a = await redis_runtime(prefix)
    b = await redis_runtime(prefix)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await a.streams.open("t", meta={"workflow_run_id": "run-a"})
        await a.streams.publish("t", ITEMS[0])
        await client.delete(f"{prefix}:events:t")  # only the memory copy has event 1 now
        local = asyncio.create_task(_collect(a.streams.subscribe("t")))
        remote = asyncio.create_task(_collect(b.streams.subscribe("t", after=1)))
        await asyncio.sleep(0.05)
        for item in ITEMS[1:]:
            await a.streams.publish("t", item)
        await a.streams.close("t")
        assert await asyncio.wait_for(local, 2) == list(enumerate(ITEMS, start=1))
        assert await asyncio.wait_for(remote, 2) == list(enumerate(ITEMS, start=1))[1:]
        # Closed: the memory copy is gone, a late reader on a replays from Redis.
        assert [n async for n, _ in a.streams.subscribe("t", after=1)] == [2, 3, 4]
    finally:
        await client.aclose()
        await a.close()
        await b.close()
        await delete_prefix(prefix)


async def test_a_stream_too_long_to_mirror_is_followed_on_from_redis(prefix: str) -> None:
    require_redis()
    a = await redis_runtime(prefix, max_events=2)
    try:
        await a.streams.open("t")
        follower = asyncio.create_task(_collect(a.streams.subscribe("t")))
        for item in ITEMS:
            await a.streams.publish("t", item)
            await asyncio.sleep(0.01)
        await a.streams.close("t")
        assert await asyncio.wait_for(follower, 3) == list(enumerate(ITEMS, start=1))
    finally:
        await a.close()
        await delete_prefix(prefix)


async def _collect(items: AsyncIterator[tuple[int, StreamItem]]) -> list[tuple[int, StreamItem]]:
    return [item async for item in items]


async def test_streams_published_concurrently_arrive_whole_and_in_order(prefix: str) -> None:
    """Events of many streams published at once share pipelines to Redis: each stream
    must still hold exactly its own events, numbered in order, for another worker."""
    require_redis()
    a = await redis_runtime(prefix)
    b = await redis_runtime(prefix)
    try:
        tasks = [f"t{n}" for n in range(30)]
        for task in tasks:
            await a.streams.open(task)

        async def run(task: str) -> None:
            for item in ITEMS * 5:
                await a.streams.publish(task, item)
            await a.streams.close(task)

        await asyncio.gather(*(run(task) for task in tasks))
        for task in tasks:
            assert await _collect(b.streams.subscribe(task)) == list(enumerate(ITEMS * 5, start=1))
    finally:
        await a.close()
        await b.close()
        await delete_prefix(prefix)
