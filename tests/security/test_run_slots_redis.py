"""Run limits counted across workers through real Redis: two slot counters (as two worker
processes hold) share each limit, no race takes more slots than the limit, a live
holder's slots outlast their lease (renewed), and a holder killed with SIGKILL stops
holding them once its lease ends. Two real servers sharing Redis answer 429 to a key
whose one run goes on the other server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from chatflow.errors import TooManyRequests
from chatflow.services.run_slots import RedisRunSlots, RunLimits, key_caller
from tests.api.test_scale_out import Cluster, _start, running_cluster
from tests.runtime.redis_support import REDIS_URL, delete_prefix, require_redis

pytestmark = [pytest.mark.timeout(120), pytest.mark.redis]

ROOT = Path(__file__).parents[2]
LIMITS = RunLimits(per_app=5, per_key=1)
LEASE = 1.0


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require_redis()
    name = f"cftest-slots-{uuid.uuid4().hex[:10]}"
    yield name
    await delete_prefix(name)


def _slots(prefix: str, limits: RunLimits = LIMITS) -> RedisRunSlots:
    """One worker's counter, on a Redis connection of its own."""
    return RedisRunSlots(
        aioredis.Redis.from_url(REDIS_URL), limits, prefix=prefix, lease_seconds=LEASE
    )


async def test_two_workers_share_each_limit(prefix: str) -> None:
    a, b = _slots(prefix), _slots(prefix)
    try:
        release = await a.acquire("app", key_caller("k1"))
        with pytest.raises(TooManyRequests):
            await b.acquire("app", key_caller("k1"))  # the key's one slot is held on A
        held = [await b.acquire("app", key_caller(f"k{i}")) for i in range(2, 6)]
        with pytest.raises(TooManyRequests):
            await a.acquire("app", key_caller("k9"))  # the app's 5 are taken across both
        release()
        for free in held:
            free()
        await asyncio.sleep(0.2)  # a release is sent to Redis in the background
        (await b.acquire("app", key_caller("k1")))()
    finally:
        await a.close()
        await b.close()


async def test_racing_workers_never_take_more_than_the_limit(prefix: str) -> None:
    workers = [_slots(prefix, RunLimits(per_app=5)) for _ in range(4)]
    try:

        async def attempt(index: int) -> bool:
            try:
                await workers[index % 4].acquire("app", key_caller(f"k{index}"))
            except TooManyRequests:
                return False
            return True

        taken = await asyncio.gather(*(attempt(i) for i in range(40)))
        assert sum(taken) == 5
    finally:
        for worker in workers:
            await worker.close()


async def test_a_live_holder_keeps_its_slot_past_the_lease(prefix: str) -> None:
    holder, other = _slots(prefix), _slots(prefix)
    try:
        await holder.acquire("app", key_caller("k"))
        await asyncio.sleep(LEASE * 2.5)  # renewed every lease/3
        with pytest.raises(TooManyRequests):
            await other.acquire("app", key_caller("k"))
    finally:
        await holder.close()
        await other.close()


HOLDER = """
import asyncio, sys
import redis.asyncio as aioredis
from chatflow.services.run_slots import RedisRunSlots, RunLimits, key_caller

async def main():
    slots = RedisRunSlots(aioredis.Redis.from_url(sys.argv[1]), RunLimits(per_key=1),
                          prefix=sys.argv[2], lease_seconds=float(sys.argv[3]))
    await slots.acquire("app", key_caller("k"))
    print("held", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_killed_holders_slot_expires_with_its_lease(prefix: str) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'sdk'}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(HOLDER), REDIS_URL, prefix, str(LEASE),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    other = _slots(prefix, RunLimits(per_key=1))
    try:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"held"
        await asyncio.sleep(LEASE * 1.5)  # alive: its renewals keep the slot
        with pytest.raises(TooManyRequests):
            await other.acquire("app", key_caller("k"))
        proc.send_signal(signal.SIGKILL)  # no release, no clean-up: a crashed worker
        await proc.wait()
        killed = time.monotonic()
        while True:
            try:
                await other.acquire("app", key_caller("k"))
                break
            except TooManyRequests:
                assert time.monotonic() - killed < LEASE * 3, "the dead holder's slot leaked"
                await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await other.close()


# ---- two real servers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, str]]:
    """Two worker processes on Postgres and Redis whose keys may run one run at a time."""
    with running_cluster(tmp_path_factory, CHATFLOW_MAX_ACTIVE_RUNS_PER_KEY="1") as cluster:
        yield cluster, cluster.start(), cluster.start()


@pytest.mark.postgres
def test_a_keys_run_on_one_server_counts_on_the_other(pair: tuple[Cluster, str, str]) -> None:
    cluster, a, b = pair
    with httpx.Client(headers=cluster.auth, timeout=30) as client:
        with _start(client, a) as running:
            assert running.status_code == 200
            lines = running.iter_lines()
            assert any(line.startswith("data: ") for line in lines)  # it is running on A
            payload = {"inputs": {}, "query": "hi", "user": "bob", "response_mode": "blocking"}
            refused = client.post(f"{b}/chat-messages", json=payload)
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "too_many_requests"
            assert client.get(f"{b}/parameters").status_code == 200  # B keeps answering
            for _ in lines:  # let A's run finish
                pass
        deadline = time.monotonic() + 30
        while True:  # its slot frees when A's run ends; then B runs the key's next turn
            response = client.post(f"{b}/chat-messages", json=payload)
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert response.status_code == 200, response.text
