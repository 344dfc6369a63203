"""A chat turn's writes on the hot path: its rows at the start, their completion at the end.

Every chat message writes the same few rows, so these statements are built once at
import with bind parameters (SQLAlchemy then compiles each once per dialect and caches
it) and run as Core statements: building a fresh `update().where()` and going through
the ORM unit of work cost more than the SQLite statements themselves. Results match
`messages.create_message` / `finish_message`, `conversations.create_conversation` and
`runs.create_run` / `finish_run`, which the rest of the code keeps using.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import utcnow
from chatflow.store.models import (
    Conversation,
    EndUser,
    Message,
    NodeExecution,
    WorkflowRun,
)
from chatflow.store.runs import NodeExecutionRecord

_conversations = cast(Table, Conversation.__table__)
_messages = cast(Table, Message.__table__)
_runs = cast(Table, WorkflowRun.__table__)
_end_users = cast(Table, EndUser.__table__)

_INSERT_CONVERSATION = insert(_conversations)
_INSERT_MESSAGE = insert(_messages)
_INSERT_RUN = insert(_runs)
_INSERT_NODES = insert(cast(Table, NodeExecution.__table__))
_BUMP_CONVERSATION = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(updated_at=bindparam("now"), dialogue_count=_conversations.c.dialogue_count + 1)
)
_FINISH_MESSAGE = (
    update(_messages)
    .where(_messages.c.id == bindparam("message_id"))
    .values(
        answer=bindparam("answer"),
        status=bindparam("status"),
        error=bindparam("error"),
        message_tokens=bindparam("message_tokens"),
        answer_tokens=bindparam("answer_tokens"),
        usage=bindparam("usage", type_=_messages.c.usage.type),
        latency=bindparam("latency"),
        message_metadata=bindparam("metadata", type_=_messages.c.message_metadata.type),
        updated_at=bindparam("now", type_=_messages.c.updated_at.type),
    )
)
_FINISH_RUN = (
    update(_runs)
    .where(_runs.c.id == bindparam("run_id"))
    .values(
        status=bindparam("status"),
        outputs=bindparam("outputs", type_=_runs.c.outputs.type),
        error=bindparam("error"),
        elapsed_time=bindparam("elapsed_time"),
        total_tokens=bindparam("total_tokens"),
        total_steps=bindparam("total_steps"),
        exceptions_count=bindparam("exceptions_count"),
        finished_at=bindparam("finished_at", type_=_runs.c.finished_at.type),
    )
)
_FIND_END_USER = select(_end_users.c.id, _end_users.c.session_id).where(
    _end_users.c.app_id == bindparam("app_id"),
    _end_users.c.session_id == bindparam("session_id"),
)
_RENAME_CONVERSATION = (
    update(_conversations)
    .where(
        _conversations.c.id == bindparam("conversation_id"),
        # Not `app_id`: a column's own name is reserved for its SET value.
        _conversations.c.app_id == bindparam("owner_app_id"),
        _conversations.c.end_user_id == bindparam("owner_end_user_id"),
    )
    .values(name=bindparam("name"), updated_at=bindparam("now"))
)
_NODE_FIELDS = tuple(f.name for f in fields(NodeExecutionRecord))


@dataclass(frozen=True, slots=True)
class TurnRows:
    """What `insert_turn` wrote: the ids and the timestamp the wire frames carry."""

    conversation_id: str
    message_id: str
    created_at: datetime


async def find_end_user_id(
    session: AsyncSession, app_id: str, session_id: str
) -> tuple[str, str] | None:
    """`(id, session_id)` of an existing end user, without loading the ORM row."""
    row = (
        await session.execute(_FIND_END_USER, {"app_id": app_id, "session_id": session_id})
    ).first()
    return (str(row[0]), str(row[1])) if row is not None else None


async def insert_turn(
    session: AsyncSession,
    *,
    app_id: str,
    end_user_id: str,
    conversation_id: str,
    new_conversation: Mapping[str, Any] | None,
    message_id: str,
    query: str,
    inputs: dict[str, Any],
    files: Sequence[Any],
    run_id: str,
    workflow_id: str,
) -> TurnRows:
    """The turn's `running` message and run, and its conversation (new or bumped).

    `new_conversation` holds a new conversation's `name`, `inputs` and `introduction`;
    it is inserted with `dialogue_count` 1. An existing one gets `dialogue_count + 1`
    and a fresh `updated_at`, as Dify does when a message is sent.
    """
    now = utcnow()
    if new_conversation is not None:
        await session.execute(
            _INSERT_CONVERSATION,
            {
                "id": conversation_id,
                "app_id": app_id,
                "end_user_id": end_user_id,
                "name": new_conversation["name"],
                "inputs": dict(new_conversation["inputs"]),
                "status": "normal",
                "introduction": new_conversation["introduction"],
                "dialogue_count": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
    else:
        await session.execute(_BUMP_CONVERSATION, {"conversation_id": conversation_id, "now": now})
    await session.execute(
        _INSERT_MESSAGE,
        {
            "id": message_id,
            "app_id": app_id,
            "conversation_id": conversation_id,
            "end_user_id": end_user_id,
            "parent_message_id": None,
            "query": query,
            "inputs": inputs,
            "answer": "",
            "status": "running",
            "error": None,
            "files": list(files),
            "message_metadata": {},
            "workflow_run_id": run_id,
            "message_tokens": 0,
            "answer_tokens": 0,
            "usage": None,
            "latency": 0.0,
            "created_at": now,
            "updated_at": now,
        },
    )
    await session.execute(
        _INSERT_RUN,
        {
            "id": run_id,
            "app_id": app_id,
            "workflow_id": workflow_id,
            "version": "",
            "conversation_id": conversation_id,
            "message_id": message_id,
            "triggered_from": "app",
            "status": "running",
            "inputs": inputs,
            "outputs": None,
            "error": None,
            "created_by_end_user_id": end_user_id,
            "elapsed_time": 0.0,
            "total_tokens": 0,
            "total_steps": 0,
            "exceptions_count": 0,
            "created_at": now,
            "finished_at": None,
        },
    )
    return TurnRows(conversation_id=conversation_id, message_id=message_id, created_at=now)


async def finish_turn(
    session: AsyncSession,
    *,
    message: Mapping[str, Any],
    run: Mapping[str, Any],
    run_id: str,
    nodes: Sequence[NodeExecutionRecord],
) -> None:
    """Complete the message and the run, and write the run's node executions.

    `message` holds `message_id`, `answer`, `status`, `error`, `message_tokens`,
    `answer_tokens`, `usage`, `latency` and `metadata`; `run` holds `status`, `outputs`,
    `error`, `elapsed_time`, `total_tokens`, `total_steps`, `exceptions_count` and
    `finished_at`.
    """
    await session.execute(_FINISH_MESSAGE, {**message, "now": utcnow()})
    await session.execute(_FINISH_RUN, {**run, "run_id": run_id})
    if nodes:
        # Shallow rows: `dataclasses.asdict` would deep-copy every node's inputs/outputs.
        rows = [
            {**{name: getattr(node, name) for name in _NODE_FIELDS}, "workflow_run_id": run_id}
            for node in nodes
        ]
        await session.execute(_INSERT_NODES, rows)


async def name_conversation(
    session: AsyncSession, *, app_id: str, end_user_id: str, conversation_id: str, name: str
) -> None:
    """Set a new conversation's generated name (and `updated_at`) in one UPDATE; a
    conversation deleted meanwhile is simply not found."""
    await session.execute(
        _RENAME_CONVERSATION,
        {
            "conversation_id": conversation_id,
            "owner_app_id": app_id,
            "owner_end_user_id": end_user_id,
            "name": name,
            "now": utcnow(),
        },
    )
