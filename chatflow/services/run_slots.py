"""How many runs may go at once: per app, per Service API key, per web end-user session.

A run takes one slot on each counter that applies to it (its app's; its caller's: the
key it came with, or the chat site's end-user session) before anything is recorded,
and gives them back when its task ends. A counter at its limit refuses the run with
429 `too_many_requests` (Dify's answer to `APP_MAX_ACTIVE_REQUESTS`); a limit of 0 means
none.

`LocalRunSlots` counts in this process (one worker). `RedisRunSlots` counts across every
worker sharing the Redis: each counter is a sorted set of slot ids scored by their lease's
expiry; taking slots (drop expired, check every limit, add to all) is one Lua script, so
two workers can never both take a counter's last slot. A worker renews its slots'
leases every lease/3; a worker that dies stops renewing, and its slots expire after
one lease instead of leaking forever (plain INCR/DECR would leak them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chatflow.errors import TooManyRequests

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from chatflow.services.turn import TurnHandle
    from chatflow.settings import Settings

log = logging.getLogger("chatflow.run_slots")

TOO_MANY = "Too many requests. Please try again later."


def key_caller(token_hash: str) -> str:
    """The caller of a run started with a Service API key (by its hash, never the key)."""
    return f"key:{token_hash}"


def web_caller(user: str) -> str:
    """The caller of a run started by a chat site's end-user session."""
    return f"web:{user}"


@dataclass(frozen=True, slots=True)
class RunLimits:
    per_app: int = 0
    per_key: int = 0
    per_web_session: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RunLimits:
        return cls(
            per_app=settings.max_active_runs_per_app,
            per_key=settings.max_active_runs_per_key,
            per_web_session=settings.max_active_runs_per_web_session,
        )

    def counters(self, app_id: str, caller: str) -> list[tuple[str, int]]:
        """(counter name, limit) of every limit that applies to a run; "" caller: the
        app's only (a run the operator starts, e.g. `chatflow chat`)."""
        found = [(f"app:{app_id}", self.per_app)]
        if caller.startswith("key:"):
            found.append((caller, self.per_key))
        elif caller.startswith("web:"):
            found.append((f"web:{app_id}:{caller[4:]}", self.per_web_session))
        return [(name, limit) for name, limit in found if limit > 0]


Release = Callable[[], None]


class RunSlots(Protocol):
    async def acquire(self, app_id: str, caller: str) -> Release:
        """One slot on each of the run's counters, or `TooManyRequests`; returns the
        release (calling it twice is harmless)."""
        ...

    async def close(self) -> None: ...


class LocalRunSlots:
    """Counts in this process."""

    def __init__(self, limits: RunLimits) -> None:
        self.limits = limits
        self._counts: dict[str, int] = {}

    async def acquire(self, app_id: str, caller: str) -> Release:
        return self.take(app_id, caller)

    def take(self, app_id: str, caller: str) -> Release:
        counters = [name for name, _ in self._checked(app_id, caller)]
        if not counters:  # no limit applies (the default): nothing to give back
            return _nothing
        for name in counters:
            self._counts[name] = self._counts.get(name, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            for name in counters:
                left = self._counts.get(name, 1) - 1
                if left > 0:
                    self._counts[name] = left
                else:
                    self._counts.pop(name, None)

        return release

    def _checked(self, app_id: str, caller: str) -> list[tuple[str, int]]:
        counters = self.limits.counters(app_id, caller)
        for name, limit in counters:
            if self._counts.get(name, 0) >= limit:
                raise TooManyRequests(TOO_MANY)
        return counters

    def active(self, counter: str) -> int:
        return self._counts.get(counter, 0)

    async def close(self) -> None:
        return None


# KEYS: the counters; ARGV: slot id, lease in ms, then each counter's limit.
# Returns 0 when the slot was added to every counter, else the 1-based counter that is full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[1])
  redis.call('PEXPIRE', key, lease)
end
return 0
"""

# KEYS: the counters of one slot; ARGV: slot id, lease in ms. Extends the slot where it is
# still held (one that already expired is not brought back); returns how many were.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local renewed = 0
for _, key in ipairs(KEYS) do
  local expiry = redis.call('ZSCORE', key, ARGV[1])
  if expiry and tonumber(expiry) > now then
    redis.call('ZADD', key, now + lease, ARGV[1])
    redis.call('PEXPIRE', key, lease)
    renewed = renewed + 1
  end
end
return renewed
"""


class RedisRunSlots:
    """Counts across every worker sharing `redis` (keys `{prefix}:slots:{counter}`)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        limits: RunLimits,
        *,
        prefix: str,
        lease_seconds: float = 30.0,
    ) -> None:
        self.limits = limits
        self._redis = redis
        self._prefix = prefix.rstrip(":")
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._held: dict[str, list[str]] = {}  # slot id -> its Redis keys
        self._renewer: asyncio.Task[None] | None = None
        self._releases: set[asyncio.Task[Any]] = set()

    def key(self, counter: str) -> str:
        return f"{self._prefix}:slots:{counter}"

    async def acquire(self, app_id: str, caller: str) -> Release:
        counters = self.limits.counters(app_id, caller)
        if not counters:
            return _nothing
        keys = [self.key(name) for name, _ in counters]
        slot = uuid.uuid4().hex
        full = await self._acquire(
            keys=keys, args=[slot, self._lease_ms, *(limit for _, limit in counters)]
        )
        if int(full):
            raise TooManyRequests(TOO_MANY)
        self._held[slot] = keys
        self._ensure_renewer()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._held.pop(slot, None)
            task = asyncio.get_running_loop().create_task(self._remove(slot, keys))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

        return release

    async def _remove(self, slot: str, keys: Sequence[str]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.zrem(key, slot)
            await pipe.execute()
        except Exception:  # the lease frees it anyway
            log.warning("could not free run slot %s; it frees when its lease ends", slot)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self._lease_ms / 3000)
            for slot, keys in list(self._held.items()):
                try:
                    await self._renew(keys=keys, args=[slot, self._lease_ms])
                except Exception:  # Redis away for a moment: the next round tries again
                    log.warning("could not renew run slot %s", slot)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        await self._redis.aclose()


def _nothing() -> None:
    return None


def open_run_slots(settings: Settings) -> RunSlots:
    """Counted through Redis when the deployment has it (every worker shares the count),
    in this process otherwise."""
    limits = RunLimits.from_settings(settings)
    if not settings.redis_url:
        return LocalRunSlots(limits)
    import redis.asyncio as aioredis

    return RedisRunSlots(
        aioredis.Redis.from_url(settings.redis_url),
        limits,
        prefix=settings.redis_prefix,
        lease_seconds=settings.run_slot_lease_seconds,
    )


async def gated(
    slots: RunSlots, app_id: str, caller: str, starting: Callable[[], Awaitable[TurnHandle]]
) -> TurnHandle:
    """Start a run under its limits; its slots free when the run ends (or at once, when
    starting fails)."""
    release = await slots.acquire(app_id, caller)
    try:
        handle = await starting()
    except BaseException:
        release()
        raise
    if release is not _nothing:
        handle.task.add_done_callback(lambda _: release())
    return handle
