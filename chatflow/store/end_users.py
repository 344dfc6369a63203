"""End-user repository: the request's `user` string becomes one row per app."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._dialect import insert_for
from chatflow.store._types import new_id, utcnow
from chatflow.store.models import EndUser

# Dify's session id for Service API calls that name no user.
DEFAULT_USER = "DEFAULT-USER"


async def find_end_user(session: AsyncSession, app_id: str, user: str | None) -> EndUser | None:
    """The end user for a `user` string, without creating one (for read-only requests)."""
    return await session.scalar(
        select(EndUser).where(
            EndUser.app_id == app_id, EndUser.session_id == (user or DEFAULT_USER)
        )
    )


async def get_or_create_end_user(session: AsyncSession, app_id: str, user: str | None) -> EndUser:
    """The end user for a `user` string, created on first use.

    Matches Dify: an empty or missing `user` is the anonymous `DEFAULT-USER`. Safe when two
    requests race: the insert does nothing on conflict and the row is read back.
    """
    session_id = user or DEFAULT_USER
    existing = await find_end_user(session, app_id, session_id)
    if existing is not None:
        return existing
    now = utcnow()
    stmt = insert_for(session, EndUser).values(
        id=new_id(),
        app_id=app_id,
        type="service_api",
        session_id=session_id,
        external_user_id=session_id,
        is_anonymous=not user,
        created_at=now,
        updated_at=now,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["app_id", "session_id"]))
    created = await find_end_user(session, app_id, session_id)
    assert created is not None  # inserted above or by the racing request
    return created


async def get_end_user(session: AsyncSession, app_id: str, end_user_id: str) -> EndUser | None:
    """The end user with this id in this app (`GET /end-users/{id}`), or None."""
    return await session.scalar(
        select(EndUser).where(EndUser.app_id == app_id, EndUser.id == end_user_id)
    )
