"""Message repository: a chat turn's query and answer, its paging and the LLM memory.

A message is created `running` when the turn starts and completed in one UPDATE at the
end (`turns.py`, the write path of a run's lifecycle); nothing is written per token.
`create_message` / `finish_message` do the same through the ORM for fixtures and tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.errors import NotFound
from chatflow.store._types import new_id, utcnow
from chatflow.store.models import Conversation, Message
from chatflow.store.paging import CursorPage


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """One earlier exchange for LLM memory (the engine's `Turn` takes the same fields)."""

    query: str
    answer: str
    files: tuple[Any, ...] = ()


def new_message_row(
    *,
    message_id: str,
    app_id: str,
    conversation_id: str,
    end_user_id: str,
    query: str,
    inputs: dict[str, Any],
    files: Sequence[Any],
    workflow_run_id: str | None,
    now: datetime,
    parent_message_id: str | None = None,
    status: str = "running",
) -> dict[str, Any]:
    """Every column of a message as a turn's start writes it (the one place its defaults
    are written; `turns.py` inserts it directly, `create_message` through the ORM)."""
    return {
        "id": message_id,
        "app_id": app_id,
        "conversation_id": conversation_id,
        "end_user_id": end_user_id,
        "parent_message_id": parent_message_id,
        "query": query,
        "inputs": inputs,
        "answer": "",
        "status": status,
        "error": None,
        "files": list(files),
        "message_metadata": {},
        "workflow_run_id": workflow_run_id,
        "message_tokens": 0,
        "answer_tokens": 0,
        "usage": None,
        "latency": 0.0,
        "created_at": now,
        "updated_at": now,
    }


async def create_message(
    session: AsyncSession,
    *,
    app_id: str,
    conversation_id: str,
    end_user_id: str,
    query: str,
    inputs: dict[str, Any] | None = None,
    files: Sequence[Any] = (),
    parent_message_id: str | None = None,
    workflow_run_id: str | None = None,
    status: str = "running",
    message_id: str | None = None,
) -> Message:
    """Start a turn through the ORM (fixtures, tools): insert the message and bump its
    conversation, as `turns.start_turn_rows` does.

    The conversation's `updated_at` moves to now and `dialogue_count` goes up by one, in
    one UPDATE, as Dify does when a message is sent.
    """
    now = utcnow()
    message = Message(
        **new_message_row(
            message_id=message_id or new_id(),
            app_id=app_id,
            conversation_id=conversation_id,
            end_user_id=end_user_id,
            query=query,
            inputs=dict(inputs or {}),
            files=files,
            workflow_run_id=workflow_run_id,
            now=now,
            parent_message_id=parent_message_id,
            status=status,
        )
    )
    session.add(message)
    await session.flush()
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(updated_at=now, dialogue_count=Conversation.dialogue_count + 1)
    )
    return message


async def finish_message(
    session: AsyncSession,
    message_id: str,
    *,
    answer: str,
    status: str = "normal",
    error: str | None = None,
    message_tokens: int = 0,
    answer_tokens: int = 0,
    usage: dict[str, Any] | None = None,
    latency: float = 0.0,
    metadata: dict[str, Any] | None = None,
    workflow_run_id: str | None = None,
) -> None:
    """End a turn in one UPDATE: answer, status (normal|error|stopped), usage, latency.

    `metadata` (retriever_resources, annotation_reply ...) and `workflow_run_id` are left
    as they are when None.
    """
    values: dict[str, Any] = {
        "answer": answer,
        "status": status,
        "error": error,
        "message_tokens": message_tokens,
        "answer_tokens": answer_tokens,
        "usage": usage,
        "latency": latency,
        "updated_at": utcnow(),
    }
    if metadata is not None:
        values["message_metadata"] = metadata
    if workflow_run_id is not None:
        values["workflow_run_id"] = workflow_run_id
    await session.execute(update(Message).where(Message.id == message_id).values(**values))


async def get_message(
    session: AsyncSession, *, app_id: str, end_user_id: str, message_id: str
) -> Message | None:
    """The user's message with this id, or None (also for another user's message)."""
    return await session.scalar(
        select(Message).where(
            Message.id == message_id,
            Message.app_id == app_id,
            Message.end_user_id == end_user_id,
        )
    )


async def list_messages(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str,
    conversation_id: str,
    first_id: str | None = None,
    limit: int = 20,
) -> CursorPage[Message]:
    """`GET /messages`: the `limit` messages just older than `first_id`, oldest first.

    Without `first_id` the page is the newest `limit` messages. `has_more` says whether
    older messages remain. An unknown `first_id` is Dify's 404 "First Message Not Exists.".
    """
    query = select(Message).where(
        Message.conversation_id == conversation_id,
        Message.app_id == app_id,
        Message.end_user_id == end_user_id,
    )
    if first_id:
        first = await get_message(
            session, app_id=app_id, end_user_id=end_user_id, message_id=first_id
        )
        if first is None or first.conversation_id != conversation_id:
            raise NotFound("First Message Not Exists.")
        query = query.where(
            or_(
                Message.created_at < first.created_at,
                and_(Message.created_at == first.created_at, Message.id < first.id),
            )
        )
    newest_first = list(
        await session.scalars(
            query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit + 1)
        )
    )
    items = newest_first[:limit]
    items.reverse()
    return CursorPage(items=items, limit=limit, has_more=len(newest_first) > limit)


async def history(
    session: AsyncSession,
    conversation_id: str,
    limit: int,
    *,
    before_message_id: str | None = None,
) -> list[HistoryTurn]:
    """The last `limit` finished turns of a conversation, oldest first, for LLM memory.

    Messages still running (the current turn, or a concurrent one) are left out; with
    `before_message_id`, only turns older than that message count.
    """
    if limit <= 0:
        return []
    query = select(Message.query, Message.answer, Message.files).where(
        Message.conversation_id == conversation_id, Message.status != "running"
    )
    if before_message_id:
        anchor = await session.scalar(
            select(Message.created_at).where(Message.id == before_message_id)
        )
        if anchor is not None:
            query = query.where(Message.created_at < anchor)
    rows = (
        await session.execute(
            query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
        )
    ).all()
    return [HistoryTurn(query=q, answer=a, files=tuple(f or ())) for q, a, f in reversed(rows)]
