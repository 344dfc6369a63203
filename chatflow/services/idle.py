"""Background model work that yields to users' turns: `IdleGate`.

The model is shared. With the embedded one, a conversation name generated beside a
user's turn delayed its first token by ~100 ms and halved its tokens/s, and a client
typically sends its next message right after an answer ends. So background calls
(conversation naming) wait until no turn of this worker has run for `_IDLE_GRACE`
seconds, and give way again if a turn starts while they run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

_IDLE_GRACE = 1.0
_IDLE_MAX_WAIT = 60.0


class IdleGate:
    """Knows whether turns are running; runs background work when none has for a while."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_turn_end = 0.0

    async def run(self, make: Callable[[], Awaitable[str]]) -> str:
        """Run background model work (naming) once no turn of this worker has run for
        `_IDLE_GRACE` seconds.

        A turn that starts while the work runs cancels it (it starts over later). After
        `_IDLE_MAX_WAIT` seconds of a busy worker, it runs regardless.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _IDLE_MAX_WAIT
        # One job at a time waits on the events (the rest queue on the lock), so a turn
        # starting wakes one waiter, not every queued name.
        async with self._lock:
            while loop.time() < deadline:
                await self._idle.wait()
                quiet_for = loop.time() - self._last_turn_end
                if quiet_for < _IDLE_GRACE:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._busy.wait(), _IDLE_GRACE - quiet_for)
                    continue  # look again: a turn may have started meanwhile
                result = await self._unless_busy(make)
                if result is not None:
                    return result
            return await make()

    async def _unless_busy(self, make: Callable[[], Awaitable[str]]) -> str | None:
        """`make()`'s result, or None if a turn started first (the work is cancelled)."""
        work = asyncio.ensure_future(make())
        busy = asyncio.ensure_future(self._busy.wait())
        try:
            await asyncio.wait({work, busy}, return_when=asyncio.FIRST_COMPLETED)
            return work.result() if work.done() else None
        finally:
            # Also when this job itself is cancelled (shutdown): the work it started is
            # cancelled and awaited here, never left pending for the closing loop.
            for started in (busy, work):
                if not started.done():
                    started.cancel()
            await asyncio.gather(busy, work, return_exceptions=True)

    def turn_started(self, task: asyncio.Task[Any]) -> None:
        """Count `task` as a running turn until it is done."""
        self._running += 1
        self._idle.clear()
        self._busy.set()
        task.add_done_callback(self._turn_done)

    def _turn_done(self, _: asyncio.Task[Any]) -> None:
        self._running -= 1
        self._last_turn_end = asyncio.get_running_loop().time()
        if self._running == 0:
            self._busy.clear()
            self._idle.set()
