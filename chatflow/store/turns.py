"""A chat turn's writes on the hot path: its rows at the start, their completion at the end.

Every chat message writes the same few rows, so these statements are built once at
import and run below SQLAlchemy's execution layer (`direct.py`): the start of a turn is
one transaction of plain INSERTs (`start_writes`), its end one transaction of UPDATEs and
one `executemany` (`finish_turn`); a start held back until the end goes in the end's
transaction, its message and run inserted complete. Results match
`messages.create_message` / `finish_message`, `conversations.create_conversation` and
`runs.create_run` / `finish_run`, which the rest of the code keeps using.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.sql import ClauseElement

from chatflow.store import conversation_variables as variables_repo
from chatflow.store._dialect import insert_for_dialect
from chatflow.store._types import utcnow
from chatflow.store.conversation_variables import VariableValue
from chatflow.store.db import Database
from chatflow.store.direct import Statement, Write, WriteMany
from chatflow.store.models import (
    AnnotationSetting,
    Conversation,
    ConversationVariable,
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
_variables = cast(Table, ConversationVariable.__table__)
_settings = cast(Table, AnnotationSetting.__table__)

_CONVERSATION_COLUMNS = (
    "id",
    "app_id",
    "end_user_id",
    "name",
    "inputs",
    "status",
    "introduction",
    "dialogue_count",
    "created_at",
    "updated_at",
)
_MESSAGE_COLUMNS = (
    "id",
    "app_id",
    "conversation_id",
    "end_user_id",
    "parent_message_id",
    "query",
    "inputs",
    "answer",
    "status",
    "error",
    "files",
    "message_metadata",
    "workflow_run_id",
    "message_tokens",
    "answer_tokens",
    "usage",
    "latency",
    "created_at",
    "updated_at",
)
_RUN_COLUMNS = (
    "id",
    "app_id",
    "workflow_id",
    "version",
    "conversation_id",
    "message_id",
    "triggered_from",
    "status",
    "inputs",
    "outputs",
    "error",
    "created_by_end_user_id",
    "elapsed_time",
    "total_tokens",
    "total_steps",
    "exceptions_count",
    "created_at",
    "finished_at",
)
_NODE_FIELDS = tuple(f.name for f in fields(NodeExecutionRecord))
_VARIABLE_COLUMNS = (
    "id",
    "conversation_id",
    "variable_id",
    "name",
    "value_type",
    "value",
    "description",
    "created_at",
    "updated_at",
)

_INSERT_CONVERSATION = Statement(insert(_conversations), _CONVERSATION_COLUMNS)
_INSERT_MESSAGE = Statement(insert(_messages), _MESSAGE_COLUMNS)
_INSERT_RUN = Statement(insert(_runs), _RUN_COLUMNS)
_INSERT_NODES = Statement(
    insert(cast(Table, NodeExecution.__table__)), (*_NODE_FIELDS, "workflow_run_id")
)
_BUMP_CONVERSATION = Statement(
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
        dialogue_count=_conversations.c.dialogue_count + 1,
    )
)

# What `finish_turn` sets on the message (besides its metadata and `updated_at`) and run.
_MESSAGE_END = (
    "answer",
    "status",
    "error",
    "message_tokens",
    "answer_tokens",
    "usage",
    "latency",
)
_RUN_END = (
    "status",
    "outputs",
    "error",
    "elapsed_time",
    "total_tokens",
    "total_steps",
    "exceptions_count",
    "finished_at",
)
_FINISH_MESSAGE = Statement(
    update(_messages)
    .where(_messages.c.id == bindparam("message_id"))
    .values(
        {
            **{name: bindparam(name, type_=_messages.c[name].type) for name in _MESSAGE_END},
            "message_metadata": bindparam("metadata", type_=_messages.c.message_metadata.type),
            "updated_at": bindparam("now", type_=_messages.c.updated_at.type),
        }
    )
)
_FINISH_RUN = Statement(
    update(_runs)
    .where(_runs.c.id == bindparam("run_id"))
    .values({name: bindparam(name, type_=_runs.c[name].type) for name in _RUN_END})
)
_FIND_END_USER = Statement(
    select(_end_users.c.id, _end_users.c.session_id).where(
        _end_users.c.app_id == bindparam("app_id"),
        _end_users.c.session_id == bindparam("session_id"),
    )
)
_RENAME_CONVERSATION = Statement(
    update(_conversations)
    .where(
        _conversations.c.id == bindparam("conversation_id"),
        # Not `app_id`: a column's own name is reserved for its SET value.
        _conversations.c.app_id == bindparam("owner_app_id"),
        _conversations.c.end_user_id == bindparam("owner_end_user_id"),
        # Only a placeholder gives way: a name the user set meanwhile stays.
        _conversations.c.name == bindparam("placeholder"),
    )
    .values(
        name=bindparam("name", type_=_conversations.c.name.type),
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
    )
)
_ANNOTATION_REPLY = Statement(
    select(_settings.c.enabled, _settings.c.score_threshold).where(
        _settings.c.app_id == bindparam("app_id")
    )
)


def _upsert_variables(dialect: str) -> ClauseElement:
    return variables_repo.overwrite_on_conflict(insert_for_dialect(dialect, _variables))


_UPSERT_VARIABLES = Statement(_upsert_variables, _VARIABLE_COLUMNS)


@dataclass(frozen=True, slots=True)
class TurnRows:
    """What `start_writes` writes: the ids and the timestamp the wire frames carry."""

    conversation_id: str
    message_id: str
    created_at: datetime


async def find_end_user_id(db: Database, app_id: str, session_id: str) -> tuple[str, str] | None:
    """`(id, session_id)` of an existing end user, without loading the ORM row."""
    row = await db.read_one(_FIND_END_USER, {"app_id": app_id, "session_id": session_id})
    return (str(row[0]), str(row[1])) if row is not None else None


async def annotation_reply_threshold(db: Database, app_id: str) -> float | None:
    """The app's annotation-reply score threshold, or None when reply is off (checked on
    every message, so one cheap read instead of an ORM load)."""
    row = await db.read_one(_ANNOTATION_REPLY, {"app_id": app_id})
    return float(row[1]) if row is not None and row[0] else None


def _variables_write(
    conversation_id: str, variables: Sequence[VariableValue], now: datetime
) -> WriteMany:
    rows = variables_repo.variable_rows(conversation_id, variables, now)
    return WriteMany(_UPSERT_VARIABLES, rows)


def start_writes(
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
    variables: Sequence[VariableValue] = (),
) -> tuple[list[Write | WriteMany], TurnRows]:
    """The writes of a turn's start: its `running` message and run, and its conversation
    (new or bumped); `variables` are a new conversation's initial conversation variables.

    `new_conversation` holds a new conversation's `name`, `inputs` and `introduction`;
    it is inserted with `dialogue_count` 1. An existing one gets `dialogue_count + 1`
    and a fresh `updated_at`, as Dify does when a message is sent.
    """
    now = utcnow()
    writes: list[Write | WriteMany] = []
    if new_conversation is not None:
        conversation = {
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
        }
        writes.append(Write(_INSERT_CONVERSATION, conversation))
    else:
        writes.append(Write(_BUMP_CONVERSATION, {"conversation_id": conversation_id, "now": now}))
    message = {
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
    }
    run = {
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
    }
    writes += [Write(_INSERT_MESSAGE, message), Write(_INSERT_RUN, run)]
    if variables:
        writes.append(_variables_write(conversation_id, variables, now))
    return writes, TurnRows(conversation_id=conversation_id, message_id=message_id, created_at=now)


async def finish_turn(
    db: Database,
    *,
    message: Mapping[str, Any],
    run: Mapping[str, Any],
    run_id: str,
    nodes: Sequence[NodeExecutionRecord],
    conversation_id: str = "",
    variables: Sequence[VariableValue] = (),
    start: Sequence[Write | WriteMany] = (),
) -> None:
    """Complete the message and the run, write the run's node executions and the
    conversation variables it changed, in one transaction; `start` are the turn's
    `start_writes` when they were held back until now (one transaction, one commit, and
    the message and run inserted complete rather than inserted and then updated).

    `message` holds `message_id`, `answer`, `status`, `error`, `message_tokens`,
    `answer_tokens`, `usage`, `latency` and `metadata`; `run` holds `status`, `outputs`,
    `error`, `elapsed_time`, `total_tokens`, `total_steps`, `exceptions_count` and
    `finished_at`.
    """
    now = utcnow()
    writes, merged = _with_end(start, message, run, now)
    if _INSERT_MESSAGE not in merged:
        writes.append(Write(_FINISH_MESSAGE, {**message, "now": now}))
    if _INSERT_RUN not in merged:
        writes.append(Write(_FINISH_RUN, {**run, "run_id": run_id}))
    if nodes:
        # Shallow rows: `dataclasses.asdict` would deep-copy every node's inputs/outputs.
        rows = [
            {**{name: getattr(node, name) for name in _NODE_FIELDS}, "workflow_run_id": run_id}
            for node in nodes
        ]
        writes.append(WriteMany(_INSERT_NODES, rows))
    if variables:
        writes.append(_variables_write(conversation_id, variables, now))
    await db.write(writes)


def _with_end(
    start: Sequence[Write | WriteMany],
    message: Mapping[str, Any],
    run: Mapping[str, Any],
    now: datetime,
) -> tuple[list[Write | WriteMany], set[Statement]]:
    """Held start writes with the turn's end folded into their message and run INSERTs
    (one INSERT each instead of an INSERT and an UPDATE); also which were folded."""
    writes: list[Write | WriteMany] = []
    merged: set[Statement] = set()
    for write in start:
        if isinstance(write, Write) and write.statement is _INSERT_MESSAGE:
            end = {key: message[key] for key in _MESSAGE_END}
            end.update(message_metadata=message["metadata"], updated_at=now)
            write = Write(_INSERT_MESSAGE, {**write.params, **end})
            merged.add(_INSERT_MESSAGE)
        elif isinstance(write, Write) and write.statement is _INSERT_RUN:
            write = Write(_INSERT_RUN, {**write.params, **{key: run[key] for key in _RUN_END}})
            merged.add(_INSERT_RUN)
        writes.append(write)
    return writes, merged


async def name_conversation(
    db: Database,
    *,
    app_id: str,
    end_user_id: str,
    conversation_id: str,
    name: str,
    placeholder: str = "New conversation",
) -> None:
    """Set a new conversation's generated name (and `updated_at`) in one UPDATE, unless
    it no longer has the `placeholder` name (renamed meanwhile); a conversation deleted
    meanwhile is simply not found."""
    params = {
        "placeholder": placeholder,
        "conversation_id": conversation_id,
        "owner_app_id": app_id,
        "owner_end_user_id": end_user_id,
        "name": name,
        "now": utcnow(),
    }
    await db.write([Write(_RENAME_CONVERSATION, params)])
