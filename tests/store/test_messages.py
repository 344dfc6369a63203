"""Messages: start/finish a turn, first_id paging, LLM history, user scoping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import NotFound
from chatflow.store import Database
from chatflow.store import messages as msgs
from chatflow.store.conversations import create_conversation, get_conversation
from chatflow.store.models import Conversation, Message

from .conftest import World, make_world

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _conversation(session: AsyncSession, world: World, user: str | None = None) -> str:
    c = await create_conversation(session, app_id=world.app_id, end_user_id=user or world.alice)
    return c.id


async def _turns(session: AsyncSession, world: World, cid: str, n: int) -> list[str]:
    """n finished messages, one second apart, oldest first."""
    ids = []
    for i in range(n):
        m = await msgs.create_message(
            session,
            app_id=world.app_id,
            conversation_id=cid,
            end_user_id=world.alice,
            query=f"q{i}",
        )
        await msgs.finish_message(session, m.id, answer=f"a{i}")
        await session.execute(
            update(Message).where(Message.id == m.id).values(created_at=T0 + timedelta(seconds=i))
        )
        ids.append(m.id)
    return ids


async def test_create_and_finish_message(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world)
    files = [{"type": "image", "transfer_method": "local_file", "upload_file_id": "f1"}]
    m = await msgs.create_message(
        session,
        app_id=world.app_id,
        conversation_id=cid,
        end_user_id=world.alice,
        query="hello",
        inputs={"name": "Ann"},
        files=files,
    )
    assert (m.status, m.answer, m.files, m.inputs) == ("running", "", files, {"name": "Ann"})
    conversation = await get_conversation(
        session, app_id=world.app_id, end_user_id=world.alice, conversation_id=cid
    )
    assert conversation is not None and conversation.dialogue_count == 1

    usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8, "currency": "USD"}
    await msgs.finish_message(
        session,
        m.id,
        answer="Hi Ann",
        message_tokens=3,
        answer_tokens=5,
        usage=usage,
        latency=0.25,
        metadata={"retriever_resources": []},
        workflow_run_id="run-1",
    )
    done = await msgs.get_message(
        session, app_id=world.app_id, end_user_id=world.alice, message_id=m.id
    )
    assert done is not None
    assert (done.status, done.answer, done.usage, done.latency) == ("normal", "Hi Ann", usage, 0.25)
    assert (done.message_tokens, done.answer_tokens, done.workflow_run_id) == (3, 5, "run-1")
    assert done.message_metadata == {"retriever_resources": []}

    await msgs.finish_message(session, m.id, answer="Hi", status="stopped")
    stopped = await session.scalar(select(Message).where(Message.id == m.id))
    assert stopped is not None
    assert (stopped.status, stopped.answer, stopped.workflow_run_id) == ("stopped", "Hi", "run-1")
    assert stopped.message_metadata == {"retriever_resources": []}  # None leaves it as is


async def test_message_is_scoped_to_user(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world)
    [mid] = await _turns(session, world, cid, 1)
    assert (
        await msgs.get_message(session, app_id=world.app_id, end_user_id=world.bob, message_id=mid)
        is None
    )
    assert (
        await msgs.get_message(session, app_id="other", end_user_id=world.alice, message_id=mid)
        is None
    )
    page = await msgs.list_messages(
        session, app_id=world.app_id, end_user_id=world.bob, conversation_id=cid
    )
    assert page.items == [] and not page.has_more


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6])
async def test_first_id_paging_walks_back_in_time(
    session: AsyncSession, world: World, limit: int
) -> None:
    cid = await _conversation(session, world)
    ids = await _turns(session, world, cid, 5)
    other = await _conversation(session, world)
    await _turns(session, world, other, 2)

    pages: list[list[str]] = []
    first_id: str | None = None
    while True:
        page = await msgs.list_messages(
            session,
            app_id=world.app_id,
            end_user_id=world.alice,
            conversation_id=cid,
            first_id=first_id,
            limit=limit,
        )
        pages.append([m.id for m in page.items])
        assert page.has_more == (sum(map(len, pages)) < 5)
        if not page.has_more:
            break
        first_id = page.items[0].id
    # Each page is oldest-first; pages go newest to oldest.
    assert pages[0] == ids[-limit:]
    assert [i for p in reversed(pages) for i in p] == ids


async def test_first_id_must_exist_in_that_conversation(
    session: AsyncSession, world: World
) -> None:
    cid = await _conversation(session, world)
    other = await _conversation(session, world)
    [foreign] = await _turns(session, world, other, 1)
    for first_id in ("nope", foreign):
        with pytest.raises(NotFound):
            await msgs.list_messages(
                session,
                app_id=world.app_id,
                end_user_id=world.alice,
                conversation_id=cid,
                first_id=first_id,
            )


async def test_history_is_last_n_finished_turns_oldest_first(
    session: AsyncSession, world: World
) -> None:
    cid = await _conversation(session, world)
    ids = await _turns(session, world, cid, 4)
    current = await msgs.create_message(
        session, app_id=world.app_id, conversation_id=cid, end_user_id=world.alice, query="now"
    )
    turns = await msgs.history(session, cid, 2)
    assert [(t.query, t.answer) for t in turns] == [("q2", "a2"), ("q3", "a3")]
    assert current.status == "running"  # not part of the memory
    everything = await msgs.history(session, cid, 50)
    assert [t.query for t in everything] == ["q0", "q1", "q2", "q3"]
    before = await msgs.history(session, cid, 50, before_message_id=ids[2])
    assert [t.query for t in before] == ["q0", "q1"]
    assert await msgs.history(session, cid, 0) == []


async def test_creating_a_message_bumps_the_conversation(
    session: AsyncSession, world: World
) -> None:
    cid = await _conversation(session, world)
    await session.execute(update(Conversation).where(Conversation.id == cid).values(updated_at=T0))
    await _turns(session, world, cid, 2)
    row = (
        await session.execute(
            select(Conversation.updated_at, Conversation.dialogue_count).where(
                Conversation.id == cid
            )
        )
    ).one()
    assert row[0] > T0 and row[1] == 2


async def test_concurrent_turns_in_separate_sessions(db: Database) -> None:
    """Writers queue (SQLite busy_timeout, Postgres row locks); counts stay exact."""
    async with db.session() as s:
        world = await make_world(s)
        cid = await _conversation(s, world)

    async def turn(i: int) -> None:
        async with db.session() as s:
            m = await msgs.create_message(
                s, app_id=world.app_id, conversation_id=cid, end_user_id=world.alice, query=f"q{i}"
            )
            await msgs.finish_message(s, m.id, answer=f"a{i}")

    await asyncio.gather(*(turn(i) for i in range(10)))
    async with db.session() as s:
        count = await s.scalar(select(Conversation.dialogue_count).where(Conversation.id == cid))
        assert count == 10
        assert len(await msgs.history(s, cid, 100)) == 10
