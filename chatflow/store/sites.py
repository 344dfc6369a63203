"""Sites and web sessions: an app's published chat page and the browsers signed in to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import utcnow
from chatflow.store.models import Site, WebSession


async def get_site(session: AsyncSession, app_id: str) -> Site | None:
    return await session.get(Site, app_id)


async def find_site(session: AsyncSession, code: str) -> Site | None:
    """The site with this code, enabled or not."""
    site: Site | None = await session.scalar(select(Site).where(Site.code == code))
    return site


async def create_site(session: AsyncSession, app_id: str, code: str, *, enabled: bool) -> Site:
    site = Site(app_id=app_id, code=code, enabled=enabled, show_workflow_steps=True)
    session.add(site)
    await session.flush()
    return site


async def add_session(
    session: AsyncSession, app_id: str, token_hash: str, user: str, expires_at: datetime
) -> WebSession:
    row = WebSession(app_id=app_id, token_hash=token_hash, user=user, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row


async def find_session(session: AsyncSession, token_hash: str) -> WebSession | None:
    """The unexpired session with this token hash."""
    row: WebSession | None = await session.scalar(
        select(WebSession).where(
            WebSession.token_hash == token_hash, WebSession.expires_at > utcnow()
        )
    )
    return row


async def end_sessions(session: AsyncSession, app_id: str) -> None:
    """Sign every browser out of the app's site (a new passcode, a disabled site)."""
    await session.execute(delete(WebSession).where(WebSession.app_id == app_id))
