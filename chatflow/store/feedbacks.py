"""Message-feedback repository: an end user's like/dislike on a message, and the app list."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import InvalidRequest
from chatflow.store._types import utcnow
from chatflow.store.models import Message, MessageFeedback
from chatflow.store.paging import clamp_page


async def set_feedback(
    session: AsyncSession,
    message: Message,
    *,
    rating: str | None,
    content: str | None = None,
    from_source: str = "user",
) -> MessageFeedback | None:
    """Create, change or revoke (rating None) the feedback on a message.

    Matches Dify: revoking when there is no feedback is an error; returns None on revoke.
    The caller has already checked that the message belongs to the user.
    """
    if rating is not None and rating not in ("like", "dislike"):
        raise InvalidRequest("rating must be like, dislike or null")
    feedback = await session.scalar(
        select(MessageFeedback).where(
            MessageFeedback.message_id == message.id, MessageFeedback.from_source == from_source
        )
    )
    if rating is None:
        if feedback is None:
            raise InvalidRequest("rating cannot be None when feedback not exists")
        await session.delete(feedback)
        await session.flush()
        return None
    now = utcnow()
    if feedback is None:
        feedback = MessageFeedback(
            app_id=message.app_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
            end_user_id=message.end_user_id if from_source == "user" else None,
            from_source=from_source,
            rating=rating,
            content=content,
            created_at=now,
            updated_at=now,
        )
        session.add(feedback)
    else:
        feedback.rating = rating
        feedback.content = content
        feedback.updated_at = now
    await session.flush()
    return feedback


async def feedbacks_for_messages(
    session: AsyncSession, message_ids: Sequence[str], *, from_source: str = "user"
) -> dict[str, MessageFeedback]:
    """Feedback per message id, for the `feedback` field of `GET /messages` items."""
    if not message_ids:
        return {}
    rows = await session.scalars(
        select(MessageFeedback).where(
            MessageFeedback.message_id.in_(list(message_ids)),
            MessageFeedback.from_source == from_source,
        )
    )
    return {f.message_id: f for f in rows}


async def list_feedbacks(
    session: AsyncSession, *, app_id: str, page: int = 1, limit: int = 20
) -> list[MessageFeedback]:
    """`GET /app/feedbacks`: all of the app's feedbacks, newest first, one page."""
    page = clamp_page(page)
    rows = await session.scalars(
        select(MessageFeedback)
        .where(MessageFeedback.app_id == app_id)
        .order_by(MessageFeedback.created_at.desc(), MessageFeedback.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows)
