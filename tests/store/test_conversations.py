"""Conversations: user scoping, cursor paging in every sort order, rename, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import InvalidRequest, NotFound
from chatflow.store import conversations as conv
from chatflow.store.conversation_variables import VariableValue, upsert_conversation_variables
from chatflow.store.feedbacks import set_feedback
from chatflow.store.messages import create_message
from chatflow.store.models import (
    Conversation,
    ConversationVariable,
    Message,
    MessageFeedback,
    WorkflowRun,
)
from chatflow.store.runs import create_run

from .conftest import World

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _conversation(session: AsyncSession, world: World, user: str, name: str) -> str:
    c = await conv.create_conversation(
        session, app_id=world.app_id, end_user_id=user, name=name, inputs={"city": "Oslo"}
    )
    return c.id


async def test_create_and_get_is_scoped_to_app_and_user(
    session: AsyncSession, world: World
) -> None:
    cid = await _conversation(session, world, world.alice, "hi")
    got = await conv.get_conversation(
        session, app_id=world.app_id, end_user_id=world.alice, conversation_id=cid
    )
    assert got is not None
    assert (got.name, got.inputs, got.status, got.dialogue_count) == (
        "hi",
        {"city": "Oslo"},
        "normal",
        0,
    )
    for app_id, user in ((world.app_id, world.bob), ("other-app", world.alice)):
        assert (
            await conv.get_conversation(
                session, app_id=app_id, end_user_id=user, conversation_id=cid
            )
            is None
        )
    page = await conv.list_conversations(session, app_id=world.app_id, end_user_id=world.bob)
    assert page.items == [] and page.has_more is False


TIMES = {  # name: (created_at offset, updated_at offset) in seconds
    "a": (0, 50),
    "b": (10, 30),
    "c": (10, 30),  # ties with b on both columns
    "d": (20, 10),
    "e": (30, 40),
}


async def _seed_sorted(session: AsyncSession, world: World) -> dict[str, str]:
    """Five conversations of alice with controlled times (one of bob's beside them)."""
    ids: dict[str, str] = {}
    for name, (created, updated) in TIMES.items():
        cid = await _conversation(session, world, world.alice, name)
        await session.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(
                created_at=T0 + timedelta(seconds=created),
                updated_at=T0 + timedelta(seconds=updated),
            )
        )
        ids[name] = cid
    await _conversation(session, world, world.bob, "bob's")
    return ids


@pytest.mark.parametrize("sort_by", ["-updated_at", "updated_at", "-created_at", "created_at"])
async def test_cursor_paging_in_every_sort_order(
    session: AsyncSession, world: World, sort_by: str
) -> None:
    ids = await _seed_sorted(session, world)
    column = 1 if sort_by.endswith("updated_at") else 0
    # Ties on the column are broken by id, in the same direction.
    expected = [
        ids[n]
        for n in sorted(
            TIMES, key=lambda n: (TIMES[n][column], ids[n]), reverse=sort_by.startswith("-")
        )
    ]
    seen: list[str] = []
    flags: list[bool] = []
    last_id: str | None = None
    while True:
        page = await conv.list_conversations(
            session,
            app_id=world.app_id,
            end_user_id=world.alice,
            last_id=last_id,
            limit=2,
            sort_by=sort_by,
        )
        seen += [c.id for c in page.items]
        flags.append(page.has_more)
        if not page.has_more:
            break
        last_id = page.items[-1].id
    assert seen == expected
    assert flags == [True, True, False]

    whole = await conv.list_conversations(
        session, app_id=world.app_id, end_user_id=world.alice, limit=5, sort_by=sort_by
    )
    assert [c.id for c in whole.items] == expected and whole.has_more is False
    assert whole.limit == 5


async def test_default_sort_puts_recently_updated_first(
    session: AsyncSession, world: World
) -> None:
    old = await _conversation(session, world, world.alice, "old")
    new = await _conversation(session, world, world.alice, "new")
    await create_message(
        session, app_id=world.app_id, conversation_id=old, end_user_id=world.alice, query="bump"
    )
    page = await conv.list_conversations(session, app_id=world.app_id, end_user_id=world.alice)
    assert [c.id for c in page.items] == [old, new]


async def test_paging_errors(session: AsyncSession, world: World) -> None:
    bobs = await _conversation(session, world, world.bob, "b")
    with pytest.raises(NotFound):
        await conv.list_conversations(
            session, app_id=world.app_id, end_user_id=world.alice, last_id="nope"
        )
    with pytest.raises(NotFound):  # another user's id is unknown too
        await conv.list_conversations(
            session, app_id=world.app_id, end_user_id=world.alice, last_id=bobs
        )
    with pytest.raises(InvalidRequest):
        await conv.list_conversations(
            session, app_id=world.app_id, end_user_id=world.alice, sort_by="name"
        )


async def test_rename_bumps_updated_at_and_is_scoped(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world, world.alice, "before")
    await session.execute(update(Conversation).where(Conversation.id == cid).values(updated_at=T0))
    assert (
        await conv.rename_conversation(
            session, app_id=world.app_id, end_user_id=world.bob, conversation_id=cid, name="x"
        )
        is None
    )
    renamed = await conv.rename_conversation(
        session, app_id=world.app_id, end_user_id=world.alice, conversation_id=cid, name="after"
    )
    assert renamed is not None and renamed.name == "after" and renamed.updated_at > T0


async def test_touch_conversation(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world, world.alice, "t")
    await session.execute(update(Conversation).where(Conversation.id == cid).values(updated_at=T0))
    await conv.touch_conversation(session, cid)
    touched = await session.scalar(select(Conversation.updated_at).where(Conversation.id == cid))
    assert touched is not None and touched > T0


async def _count(session: AsyncSession, model: type, **where: str) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int(await session.scalar(query) or 0)


async def test_delete_removes_messages_variables_and_feedbacks(
    session: AsyncSession, world: World
) -> None:
    cid = await _conversation(session, world, world.alice, "doomed")
    keep = await _conversation(session, world, world.alice, "kept")
    message = await create_message(
        session, app_id=world.app_id, conversation_id=cid, end_user_id=world.alice, query="q"
    )
    await create_message(
        session, app_id=world.app_id, conversation_id=keep, end_user_id=world.alice, query="q"
    )
    await upsert_conversation_variables(session, cid, [VariableValue("v1", "topic", "string", "x")])
    await set_feedback(session, message, rating="like")
    run = await create_run(
        session,
        app_id=world.app_id,
        workflow_id="w",
        inputs={},
        conversation_id=cid,
        message_id=message.id,
    )

    assert not await conv.delete_conversation(
        session, app_id=world.app_id, end_user_id=world.bob, conversation_id=cid
    )
    assert await conv.delete_conversation(
        session, app_id=world.app_id, end_user_id=world.alice, conversation_id=cid
    )
    assert not await conv.delete_conversation(
        session, app_id=world.app_id, end_user_id=world.alice, conversation_id=cid
    )
    assert await _count(session, Message, conversation_id=cid) == 0
    assert await _count(session, ConversationVariable, conversation_id=cid) == 0
    assert await _count(session, MessageFeedback, conversation_id=cid) == 0
    assert await _count(session, Message, conversation_id=keep) == 1
    assert await _count(session, WorkflowRun, id=run.id) == 1  # run logs stay
    page = await conv.list_conversations(session, app_id=world.app_id, end_user_id=world.alice)
    assert [c.id for c in page.items] == [keep]
