"""The hot-path turn writes (`store/turns.py` on `store/direct.py`), on SQLite and Postgres.

What they write must read back through the ORM exactly like the ORM's own writes, their
transactions must be whole, and on SQLite they must never mix into a session's open
transaction on the shared connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatflow.store import Database
from chatflow.store import turns as turns_repo
from chatflow.store.checkpoint import WalCheckpointer
from chatflow.store.conversation_variables import VariableValue, load_conversation_variables
from chatflow.store.direct import Write, WriteMany
from chatflow.store.models import Conversation, Message, NodeExecution, WorkflowRun
from chatflow.store.runs import NodeExecutionRecord

from .conftest import World, make_world


async def _world(db: Database) -> World:
    async with db.session() as session:
        return await make_world(session)


async def _insert_turn(db: Database, **turn: Any) -> turns_repo.TurnRows:
    """A turn's start written at once, as a streaming turn's is."""
    writes, rows = turns_repo.start_writes(**turn)
    await db.write(writes)
    return rows


def _start_writes(
    world: World, conversation_id: str, message_id: str, run_id: str, query: str, name: str
) -> list[Write | WriteMany]:
    writes, _ = turns_repo.start_writes(
        app_id=world.app_id,
        end_user_id=world.alice,
        conversation_id=conversation_id,
        new_conversation={"name": name, "inputs": {"city": "Zürich"}, "introduction": "hi"},
        message_id=message_id,
        query=query,
        inputs={"city": "Zürich"},
        files=[{"type": "image", "url": "https://x/y.png"}],
        run_id=run_id,
        workflow_id=str(uuid.uuid4()),
        variables=[VariableValue("v1", "counter", "number", 1, "a counter")],
    )
    return writes


async def _start(
    db: Database, world: World, *, query: str = "héllo", name: str = "n"
) -> tuple[str, str, str]:
    conversation_id, message_id, run_id = (str(uuid.uuid4()) for _ in range(3))
    await db.write(_start_writes(world, conversation_id, message_id, run_id, query, name))
    return conversation_id, message_id, run_id


@pytest.mark.parametrize("held", [False, True], ids=["started-first", "held-start"])
async def test_a_turn_reads_back_through_the_orm(db: Database, held: bool) -> None:
    """Written at its start and completed at its end, or (a blocking turn) all at the end
    with the start folded in: the same rows either way."""
    world = await _world(db)
    if held:
        conversation_id, message_id, run_id = (str(uuid.uuid4()) for _ in range(3))
        start = _start_writes(world, conversation_id, message_id, run_id, "héllo", "n")
    else:
        conversation_id, message_id, run_id = await _start(db, world)
        start = []
    finished = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    await turns_repo.finish_turn(
        db,
        message={
            "message_id": message_id,
            "answer": "réponse",
            "status": "normal",
            "error": None,
            "message_tokens": 3,
            "answer_tokens": 5,
            "usage": {"total_tokens": 8},
            "latency": 0.25,
            "metadata": {"usage": {"total_tokens": 8}},
        },
        run={
            "status": "succeeded",
            "outputs": {"answer": "réponse"},
            "error": None,
            "elapsed_time": 0.25,
            "total_tokens": 8,
            "total_steps": 2,
            "exceptions_count": 0,
            "finished_at": finished,
        },
        run_id=run_id,
        nodes=[
            NodeExecutionRecord(node_id="start", node_type="start", status="succeeded", index=1),
            NodeExecutionRecord(
                node_id="answer",
                node_type="answer",
                status="succeeded",
                index=2,
                outputs={"answer": "réponse"},
            ),
        ],
        conversation_id=conversation_id,
        variables=[VariableValue("v1", "counter", "number", 2, "ignored on update")],
        start=start,
    )
    await turns_repo.name_conversation(
        db,
        app_id=world.app_id,
        end_user_id=world.alice,
        conversation_id=conversation_id,
        name="Named",
        placeholder="n",  # the name the turn started the conversation with
    )
    async with db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        message = await session.get(Message, message_id)
        run = await session.get(WorkflowRun, run_id)
        nodes = (
            await session.scalars(
                select(NodeExecution)
                .where(NodeExecution.workflow_run_id == run_id)
                .order_by(NodeExecution.index)
            )
        ).all()
        stored = await load_conversation_variables(session, conversation_id)
    assert conversation is not None and message is not None and run is not None
    assert (conversation.name, conversation.dialogue_count) == ("Named", 1)
    # A conversation renamed meanwhile keeps the name it was given.
    await turns_repo.name_conversation(
        db,
        app_id=world.app_id,
        end_user_id=world.alice,
        conversation_id=conversation_id,
        name="Generated later",
        placeholder="n",
    )
    async with db.session() as session:
        again = await session.get(Conversation, conversation_id)
    assert again is not None and again.name == "Named"
    assert conversation.inputs == {"city": "Zürich"}
    assert conversation.created_at.tzinfo is UTC
    assert (message.query, message.answer, message.status) == ("héllo", "réponse", "normal")
    assert message.files == [{"type": "image", "url": "https://x/y.png"}]
    assert message.usage == {"total_tokens": 8}
    assert message.message_metadata == {"usage": {"total_tokens": 8}}
    assert (message.message_tokens, message.answer_tokens, message.latency) == (3, 5, 0.25)
    assert run.status == "succeeded" and run.outputs == {"answer": "réponse"}
    assert run.finished_at == finished
    assert [(n.node_id, n.outputs) for n in nodes] == [
        ("start", None),
        ("answer", {"answer": "réponse"}),
    ]
    assert [(v.name, v.value, v.description) for v in stored] == [("counter", 2, "a counter")]


async def test_continuing_bumps_the_conversation(db: Database) -> None:
    world = await _world(db)
    conversation_id, _, _ = await _start(db, world)
    await _insert_turn(
        db,
        app_id=world.app_id,
        end_user_id=world.alice,
        conversation_id=conversation_id,
        new_conversation=None,
        message_id=str(uuid.uuid4()),
        query="again",
        inputs={},
        files=[],
        run_id=str(uuid.uuid4()),
        workflow_id=str(uuid.uuid4()),
    )
    async with db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.dialogue_count == 2


async def test_a_failing_statement_rolls_back_the_whole_write(db: Database) -> None:
    world = await _world(db)
    _, message_id, _ = await _start(db, world)
    duplicate_message = str(uuid.uuid4())
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError
        await _insert_turn(
            db,
            app_id=world.app_id,
            end_user_id=world.alice,
            conversation_id=str(uuid.uuid4()),
            new_conversation={"name": "x", "inputs": {}, "introduction": ""},
            message_id=message_id,  # already taken: the second INSERT fails
            query="q",
            inputs={},
            files=[],
            run_id=duplicate_message,
            workflow_id="w",
        )
    async with db.session() as session:
        conversations = (await session.scalars(select(Conversation))).all()
        runs = (await session.scalars(select(WorkflowRun.id))).all()
    assert len(conversations) == 1  # the first turn's only
    assert duplicate_message not in runs
    await _start(db, world)  # and the connection is usable again


async def test_reads_see_committed_rows(db: Database) -> None:
    world = await _world(db)
    assert await turns_repo.find_end_user_id(db, world.app_id, "alice") == (world.alice, "alice")
    assert await turns_repo.find_end_user_id(db, world.app_id, "nobody") is None
    assert await turns_repo.annotation_reply_threshold(db, world.app_id) is None


async def test_sqlite_writes_never_join_an_open_session(tmp_path: Path) -> None:
    """A direct write while a session holds the connection waits for it, so the
    session's rollback cannot take the write with it (nor the write commit the session)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    await db.connect()
    try:
        world = await _world(db)
        opened, release = asyncio.Event(), asyncio.Event()

        async def session_that_rolls_back() -> None:
            with pytest.raises(RuntimeError):
                async with db.session() as session:
                    session.add(Conversation(app_id=world.app_id, end_user_id=world.bob, name="x"))
                    await session.flush()
                    opened.set()
                    await release.wait()
                    raise RuntimeError("roll back")

        task = asyncio.create_task(session_that_rolls_back())
        await opened.wait()
        write = asyncio.create_task(_start(db, world, name="direct"))
        await asyncio.sleep(0.05)
        assert not write.done()  # waiting for the connection, not writing into the session
        release.set()
        await task
        await write
        async with db.session() as session:
            names = (await session.scalars(select(Conversation.name))).all()
        assert names == ["direct"]
    finally:
        await db.close()


async def test_wal_checkpoints_happen_off_the_request_path(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer moves pages
    writer.execute("CREATE TABLE t (x TEXT)")
    writer.executemany("INSERT INTO t VALUES (?)", [("row",)] * 100)
    writer.commit()

    def in_main_file() -> int:
        # `immutable=1` ignores the WAL: this reads only what was checkpointed.
        reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(reader.execute("SELECT count(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the WAL
            return 0
        finally:
            reader.close()

    assert in_main_file() == 0
    held = 0

    @contextlib.asynccontextmanager
    async def hold() -> AsyncIterator[None]:
        nonlocal held
        held += 1
        yield

    checkpointer = WalCheckpointer(str(path), hold, interval=0.02, restart_pages=1)
    checkpointer.start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if in_main_file() == 100:
                break
        assert in_main_file() == 100
        assert held  # a RESTART ran with the connection held
    finally:
        await checkpointer.stop()
        writer.close()
