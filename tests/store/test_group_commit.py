"""Group commit of concurrent turns' writes (`Database.write`), on SQLite and Postgres.

Concurrent `Database.write` calls share transactions; each must still be whole (all of a
turn's rows or none), fail on its own (one bad turn never fails the others), and be
readable as soon as its writer is told it committed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from chatflow.store import Database
from chatflow.store import turns as turns_repo
from chatflow.store.db import _merged
from chatflow.store.direct import Bound
from chatflow.store.lifecycle import MessageEnd, RunEnd, RunStart
from chatflow.store.models import Conversation, Message, NodeExecution, WorkflowRun
from chatflow.store.runs import NodeExecutionRecord

from .conftest import World, make_world


async def _world(db: Database) -> World:
    async with db.session() as session:
        return await make_world(session)


def _turn(world: World, *, message_id: str | None = None, user: str | None = None) -> RunStart:
    return turns_repo.start_turn_rows(
        app_id=world.app_id,
        end_user_id=user or world.alice,
        conversation_id=str(uuid.uuid4()),
        new_conversation={"name": "n", "inputs": {}, "introduction": ""},
        message_id=message_id or str(uuid.uuid4()),
        query="q",
        inputs={},
        files=[],
        run_id=str(uuid.uuid4()),
        workflow_id="w",
    )


def _end(start: RunStart, answer: str) -> RunEnd:
    return RunEnd(
        run_id=start.run_id,
        status="succeeded",
        outputs={"answer": answer},
        error=None,
        elapsed_time=0.1,
        total_tokens=2,
        total_steps=2,
        exceptions_count=0,
        finished_at=datetime.now(UTC),
        nodes=[
            NodeExecutionRecord(node_id="start", node_type="start", status="succeeded", index=1),
            NodeExecutionRecord(node_id="answer", node_type="answer", status="succeeded", index=2),
        ],
        message=MessageEnd(
            message_id=start.message_id,
            answer=answer,
            status="normal",
            error=None,
            message_tokens=1,
            answer_tokens=1,
            usage=None,
            latency=0.1,
            metadata={},
        ),
        conversation_id=start.conversation_id,
    )


def _batches() -> tuple[float, float]:
    """(batches, writes) committed so far in this process (the group-commit histogram)."""
    count = REGISTRY.get_sample_value("chatflow_db_group_commit_writes_count") or 0.0
    total = REGISTRY.get_sample_value("chatflow_db_group_commit_writes_sum") or 0.0
    return count, total


async def _answer(db: Database, message_id: str) -> str | None:
    """The message's answer through the ORM (another path than the write's)."""
    async with db.session() as session:
        message = await session.get(Message, message_id)
    return None if message is None else message.answer


async def test_concurrent_turns_are_all_saved_in_shared_transactions(db: Database) -> None:
    world = await _world(db)
    store = turns_repo.TurnStore(db)
    starts = [_turn(world) for _ in range(60)]
    batches, writes = _batches()

    async def turn(index: int, start: RunStart) -> str | None:
        await store.start(start)
        await store.finish(_end(start, f"answer {index}"))
        # Read-after-write: the writer is told only once its batch has committed.
        return await _answer(db, start.message_id)

    answers = await asyncio.gather(*(turn(i, s) for i, s in enumerate(starts)))
    assert answers == [f"answer {i}" for i in range(60)]
    more_batches, more_writes = _batches()
    assert more_writes - writes == 120  # every start and every end went through a batch
    assert more_batches - batches < 120  # and they were committed together
    async with db.session() as session:
        runs = await session.scalar(
            select(func.count()).select_from(WorkflowRun).where(WorkflowRun.status == "succeeded")
        )
        nodes = await session.scalar(select(func.count()).select_from(NodeExecution))
    assert (runs, nodes) == (60, 120)


async def test_one_bad_turn_fails_alone_and_whole(db: Database) -> None:
    """A turn whose message id is taken fails with the driver's error; its conversation
    and run (written before the failing INSERT) are rolled back with it; the turns
    committed in the same batch are saved."""
    world = await _world(db)
    store = turns_repo.TurnStore(db)
    taken = _turn(world)
    await store.start(taken)
    good = [_turn(world) for _ in range(10)]
    bad = _turn(world, message_id=taken.message_id)
    batches, _ = _batches()
    outcomes = await asyncio.gather(
        *(store.start(s) for s in good[:5]),
        store.start(bad),
        *(store.start(s) for s in good[5:]),
        return_exceptions=True,
    )
    assert _batches()[0] - batches < 11  # the bad turn shared a batch with good ones
    assert [o is None for o in outcomes] == [True] * 5 + [False] + [True] * 5
    assert "UNIQUE" in str(outcomes[5]).upper() or "unique" in str(outcomes[5])
    async with db.session() as session:
        conversations = set((await session.scalars(select(Conversation.id))).all())
        runs = set((await session.scalars(select(WorkflowRun.id))).all())
    assert {s.conversation_id for s in good} <= conversations
    assert bad.conversation_id not in conversations
    assert bad.run_id not in runs
    assert {s.run_id for s in good} <= runs
    await store.finish(_end(good[0], "still fine"))  # the connection is usable again
    assert await _answer(db, good[0].message_id) == "still fine"


async def test_a_write_cancelled_while_queued_is_not_written(db: Database) -> None:
    world = await _world(db)
    store = turns_repo.TurnStore(db)
    first, second = _turn(world), _turn(world)
    kept = asyncio.create_task(store.start(first))
    dropped = asyncio.create_task(store.start(second))
    await asyncio.sleep(0)  # both queued, neither committed yet
    dropped.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await dropped
    async with db.session() as session:
        runs = set((await session.scalars(select(WorkflowRun.id))).all())
    assert first.run_id in runs and second.run_id not in runs


async def test_close_commits_what_was_handed_over(target: object, tmp_path: object) -> None:
    from .conftest import Target

    assert isinstance(target, Target)
    db = target.database()
    await db.connect()
    world = await _world(db)
    starts = [_turn(world) for _ in range(20)]
    tasks = [asyncio.create_task(turns_repo.TurnStore(db).start(s)) for s in starts]
    await asyncio.sleep(0)
    await db.close()
    await asyncio.gather(*tasks)
    await db.connect()
    try:
        async with db.session() as session:
            runs = set((await session.scalars(select(WorkflowRun.id))).all())
        assert {s.run_id for s in starts} <= runs
    finally:
        await db.close()


async def test_a_sqlite_batch_runs_one_executemany_per_statement(tmp_path: Path) -> None:
    """The good writes of a batch share one call per statement: no SAVEPOINT per write,
    and the rows stored are those that write by write would store."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'chatflow.db'}")
    await db.connect()
    try:
        world = await _world(db)
        store = turns_repo.TurnStore(db)
        starts = [_turn(world) for _ in range(8)]
        connection = db._free_sqlite()
        assert connection is not None
        statements: list[str] = []
        connection.set_trace_callback(statements.append)
        try:
            await asyncio.gather(*(store.start(s) for s in starts))
        finally:
            connection.set_trace_callback(None)
        assert not [sql for sql in statements if "SAVEPOINT" in sql]
        assert len([sql for sql in statements if sql.startswith("BEGIN")]) < 8
        async with db.session() as session:
            messages = (await session.scalars(select(Message))).all()
        assert {m.id for m in messages} == {s.message_id for s in starts}
        assert {m.status for m in messages} == {"running"}
    finally:
        await db.close()


def test_merged_keeps_each_writes_statement_order_or_gives_up() -> None:
    a, b, c = "INSERT INTO a", "INSERT INTO b", "INSERT INTO c"
    batch: list[list[Bound]] = [
        [(a, (1,)), (b, [(1,), (2,)])],
        [(a, (2,)), (c, (2,)), (b, [(3,)])],
    ]
    assert _merged(batch) is None  # b before c in the merged order, c before b here
    batch[1] = [(a, (2,)), (b, [(3,)]), (c, (2,))]
    assert _merged(batch) == [(a, [(1,), (2,)]), (b, [(1,), (2,), (3,)]), (c, [(2,)])]
