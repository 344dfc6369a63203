"""The in-process runtime: task registry (stop = cancel, owner checks) and event streams."""

from __future__ import annotations

import asyncio

import pytest

from chatflow.runtime import LocalEventStream, LocalTaskRegistry


async def test_stop_cancels_only_for_the_owner() -> None:
    registry = LocalTaskRegistry()
    task = asyncio.create_task(asyncio.sleep(30))
    registry.register("t1", "app:alice", task)
    assert registry.owner("t1") == "app:alice"
    assert await registry.stop("t1", "app:bob") is False
    assert not task.done()
    assert await registry.stop("t1", "app:alice") is True
    assert task.cancelled()
    assert registry.owner("t1") is None and len(registry) == 0
    assert await registry.stop("unknown", "app:alice") is False


async def test_stop_waits_for_the_run_to_save() -> None:
    registry = LocalTaskRegistry()
    saved: list[str] = []

    async def run() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # e.g. saving the partial answer
            saved.append("partial")
            raise
        return "done"

    task = asyncio.create_task(run())
    registry.register("t", "o", task)
    await asyncio.sleep(0)
    assert await registry.stop("t", "o") is True
    assert saved == ["partial"]


async def test_finished_tasks_are_forgotten_and_close_cancels_the_rest() -> None:
    registry = LocalTaskRegistry()
    quick = asyncio.create_task(asyncio.sleep(0))
    slow = asyncio.create_task(asyncio.sleep(30))
    registry.register("quick", "o", quick)
    registry.register("slow", "o", slow)
    await quick
    await asyncio.sleep(0)
    assert registry.owner("quick") is None and registry.owner("slow") == "o"
    await registry.close()
    assert slow.cancelled()


async def test_stream_replays_from_any_point_and_follows_live() -> None:
    stream: LocalEventStream[str] = LocalEventStream()
    await stream.open("t")
    assert await stream.publish("t", "a") == 1
    received: list[tuple[int, str]] = []

    async def follow() -> None:
        async for item in stream.subscribe("t"):
            received.append(item)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0)
    await stream.publish("t", "b")
    await stream.publish("t", "c")
    await stream.close("t")
    await asyncio.wait_for(follower, 1)
    assert received == [(1, "a"), (2, "b"), (3, "c")]
    assert [item async for item in stream.subscribe("t", after=2)] == [(3, "c")]
    with pytest.raises(RuntimeError):
        await stream.publish("t", "d")


async def test_unknown_stream_yields_nothing_and_closed_streams_expire() -> None:
    stream: LocalEventStream[int] = LocalEventStream(retention=0.01)
    assert [item async for item in stream.subscribe("nope")] == []
    await stream.open("t")
    await stream.publish("t", 1)
    await stream.close("t")
    await asyncio.sleep(0.05)
    assert [item async for item in stream.subscribe("t")] == []
