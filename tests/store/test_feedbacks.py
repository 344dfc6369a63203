"""Feedbacks: like/dislike/revoke on a message, per-message lookup, app-wide pages."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import InvalidRequest
from chatflow.store import feedbacks as fb
from chatflow.store.conversations import create_conversation
from chatflow.store.messages import create_message
from chatflow.store.models import Message

from .conftest import World


async def _message(session: AsyncSession, world: World) -> Message:
    c = await create_conversation(session, app_id=world.app_id, end_user_id=world.alice)
    return await create_message(
        session, app_id=world.app_id, conversation_id=c.id, end_user_id=world.alice, query="q"
    )


async def test_like_change_and_revoke(session: AsyncSession, world: World) -> None:
    m = await _message(session, world)
    liked = await fb.set_feedback(session, m, rating="like")
    assert liked is not None
    assert (liked.rating, liked.content, liked.end_user_id) == ("like", None, world.alice)
    changed = await fb.set_feedback(session, m, rating="dislike", content="wrong")
    assert changed is not None and changed.id == liked.id
    assert (changed.rating, changed.content) == ("dislike", "wrong")
    assert (await fb.feedbacks_for_messages(session, [m.id]))[m.id].rating == "dislike"

    assert await fb.set_feedback(session, m, rating=None) is None
    assert await fb.feedbacks_for_messages(session, [m.id]) == {}
    with pytest.raises(InvalidRequest):
        await fb.set_feedback(session, m, rating=None)
    with pytest.raises(InvalidRequest):
        await fb.set_feedback(session, m, rating="love")


async def test_list_feedbacks_pages_newest_first(session: AsyncSession, world: World) -> None:
    made = []
    for _ in range(3):
        m = await _message(session, world)
        made.append(await fb.set_feedback(session, m, rating="like"))
    ids = [f.id for f in made if f is not None]
    everything = await fb.list_feedbacks(session, app_id=world.app_id, limit=101)
    assert [f.id for f in everything] == ids[::-1]
    second = await fb.list_feedbacks(session, app_id=world.app_id, page=2, limit=2)
    assert [f.id for f in second] == [ids[0]]
    assert await fb.list_feedbacks(session, app_id="other") == []
    assert await fb.feedbacks_for_messages(session, []) == {}
