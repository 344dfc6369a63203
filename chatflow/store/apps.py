"""App and API-key repository: import DSL apps and resolve `Authorization: Bearer app-...`."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import new_id, utcnow
from chatflow.store.models import ApiKey, App

_TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class AppInfo:
    """An app's metadata as read from its DSL (`app:` section)."""

    name: str
    mode: str
    description: str = ""
    icon: str = ""
    icon_type: str | None = None
    icon_background: str | None = None
    use_icon_as_answer_icon: bool = False


def dsl_hash(dsl_text: str) -> str:
    """sha256 hex of the DSL text; also used as the run's `workflow_id`."""
    return hashlib.sha256(dsl_text.encode("utf-8")).hexdigest()


def hash_token(token: str) -> str:
    """sha256 hex of an API key; only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _apply(app: App, info: AppInfo, dsl_text: str) -> None:
    app.name = info.name
    app.mode = info.mode
    app.description = info.description
    app.icon = info.icon
    app.icon_type = info.icon_type
    app.icon_background = info.icon_background
    app.use_icon_as_answer_icon = info.use_icon_as_answer_icon
    app.dsl_text = dsl_text
    app.dsl_hash = dsl_hash(dsl_text)


async def create_app(
    session: AsyncSession, info: AppInfo, dsl_text: str, *, app_id: str | None = None
) -> App:
    """Store a newly imported app."""
    app = App(id=app_id or new_id())
    _apply(app, info, dsl_text)
    session.add(app)
    await session.flush()
    return app


async def get_app(session: AsyncSession, app_id: str) -> App | None:
    """The app with this id, or None."""
    return await session.get(App, app_id)


async def list_apps(session: AsyncSession) -> list[App]:
    """All apps, oldest first."""
    rows = await session.scalars(select(App).order_by(App.created_at, App.id))
    return list(rows)


async def update_app(
    session: AsyncSession, app_id: str, info: AppInfo, dsl_text: str
) -> App | None:
    """Replace an app's DSL and metadata (re-import); None when the app does not exist."""
    app = await session.get(App, app_id)
    if app is None:
        return None
    _apply(app, info, dsl_text)
    app.updated_at = utcnow()
    await session.flush()
    return app


async def delete_app(session: AsyncSession, app_id: str) -> bool:
    """Delete an app and, by cascade, everything it owns; False when it did not exist."""
    result = await session.execute(delete(App).where(App.id == app_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_api_key(session: AsyncSession, app_id: str, token: str) -> ApiKey:
    """Register a given token (e.g. from configuration) as an API key of the app."""
    key = ApiKey(app_id=app_id, token_hash=hash_token(token), prefix=token[:8])
    session.add(key)
    await session.flush()
    return key


async def create_api_key(session: AsyncSession, app_id: str) -> tuple[ApiKey, str]:
    """Mint a Dify-style key (`app-` + 24 letters/digits); the token is returned only here."""
    token = "app-" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(24))
    return await add_api_key(session, app_id, token), token


async def find_api_key(session: AsyncSession, token: str) -> tuple[ApiKey, App] | None:
    """The key and app for a bearer token, by its hash; None when unknown."""
    row = (
        await session.execute(
            select(ApiKey, App)
            .join(App, App.id == ApiKey.app_id)
            .where(ApiKey.token_hash == hash_token(token))
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def list_api_keys(session: AsyncSession, app_id: str) -> list[ApiKey]:
    """An app's keys, oldest first (tokens are not recoverable, only `prefix`)."""
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.app_id == app_id).order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(rows)


async def delete_api_key(session: AsyncSession, app_id: str, key_id: str) -> bool:
    """Revoke a key; False when the app has no such key."""
    result = await session.execute(
        delete(ApiKey).where(ApiKey.app_id == app_id, ApiKey.id == key_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def touch_api_key(
    session: AsyncSession, key_id: str, *, every: timedelta = timedelta(minutes=1)
) -> None:
    """Record use of a key, at most once per `every`, so requests rarely write."""
    now = utcnow()
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )
