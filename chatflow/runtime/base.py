"""The runtime protocols: a registry of running turns and a per-turn event stream.

Both are keyed by Dify's `task_id`. The in-process implementations live in `local.py`;
multi-worker ones (Redis) implement the same methods, so services never know which runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class TaskRegistry(Protocol):
    """Knows every running turn, who owns it, and how to stop it."""

    def register(self, task_id: str, owner: str, task: asyncio.Task[Any]) -> None:
        """Track `task` as the run of `task_id`; it is forgotten when it finishes.

        `owner` identifies who may stop it (app id + end user), as Dify scopes stop by user.
        """
        ...

    def owner(self, task_id: str) -> str | None:
        """The owner of a task running in this process, or None (unknown or finished)."""
        ...

    async def find_owner(self, task_id: str) -> str | None:
        """The owner of a running task wherever it runs (any worker), or None."""
        ...

    async def stop(self, task_id: str, owner: str) -> bool:
        """Cancel the run of `task_id` if `owner` owns it; True when a run was stopped.

        Unknown, finished and foreign tasks return False (the API still answers success).
        """
        ...

    async def close(self) -> None:
        """Cancel every run still going and wait for them (server shutdown)."""
        ...

    def __len__(self) -> int:
        """How many runs this process is running."""
        ...


class EventStream(Protocol[T]):
    """An append-only, replayable sequence of events per task.

    Events are numbered from 1. A subscriber gets every event after `after`, then waits
    for more until the stream is closed, so a client that reconnects misses nothing.
    """

    async def open(self, task_id: str, meta: Mapping[str, Any] | None = None) -> None:
        """Create the stream before its run starts, so an early subscriber finds it.

        `meta` (JSON-compatible) describes the run, for whoever serves the stream later:
        a reconnecting client may land on another worker (see `api/resumable.py`).
        """
        ...

    async def meta(self, task_id: str) -> dict[str, Any] | None:
        """The `meta` given to `open`, while the stream is kept; None when unknown."""
        ...

    async def publish(self, task_id: str, event: T) -> int:
        """Append `event`; returns its number."""
        ...

    async def close(self, task_id: str) -> None:
        """Mark the stream finished; subscribers drain what is left and stop."""
        ...

    def subscribe(self, task_id: str, after: int = 0) -> AsyncIterator[tuple[int, T]]:
        """Yield `(number, event)` for every event after `after` until the stream closes.

        An unknown task yields nothing.
        """
        ...
