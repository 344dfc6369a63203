"""`OrphanCloser` over a real Redis and in-memory SQLite: the run of a worker that died
mid-answer is failed with the text it had streamed (replacements applied), a client
following its stream gets the failed end, exactly one of two sweeping workers closes it,
and runs of live or unannounced workers are not its business."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from chatflow.engine.events import TextChunk, TextReplace
from chatflow.runtime.redis import RedisRuntime
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.orphans import OrphanCloser
from chatflow.services.turn import StreamItem, TurnEnded
from chatflow.store import end_users as end_users_repo
from chatflow.store import runs as runs_repo
from chatflow.store import turns as turns_repo
from chatflow.store.models import Message, WorkflowRun
from tests.runtime.conftest import redis_runtime
from tests.runtime.redis_support import delete_prefix, require_redis


@pytest.fixture
async def runtimes() -> AsyncIterator[list[RedisRuntime[StreamItem]]]:
    """Three workers on one prefix: the first will die, the other two sweep."""
    require_redis()
    prefix = f"cftest-{uuid.uuid4().hex[:12]}"
    started = [await redis_runtime(prefix, retention=0.2) for _ in range(3)]
    yield started
    for runtime in started:
        await runtime.close()
    await delete_prefix(prefix)


async def _running_turn(services: Services, app: LoadedApp) -> tuple[str, str]:
    async with services.db.session() as session:
        end_user = await end_users_repo.get_or_create_end_user(session, app.id, "ann")
        end_user_id = end_user.id
    message_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    await turns_repo.TurnStore(services.db).start(
        turns_repo.start_turn_rows(
            app_id=app.id,
            end_user_id=end_user_id,
            conversation_id=str(uuid.uuid4()),
            new_conversation={"name": "n", "inputs": {}, "introduction": ""},
            message_id=message_id,
            query="q",
            inputs={},
            files=[],
            run_id=run_id,
            workflow_id="w",
        )
    )
    return run_id, message_id


async def test_a_dead_workers_run_fails_with_its_streamed_answer_once(
    services: Services, echo: LoadedApp, runtimes: list[RedisRuntime[StreamItem]]
) -> None:
    dead, sweeper_a, sweeper_b = runtimes
    run_id, message_id = await _running_turn(services, echo)
    task_id = "task-" + uuid.uuid4().hex
    await dead.streams.open(task_id, meta={"workflow_run_id": run_id})
    for item in (
        TextChunk("draft", "answer"),
        TextReplace("Half"),
        TextChunk(" an answ", "answer"),
    ):
        await dead.streams.publish(task_id, item)

    async def follow() -> list[StreamItem]:
        return [item async for _, item in sweeper_a.streams.subscribe(task_id)]

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    # The worker dies: no more heartbeats, its key gone.
    await asyncio.to_thread(dead.stop_heartbeat)
    await dead.redis.delete(dead.keys.worker(dead.worker_id))

    closers = [OrphanCloser(services.db, sweeper_a), OrphanCloser(services.db, sweeper_b)]
    unannounced = str(uuid.uuid4())
    found = await closers[0].known_dead([run_id, unannounced])
    assert found == {run_id: task_id}
    ended = await asyncio.gather(*(closer.close(found) for closer in closers))
    assert sorted(ended) == [0, 1]  # one worker closed it; the other found it claimed

    async with services.db.session() as session:
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
    assert message is not None and run is not None
    assert (message.status, message.answer) == ("error", "Half an answ")
    assert (run.status, run.error) == ("failed", runs_repo.INTERRUPTED)

    items = await asyncio.wait_for(follower, timeout=5)
    end = items[-1]
    assert isinstance(end, TurnEnded)
    assert end.answer == "Half an answ" and end.run.status == "failed"
    assert end.error is not None and end.error.status == 500
    assert await sweeper_b.tasks.find_owner(task_id) is None

    # Closing it again (a later sweep) ends nothing more.
    assert await closers[1].close(found) == 0


async def test_runs_of_live_workers_are_not_orphans(
    services: Services, echo: LoadedApp, runtimes: list[RedisRuntime[StreamItem]]
) -> None:
    live, sweeper, _ = runtimes
    run_id, message_id = await _running_turn(services, echo)
    await live.streams.open("task-live", meta={"workflow_run_id": run_id})
    closer = OrphanCloser(services.db, sweeper)
    assert await closer.known_dead([run_id]) == {}
    assert await closer.known_dead([]) == {}
    async with services.db.session() as session:
        message = await session.get(Message, message_id)
    assert message is not None and message.status == "running"
