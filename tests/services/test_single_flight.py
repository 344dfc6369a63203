"""`SingleFlight`: concurrent cache misses of one key share one lookup."""

from __future__ import annotations

import asyncio

import pytest

from chatflow.services.single_flight import SingleFlight


async def test_concurrent_callers_share_one_fetch_and_later_ones_fetch_again() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    waiting = [asyncio.create_task(flights.run("k", fetch)) for _ in range(100)]
    other = asyncio.create_task(flights.run("other", fetch))
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == [waiting[0].result()] * 100
    await other
    assert calls == 2  # one per key
    assert await flights.run("k", fetch) == 3  # landed: the next miss reads again


async def test_an_error_reaches_every_caller_and_a_leaving_caller_cancels_nothing() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def fetch() -> int:
        await gate.wait()
        raise LookupError("gone")

    first = asyncio.create_task(flights.run("k", fetch))
    second = asyncio.create_task(flights.run("k", fetch))
    await asyncio.sleep(0.01)
    first.cancel()  # this caller leaves; the shared read goes on for the other
    gate.set()
    with pytest.raises(LookupError):
        await second
    assert first.cancelled()
