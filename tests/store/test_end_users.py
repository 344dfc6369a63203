"""End users: one per (app, user string), race-safe creation, anonymous default."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import Database
from chatflow.store.apps import AppInfo, create_app
from chatflow.store.end_users import (
    DEFAULT_USER,
    find_end_user,
    get_end_user,
    get_or_create_end_user,
)


async def test_get_or_create_returns_the_same_user(session: AsyncSession) -> None:
    app = await create_app(session, AppInfo(name="A", mode="chat"), "")
    assert await find_end_user(session, app.id, "alice") is None
    alice = await get_or_create_end_user(session, app.id, "alice")
    assert (alice.session_id, alice.external_user_id, alice.type) == (
        "alice",
        "alice",
        "service_api",
    )
    assert alice.is_anonymous is False
    again = await get_or_create_end_user(session, app.id, "alice")
    assert again.id == alice.id
    assert (await get_end_user(session, app.id, alice.id)) is not None


async def test_same_user_string_in_another_app_is_another_user(session: AsyncSession) -> None:
    a = await create_app(session, AppInfo(name="A", mode="chat"), "")
    b = await create_app(session, AppInfo(name="B", mode="chat"), "")
    in_a = await get_or_create_end_user(session, a.id, "alice")
    in_b = await get_or_create_end_user(session, b.id, "alice")
    assert in_a.id != in_b.id
    assert await get_end_user(session, b.id, in_a.id) is None


async def test_missing_user_is_dify_default_anonymous_user(session: AsyncSession) -> None:
    app = await create_app(session, AppInfo(name="A", mode="chat"), "")
    anonymous = await get_or_create_end_user(session, app.id, None)
    assert anonymous.session_id == DEFAULT_USER and anonymous.is_anonymous is True
    assert (await get_or_create_end_user(session, app.id, "")).id == anonymous.id


async def test_concurrent_first_requests_create_one_user(db: Database) -> None:
    async with db.session() as s:
        app = await create_app(s, AppInfo(name="A", mode="chat"), "")

    async def first_request() -> str:
        async with db.session() as s:
            return (await get_or_create_end_user(s, app.id, "racer")).id

    ids = await asyncio.gather(*(first_request() for _ in range(4)))
    assert len(set(ids)) == 1
