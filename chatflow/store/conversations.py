"""Conversation repository: create, find, page, rename and delete one user's threads.

Every query filters by app id AND end-user id, so another user's conversation is simply
not found. Deletion is a hard delete; messages, variables and feedbacks go with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import InvalidRequest, NotFound
from chatflow.store._types import new_id, utcnow
from chatflow.store.models import Conversation
from chatflow.store.paging import CursorPage

SortBy = Literal["-updated_at", "updated_at", "-created_at", "created_at"]
SORT_KEYS: tuple[str, ...] = get_args(SortBy)


def new_conversation_row(
    *,
    conversation_id: str,
    app_id: str,
    end_user_id: str,
    name: str,
    inputs: dict[str, Any],
    introduction: str,
    dialogue_count: int,
    now: datetime,
) -> dict[str, Any]:
    """Every column of a new conversation (the one place its defaults are written)."""
    return {
        "id": conversation_id,
        "app_id": app_id,
        "end_user_id": end_user_id,
        "name": name,
        "inputs": inputs,
        "status": "normal",
        "introduction": introduction,
        "dialogue_count": dialogue_count,
        "created_at": now,
        "updated_at": now,
    }


async def create_conversation(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str,
    name: str = "",
    inputs: dict[str, Any] | None = None,
    introduction: str = "",
    conversation_id: str | None = None,
) -> Conversation:
    """Start a conversation for an end user (no message yet: `dialogue_count` 0)."""
    conversation = Conversation(
        **new_conversation_row(
            conversation_id=conversation_id or new_id(),
            app_id=app_id,
            end_user_id=end_user_id,
            name=name,
            inputs=dict(inputs or {}),
            introduction=introduction,
            dialogue_count=0,
            now=utcnow(),
        )
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def get_conversation(
    session: AsyncSession, *, app_id: str, end_user_id: str, conversation_id: str
) -> Conversation | None:
    """The user's conversation with this id, or None (also for another user's id)."""
    return await session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.app_id == app_id,
            Conversation.end_user_id == end_user_id,
        )
    )


async def list_conversations(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str,
    last_id: str | None = None,
    limit: int = 20,
    sort_by: str = "-updated_at",
) -> CursorPage[Conversation]:
    """`GET /conversations`: `limit` conversations after `last_id` in `sort_by` order.

    Keyset paging on (sort column, id), so rows with equal timestamps are neither
    skipped nor repeated. An unknown `last_id` is Dify's 404 "Last Conversation Not Exists.".
    """
    if sort_by not in SORT_KEYS:
        raise InvalidRequest(f"sort_by must be one of {', '.join(SORT_KEYS)}")
    descending = sort_by.startswith("-")
    column = Conversation.updated_at if sort_by.endswith("updated_at") else Conversation.created_at
    query = select(Conversation).where(
        Conversation.app_id == app_id, Conversation.end_user_id == end_user_id
    )
    if last_id:
        last = await get_conversation(
            session, app_id=app_id, end_user_id=end_user_id, conversation_id=last_id
        )
        if last is None:
            raise NotFound("Last Conversation Not Exists.")
        value = last.updated_at if column is Conversation.updated_at else last.created_at
        after: ColumnElement[bool]
        if descending:
            after = or_(column < value, and_(column == value, Conversation.id < last.id))
        else:
            after = or_(column > value, and_(column == value, Conversation.id > last.id))
        query = query.where(after)
    order = (column.desc(), Conversation.id.desc()) if descending else (column, Conversation.id)
    rows = list(await session.scalars(query.order_by(*order).limit(limit + 1)))
    return CursorPage(items=rows[:limit], limit=limit, has_more=len(rows) > limit)


async def rename_conversation(
    session: AsyncSession, *, app_id: str, end_user_id: str, conversation_id: str, name: str
) -> Conversation | None:
    """Set a conversation's name (and bump `updated_at`, as Dify does); None if not found."""
    conversation = await get_conversation(
        session, app_id=app_id, end_user_id=end_user_id, conversation_id=conversation_id
    )
    if conversation is None:
        return None
    conversation.name = name
    conversation.updated_at = utcnow()
    await session.flush()
    return conversation


async def delete_conversation(
    session: AsyncSession, *, app_id: str, end_user_id: str, conversation_id: str
) -> bool:
    """Delete the user's conversation with its messages, variables and feedbacks.

    Returns False when the user has no such conversation. Children go by ON DELETE
    CASCADE (SQLite's foreign_keys pragma is on in every connection, see `db.py`).
    """
    result = await session.execute(
        delete(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.app_id == app_id,
            Conversation.end_user_id == end_user_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def touch_conversation(session: AsyncSession, conversation_id: str) -> None:
    """Bump `updated_at` (so the thread sorts first in `-updated_at` order)."""
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow())
    )
