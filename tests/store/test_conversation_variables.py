"""Conversation variables: upsert in one statement, paging by variable id, PUT value."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import NotFound
from chatflow.store import conversation_variables as cv
from chatflow.store.conversation_variables import VariableValue
from chatflow.store.conversations import create_conversation

from .conftest import World

DEFAULTS = [
    VariableValue("id-topic", "topic", "string", "", "what we talk about"),
    VariableValue("id-count", "count", "number", 0),
    VariableValue("id-memo", "memo", "object", {"k": ["v", "ü"]}),
    VariableValue("id-tags", "tags", "array[string]", []),
]


async def _conversation(session: AsyncSession, world: World) -> str:
    c = await create_conversation(session, app_id=world.app_id, end_user_id=world.alice)
    return c.id


async def test_upsert_inserts_then_overwrites_values(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world)
    other = await _conversation(session, world)
    await cv.upsert_conversation_variables(session, cid, DEFAULTS)
    await cv.upsert_conversation_variables(session, other, DEFAULTS)
    loaded = {v.name: v for v in await cv.load_conversation_variables(session, cid)}
    assert {n: v.value for n, v in loaded.items()} == {
        "topic": "",
        "count": 0,
        "memo": {"k": ["v", "ü"]},
        "tags": [],
    }
    created = loaded["count"].created_at

    await cv.upsert_conversation_variables(
        session,
        cid,
        [
            VariableValue("id-count", "count", "number", 3),
            VariableValue("id-tags", "tags", "array[string]", ["a"]),
        ],
    )
    # Objects already loaded in this session see the new values.
    assert loaded["count"].value == 3 and loaded["tags"].value == ["a"]
    fresh = await cv.get_conversation_variable(session, cid, "id-count")
    assert fresh is not None and fresh.value == 3
    assert fresh.created_at == created and fresh.description == ""
    topic = await cv.get_conversation_variable(session, cid, "id-topic")
    assert topic is not None and topic.description == "what we talk about"
    untouched = await cv.get_conversation_variable(session, other, "id-count")
    assert untouched is not None and untouched.value == 0
    await cv.upsert_conversation_variables(session, cid, [])  # nothing to do


async def test_paging_and_name_filter(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world)
    await cv.upsert_conversation_variables(session, cid, DEFAULTS)
    everything = await cv.list_conversation_variables(session, cid, limit=100)
    assert len(everything.items) == 4 and not everything.has_more
    seen: list[str] = []
    last_id: str | None = None
    while True:
        page = await cv.list_conversation_variables(session, cid, last_id=last_id, limit=3)
        seen += [v.variable_id for v in page.items]
        if not page.has_more:
            break
        last_id = page.items[-1].variable_id
    assert seen == [v.variable_id for v in everything.items]
    assert sorted(seen) == sorted(v.variable_id for v in DEFAULTS)

    named = await cv.list_conversation_variables(session, cid, variable_name="memo")
    assert [v.variable_id for v in named.items] == ["id-memo"]
    with pytest.raises(NotFound):
        await cv.list_conversation_variables(session, cid, last_id="nope")


async def test_set_value(session: AsyncSession, world: World) -> None:
    cid = await _conversation(session, world)
    await cv.upsert_conversation_variables(session, cid, DEFAULTS)
    updated = await cv.set_conversation_variable(session, cid, "id-memo", {"new": True})
    assert updated is not None and updated.value == {"new": True}
    assert await cv.set_conversation_variable(session, cid, "id-missing", 1) is None
    none_value = await cv.set_conversation_variable(session, cid, "id-topic", None)
    assert none_value is not None and none_value.value is None
