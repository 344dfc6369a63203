"""In-process runtime: runs are asyncio Tasks, stopping is cancellation, streams are lists.

Good for one worker (the default). Everything here lives in this process's memory, so a
second worker can neither stop these runs nor replay their streams; that is what the
Redis implementation is for.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from chatflow.observability import metrics as m

T = TypeVar("T")

# How long `stop` waits for a cancelled run to save its partial answer before answering.
_STOP_GRACE_SECONDS = 5.0


class LocalTaskRegistry:
    """Tracks this process's running turns by task id."""

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[str, asyncio.Task[Any]]] = {}

    def register(self, task_id: str, owner: str, task: asyncio.Task[Any]) -> None:
        self._tasks[task_id] = (owner, task)
        task.add_done_callback(lambda _: self._forget(task_id, task))

    def owner(self, task_id: str) -> str | None:
        entry = self._tasks.get(task_id)
        return entry[0] if entry else None

    async def find_owner(self, task_id: str) -> str | None:
        return self.owner(task_id)

    async def stop(self, task_id: str, owner: str) -> bool:
        entry = self._tasks.get(task_id)
        if entry is None or entry[0] != owner:
            return False
        task = entry[1]
        task.cancel()
        # The run catches the cancellation, saves the partial answer and closes its
        # stream; waiting here means "stop answered" implies "message saved".
        await asyncio.wait([task], timeout=_STOP_GRACE_SECONDS)
        return True

    async def close(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_GRACE_SECONDS)

    def __len__(self) -> int:
        return len(self._tasks)

    def _forget(self, task_id: str, task: asyncio.Task[Any]) -> None:
        entry = self._tasks.get(task_id)
        if entry is not None and entry[1] is task:
            del self._tasks[task_id]


class Channel(Generic[T]):
    """One run's events in memory, and an event its readers wait on for more."""

    __slots__ = ("_changed", "closed", "ended", "events", "meta", "size")

    def __init__(self, meta: Mapping[str, Any] | None = None) -> None:
        self.events: list[T] = []
        self.closed = False
        # Closed because the run ended (not because a Redis mirror gave up on it).
        self.ended = False
        # Made when a reader first asks: most streams (blocking requests) have none.
        self._changed: asyncio.Event | None = None
        self.meta = dict(meta) if meta is not None else None
        self.size = 0  # estimated bytes of `events`

    @property
    def changed(self) -> asyncio.Event:
        """What readers wait on for more; set by the next `notify`."""
        changed = self._changed
        if changed is None:
            changed = self._changed = asyncio.Event()
        return changed

    def notify(self) -> None:
        # Wake current waiters; later ones get a fresh event to wait on. Without a
        # reader's event there is nobody to wake.
        changed = self._changed
        if changed is not None:
            changed.set()
            self._changed = None


# Estimated bytes of one kept event: a small dataclass and its dict/list slots, plus
# whatever text it carries. An estimate (measuring every object would cost more than
# keeping it); the soak (bench/soak.py) checks the real memory stays flat.
_EVENT_OVERHEAD = 400


def estimate_size(event: object) -> int:
    text = getattr(event, "text", None)
    answer = getattr(event, "answer", None)
    size = _EVENT_OVERHEAD
    if isinstance(text, str):
        size += len(text)
    if isinstance(answer, str):
        size += len(answer)
    return size


class LocalEventStream(Generic[T]):
    """Per-task event lists; a finished run's are kept for resuming, within bounds.

    A finished stream is kept `retention` seconds, and only while the finished streams
    kept hold at most `max_bytes` (estimated) and `max_runs` runs: past either bound the
    oldest finished ones are dropped first (a client resuming one of those gets nothing
    more, as after the retention). Running streams are never dropped: a client could
    still be following them.
    """

    def __init__(
        self,
        *,
        retention: float = 600.0,
        max_bytes: int = 64 * 1024 * 1024,
        max_runs: int = 10_000,
    ) -> None:
        self._retention = retention
        self._max_bytes = max_bytes
        self._max_runs = max_runs
        self._channels: dict[str, Channel[T]] = {}
        # Finished streams, oldest first, with the loop time each expires at (so also in
        # order), and their bytes. One timer expires them all, at the oldest's time: a
        # timer per stream costs every run a heap push and a cancel once the bounds evict
        # it. An OrderedDict: finding a plain dict's first entry after removing from its
        # front skips every removed slot (1.7 µs per run at 10,000 kept; 0.3 µs here).
        self._finished: OrderedDict[str, float] = OrderedDict()
        self._finished_bytes = 0
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def kept_bytes(self) -> int:
        """Estimated bytes held by finished streams."""
        return self._finished_bytes

    @property
    def kept_runs(self) -> int:
        return len(self._finished)

    async def open(self, task_id: str, meta: Mapping[str, Any] | None = None) -> None:
        """Create the stream before the run starts, so an early subscriber finds it."""
        channel = self._channels.get(task_id)
        if channel is None:
            self._channels[task_id] = Channel(meta)
        elif meta is not None:
            channel.meta = dict(meta)

    async def meta(self, task_id: str) -> dict[str, Any] | None:
        channel = self._channels.get(task_id)
        return dict(channel.meta) if channel is not None and channel.meta is not None else None

    async def publish(self, task_id: str, event: T) -> int:
        channel = self._channels.get(task_id)
        if channel is None:
            channel = self._channels[task_id] = Channel()
        if channel.closed:
            raise RuntimeError(f"event stream {task_id} is closed")
        channel.events.append(event)
        channel.size += estimate_size(event)
        channel.notify()
        return len(channel.events)

    async def close(self, task_id: str) -> None:
        channel = self._channels.get(task_id)
        if channel is None or channel.closed:
            return
        channel.closed = True
        channel.notify()
        loop = asyncio.get_running_loop()
        self._finished[task_id] = loop.time() + self._retention
        self._finished_bytes += channel.size
        self._evict()
        if self._expiry is None and self._finished:
            self._expiry = loop.call_at(next(iter(self._finished.values())), self._expire)
        self._report()

    async def subscribe(self, task_id: str, after: int = 0) -> AsyncIterator[tuple[int, T]]:
        channel = self._channels.get(task_id)
        if channel is None:
            return
        index = max(after, 0)
        while True:
            waiter = channel.changed
            while index < len(channel.events):
                index += 1
                yield index, channel.events[index - 1]
            if channel.closed:
                return
            await waiter.wait()

    def shutdown(self) -> None:
        """Forget every stream (server shutdown)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._finished.clear()
        self._finished_bytes = 0
        self._channels.clear()
        self._report()

    def _evict(self) -> None:
        while self._finished and (
            self._finished_bytes > self._max_bytes or len(self._finished) > self._max_runs
        ):
            self._drop(next(iter(self._finished)))

    def _expire(self) -> None:
        """Drop the finished streams past their retention; wait for the next one."""
        self._expiry = None
        loop = asyncio.get_running_loop()
        # The loop runs a timer up to its clock's resolution early: count that as due.
        due = loop.time() + 0.001
        while self._finished:
            task_id, expires = next(iter(self._finished.items()))
            if expires > due:
                self._expiry = loop.call_at(expires, self._expire)
                break
            self._drop(task_id)
        self._report()

    def _drop(self, task_id: str) -> None:
        self._finished.pop(task_id, None)
        channel = self._channels.pop(task_id, None)
        if channel is not None:
            self._finished_bytes -= channel.size

    def _report(self) -> None:
        m.STREAMS_KEPT_BYTES.set(self._finished_bytes)
        m.STREAMS_KEPT_RUNS.set(len(self._finished))
