"""IdleGate: background model work waits for quiet and gives way to turns."""

from __future__ import annotations

import asyncio

import pytest

from chatflow.services import idle
from chatflow.services.idle import IdleGate


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idle, "_IDLE_GRACE", 0.05)


async def test_work_waits_until_turns_have_been_quiet_for_the_grace() -> None:
    gate = IdleGate()
    turn = asyncio.create_task(asyncio.sleep(0.05))
    gate.turn_started(turn)
    loop = asyncio.get_running_loop()
    started: list[float] = []

    async def work() -> str:
        started.append(loop.time())
        return "name"

    assert await gate.run(work) == "name"
    await turn
    # Not before the turn ended plus the grace (the turn ran for 0.05 s).
    assert started and started[0] - gate._last_turn_end >= 0.05 - 1e-3


async def test_a_turn_starting_cancels_the_work_which_runs_again_later() -> None:
    gate = IdleGate()
    runs: list[str] = []
    release, running = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        runs.append("start")
        running.set()
        await release.wait()
        return "name"

    job = asyncio.create_task(gate.run(work))
    await asyncio.wait_for(running.wait(), 2)
    turn = asyncio.create_task(asyncio.sleep(0.02))
    gate.turn_started(turn)  # cancels the first try
    await turn
    release.set()
    assert await asyncio.wait_for(job, 2) == "name"
    assert runs == ["start", "start"]


async def test_cancelling_the_waiter_cancels_the_work_it_started() -> None:
    """Shutdown cancels a naming job while its model call runs: the call is cancelled
    and awaited with it, not left pending for the closing loop to destroy."""
    gate = IdleGate()
    entered = asyncio.Event()
    outcome: list[str] = []

    async def work() -> str:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return "name"

    before = asyncio.all_tasks()
    job = asyncio.create_task(gate.run(work))
    await asyncio.wait_for(entered.wait(), timeout=2)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert outcome == ["cancelled"]  # already, when the cancelled job returns
    assert asyncio.all_tasks() - before == set()  # nothing it started is left running
