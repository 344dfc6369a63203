"""Concurrent lookups of the same key share one call.

A cache that expires under load (an API key's app, an app's annotation setting) is missed
by every request in flight at that moment: a thousand open streams would each start the
same database read at once, and wait for the pool together. `SingleFlight.run` makes them
wait for one read instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class SingleFlight(Generic[Key, Value]):
    """One in-flight `fetch` per key; every caller of that key gets its result or error."""

    def __init__(self) -> None:
        self._flights: dict[Key, asyncio.Task[Value]] = {}

    async def run(self, key: Key, fetch: Callable[[], Awaitable[Value]]) -> Value:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(fetch())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a caller that goes away does not cancel the read the others wait on.
        return await asyncio.shield(flight)

    def _landed(self, key: Key, flight: asyncio.Task[Value]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here too: every waiter may have gone away
