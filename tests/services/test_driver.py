"""`run_to_end`, the driver every run shares: what a crash, a pause nobody keeps and a
save that fails end with, and that the end is published only after the save."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from chatflow.engine import events as ev
from chatflow.runtime.local import LocalEventStream
from chatflow.services.driver import run_to_end
from chatflow.services.recorder import TurnRecorder
from chatflow.services.turn import StreamItem, TurnEnded, TurnInfo

INFO = TurnInfo("task", "msg", "conv", "run", "wf", 0, "advanced-chat", "eu", "ann")


async def _crashing() -> AsyncIterator[ev.Event]:
    yield ev.RunStarted("run", {}, time.time())
    yield ev.TextChunk("part", "answer", ("answer", "answer"))
    raise RuntimeError("boom")


async def _pausing() -> AsyncIterator[ev.Event]:
    yield ev.RunStarted("run", {}, time.time())
    yield ev.RunPaused(
        reasons=[], outputs={}, run_id="run", paused_nodes=["h"], started_at=0.0,
        paused_at=1.0, total_tokens=0, total_steps=1, usage=None, state={}, forms=[],
    )  # fmt: skip


async def _drive(events: AsyncIterator[ev.Event], fail_save: bool = False) -> list[object]:
    streams: LocalEventStream[StreamItem] = LocalEventStream()
    await streams.open("task")
    order: list[object] = []

    async def save(end: TurnEnded) -> None:
        order.append(("saved", end.status))
        if fail_save:
            raise OSError("disk full")

    end = await run_to_end(events, info=INFO, streams=streams, recorder=TurnRecorder(), save=save)
    order.extend([item async for _, item in streams.subscribe("task")])
    order.append(end)
    return order


async def test_a_crash_ends_the_run_failed_with_what_it_had() -> None:
    saved, *published, end = await _drive(_crashing())
    assert saved == ("saved", "failed")
    assert isinstance(end, TurnEnded) and end.answer == "part"
    assert end.error is not None and end.error.message == "Run failed: boom"
    assert published[-1] == end  # the end is published after the save


async def test_a_pause_nobody_keeps_ends_the_run_failed() -> None:
    saved, *_, end = await _drive(_pausing())
    assert saved == ("saved", "failed")
    assert isinstance(end, TurnEnded) and end.run.error == "run ended early"


async def test_a_failed_save_still_closes_the_stream() -> None:
    *_, published_end, end = await _drive(_crashing(), fail_save=True)
    assert published_end == end
