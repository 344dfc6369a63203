"""Graceful shutdown on SIGTERM/SIGINT: drain, then stop what is left, never leave `running`.

uvicorn, on the signal, stops accepting connections and waits for the open ones to end
(up to its `timeout_graceful_shutdown`) before running the app's shutdown. On top of that,
the same signal starts a deadline here (`shutdown_grace_seconds`): streams that finish by
then end normally; at the deadline every run still going in this worker is stopped, which
saves its message `stopped` with the partial answer and sends its stream's last frames,
so the clients' connections end cleanly and uvicorn's wait ends too. `/readyz` answers
503 `draining` meanwhile, so a load balancer sends nothing new here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

log = logging.getLogger("chatflow.shutdown")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulShutdown:
    def __init__(
        self, grace: float, running: Callable[[], int], stop_all: Callable[[], Awaitable[None]]
    ) -> None:
        self._grace = grace
        self._running = running
        self._stop_all = stop_all
        self.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}
        self._deadline: asyncio.Task[None] | None = None

    def install(self) -> None:
        """Chain our handler in front of the server's (call from the loop's main thread)."""
        self._loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if getattr(previous, "__self__", None) is self:
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, previous)
        self._previous.clear()
        if self._deadline is not None:
            self._deadline.cancel()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if not self.draining and self._loop is not None:
            self.draining = True
            self._loop.call_soon_threadsafe(self._begin)
        previous = self._previous.get(sig)
        if callable(previous):
            previous(sig, frame)

    def _begin(self) -> None:
        log.info(
            "draining: %d run(s) may finish within %.0f s",
            self._running(),
            self._grace,
            extra={"runs": self._running(), "grace_seconds": self._grace},
        )
        self._deadline = asyncio.get_running_loop().create_task(self._stop_late_runs())

    async def _stop_late_runs(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace
        # Polled (5 times a second, during shutdown only): registries have no "empty" event.
        while self._running() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(0.2, max(deadline - loop.time(), 0)))
        left = self._running()
        if left:
            log.warning("grace period over: stopping %d run(s)", left, extra={"runs": left})
            await self._stop_all()
