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


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text


async def _finished_run(streams: LocalEventStream[_Text], task_id: str, text: str) -> None:
    await streams.open(task_id)
    await streams.publish(task_id, _Text(text))
    await streams.close(task_id)


async def _replay(streams: LocalEventStream[_Text], task_id: str) -> list[str]:
    return [event.text async for _, event in streams.subscribe(task_id)]


async def test_finished_streams_are_bounded_by_count_oldest_dropped_first() -> None:
    streams: LocalEventStream[_Text] = LocalEventStream(max_runs=3)
    for i in range(5):
        await _finished_run(streams, f"t{i}", f"answer {i}")
    assert streams.kept_runs == 3
    assert await _replay(streams, "t0") == [] and await _replay(streams, "t1") == []
    assert await _replay(streams, "t4") == ["answer 4"]
    streams.shutdown()


async def test_finished_streams_are_bounded_by_bytes_and_running_ones_never_dropped() -> None:
    streams: LocalEventStream[_Text] = LocalEventStream(max_bytes=10_000)
    await streams.open("running")
    await streams.publish("running", _Text("x" * 50_000))  # bigger than the bound itself
    for i in range(20):
        await _finished_run(streams, f"t{i}", "y" * 1_000)
    assert streams.kept_bytes <= 10_000
    assert 1 <= streams.kept_runs < 20
    assert await _replay(streams, "t19") == ["y" * 1_000]
    assert await _replay(streams, "t0") == []
    # The running stream is whole: a client may still be following it.
    follower = streams.subscribe("running")
    number, event = await anext(follower)
    assert (number, len(event.text)) == (1, 50_000)
    await follower.aclose()  # type: ignore[attr-defined]
    streams.shutdown()


async def test_a_stream_bigger_than_the_bound_is_dropped_when_it_finishes() -> None:
    streams: LocalEventStream[_Text] = LocalEventStream(max_bytes=10_000)
    await _finished_run(streams, "small", "s")
    await _finished_run(streams, "huge", "h" * 50_000)
    assert streams.kept_runs == 0 and streams.kept_bytes == 0


async def test_retention_still_expires_finished_streams() -> None:
    streams: LocalEventStream[_Text] = LocalEventStream(retention=0.05)
    await _finished_run(streams, "t", "hello")
    assert await _replay(streams, "t") == ["hello"]
    await asyncio.sleep(0.1)
    assert await _replay(streams, "t") == [] and streams.kept_bytes == 0


async def test_streams_finished_at_different_times_each_expire_after_their_retention() -> None:
    """One timer serves every finished stream: it drops the due ones and waits for the
    next, also when the stream it was set for was evicted first."""
    streams: LocalEventStream[_Text] = LocalEventStream(retention=0.4, max_runs=2)
    await _finished_run(streams, "evicted", "0")  # its timer is set for 0.4 s
    await asyncio.sleep(0.1)
    await _finished_run(streams, "first", "1")
    await asyncio.sleep(0.1)
    await _finished_run(streams, "second", "2")
    assert streams.kept_runs == 2 and await _replay(streams, "evicted") == []
    await asyncio.sleep(0.35)  # "first" was due at 0.5 s, "second" is at 0.6 s
    assert await _replay(streams, "first") == [] and await _replay(streams, "second") == ["2"]
    assert streams.kept_runs == 1
    await asyncio.sleep(0.15)
    assert streams.kept_runs == 0 and streams.kept_bytes == 0
    await _finished_run(streams, "later", "3")  # a new timer after the last one ran out
    await asyncio.sleep(0.5)
    assert streams.kept_runs == 0


async def test_a_reader_waiting_on_a_stream_sees_every_event_and_the_close() -> None:
    streams: LocalEventStream[_Text] = LocalEventStream()
    await streams.open("t")
    await streams.publish("t", _Text("a"))
    reader = asyncio.create_task(_replay(streams, "t"))
    await asyncio.sleep(0.01)  # the reader drained "a" and waits
    await streams.publish("t", _Text("b"))
    await asyncio.sleep(0)
    await streams.publish("t", _Text("c"))
    await streams.close("t")
    assert await asyncio.wait_for(reader, 1) == ["a", "b", "c"]
    streams.shutdown()


async def _close_cost(kept: int, closes: int = 20_000) -> float:
    """Seconds per close once `kept` finished streams are kept (each close then evicts
    the oldest)."""
    import time

    streams: LocalEventStream[str] = LocalEventStream(retention=600, max_runs=kept)
    for index in range(kept):
        await streams.open(f"old-{index}")
        await streams.close(f"old-{index}")
    for index in range(closes):
        await streams.open(f"new-{index}")
    started = time.perf_counter()
    for index in range(closes):
        await streams.close(f"new-{index}")
    elapsed = (time.perf_counter() - started) / closes
    streams.shutdown()
    return elapsed


@pytest.mark.perf
async def test_closing_a_stream_costs_the_same_however_many_are_kept() -> None:
    # Evicting the oldest kept stream must not scan what was evicted before it (a plain
    # dict's first entry, after removals from its front, does).
    few = min([await _close_cost(100) for _ in range(3)])
    many = min([await _close_cost(50_000) for _ in range(3)])
    assert many < few * 2, (few, many)
