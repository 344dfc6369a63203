"""Apps and API keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import apps
from chatflow.store.apps import AppInfo
from chatflow.store.end_users import get_or_create_end_user
from chatflow.store.models import ApiKey, EndUser


async def test_create_get_list_update_delete_app(session: AsyncSession) -> None:
    info = AppInfo(name="Bot", mode="advanced-chat", description="d", icon="🤖", icon_type="emoji")
    app = await apps.create_app(session, info, "kind: app\n")
    assert app.dsl_hash == apps.dsl_hash("kind: app\n")
    assert (await apps.get_app(session, app.id)) is app
    other = await apps.create_app(session, AppInfo(name="Other", mode="chat"), "x")
    assert [a.id for a in await apps.list_apps(session)] == [app.id, other.id]

    updated = await apps.update_app(session, app.id, AppInfo(name="Bot 2", mode="workflow"), "y")
    assert updated is not None
    assert (updated.name, updated.mode, updated.icon, updated.dsl_text) == (
        "Bot 2",
        "workflow",
        "",
        "y",
    )
    assert updated.dsl_hash == apps.dsl_hash("y")
    assert await apps.update_app(session, "missing", info, "z") is None

    await get_or_create_end_user(session, app.id, "u")
    assert await apps.delete_app(session, app.id) is True
    assert await apps.delete_app(session, app.id) is False
    assert await apps.get_app(session, app.id) is None
    # Cascade: the app's end users are gone too.
    assert (await session.scalars(select(EndUser).where(EndUser.app_id == app.id))).all() == []


async def test_api_key_is_stored_hashed_and_found_by_token(session: AsyncSession) -> None:
    app = await apps.create_app(session, AppInfo(name="A", mode="chat"), "")
    key, token = await apps.create_api_key(session, app.id)
    assert token.startswith("app-") and len(token) == 28
    assert key.token_hash == apps.hash_token(token) != token
    assert key.prefix == token[:8]
    found = await apps.find_api_key(session, token)
    assert found is not None and found[0].id == key.id and found[1].id == app.id
    assert await apps.find_api_key(session, token + "x") is None

    given = await apps.add_api_key(session, app.id, "app-configured")
    assert [k.id for k in await apps.list_api_keys(session, app.id)] == [key.id, given.id]
    assert await apps.delete_api_key(session, app.id, key.id) is True
    assert await apps.delete_api_key(session, "other-app", given.id) is False
    assert await apps.find_api_key(session, token) is None


async def test_touch_api_key_writes_at_most_once_per_interval(session: AsyncSession) -> None:
    app = await apps.create_app(session, AppInfo(name="A", mode="chat"), "")
    key, _ = await apps.create_api_key(session, app.id)
    assert key.last_used_at is None
    await apps.touch_api_key(session, key.id)
    first = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key.id))
    assert first is not None
    await apps.touch_api_key(session, key.id)
    assert await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key.id)) == first

    stale = first - timedelta(minutes=5)
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=stale))
    await apps.touch_api_key(session, key.id)
    latest = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key.id))
    assert latest is not None and latest >= first
