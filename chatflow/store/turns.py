"""`TurnStore`: the one write path of a run's lifecycle (`lifecycle.RunStore`).

A chat turn's start, a workflow run's start, every end (finished, failed, stopped, a
resumed segment's end, a run whose worker died) and every pause go through here, on the
same statements: the start is one transaction of plain INSERTs, an end one transaction
of UPDATEs and one `executemany` of node executions, a pause the end's statements plus
its resume state and forms. They are built once at import and run below SQLAlchemy's execution layer
(`direct.py`, `Database.write`). A start held back until the end goes in the end's
transaction, its message and run inserted complete. Row contents come from the entity
modules (`messages.new_message_row`, `runs.new_run_row`,
`conversations.new_conversation_row`), which the ORM fixtures use too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.sql import ClauseElement

from chatflow.store import conversation_variables as variables_repo
from chatflow.store import human_input as pauses_repo
from chatflow.store._dialect import insert_for_dialect
from chatflow.store._types import utcnow
from chatflow.store.conversation_variables import VariableValue
from chatflow.store.conversations import new_conversation_row
from chatflow.store.db import Database
from chatflow.store.direct import Statement, Write, WriteMany
from chatflow.store.lifecycle import MessageEnd, Resumed, RunEnd, RunPause, RunStart
from chatflow.store.messages import new_message_row
from chatflow.store.models import (
    AnnotationSetting,
    Conversation,
    ConversationVariable,
    EndUser,
    Message,
    NodeExecution,
    WorkflowRun,
)
from chatflow.store.runs import INTERRUPTED, NodeExecutionRecord, new_run_row

_conversations = cast(Table, Conversation.__table__)
_messages = cast(Table, Message.__table__)
_runs = cast(Table, WorkflowRun.__table__)
_end_users = cast(Table, EndUser.__table__)
_variables = cast(Table, ConversationVariable.__table__)
_settings = cast(Table, AnnotationSetting.__table__)


def _columns(table: Table) -> tuple[str, ...]:
    # The row builders fill every column, so the INSERTs name them all.
    return tuple(column.name for column in table.columns)


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

_INSERT_CONVERSATION = Statement(insert(_conversations), _columns(_conversations))
_INSERT_MESSAGE = Statement(insert(_messages), _columns(_messages))
_INSERT_RUN = Statement(insert(_runs), _columns(_runs))
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

# What an end sets on the message and the run: `_message_end` and `_run_end` fill them.
_MESSAGE_END = (
    "answer",
    "status",
    "error",
    "message_tokens",
    "answer_tokens",
    "usage",
    "latency",
    "message_metadata",
    "updated_at",
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
    .values({name: bindparam(name, type_=_messages.c[name].type) for name in _MESSAGE_END})
)
_FINISH_RUN = Statement(
    update(_runs)
    .where(_runs.c.id == bindparam("run_id"))
    .values({name: bindparam(name, type_=_runs.c[name].type) for name in _RUN_END})
)
# A pause keeps the run's other fields as they were until its end.
_PAUSE_RUN = Statement(
    update(_runs)
    .where(_runs.c.id == bindparam("run_id"))
    .values(status=bindparam("status", type_=_runs.c.status.type))
)
# What every fail path sets on a message and on its run (`error` and `now` bound).
_MESSAGE_FAILED = {
    "status": "error",
    "error": bindparam("error", type_=_messages.c.error.type),
    "updated_at": bindparam("now", type_=_messages.c.updated_at.type),
}
_RUN_FAILED = {
    "status": "failed",
    "error": bindparam("error", type_=_runs.c.error.type),
    "finished_at": bindparam("now", type_=_runs.c.finished_at.type),
}
# A run whose worker died, failed as a stop would fail it (its streamed answer kept), unless
# it is no longer running (ended meanwhile); its other fields stay as they were.
_INTERRUPT_MESSAGE = Statement(
    update(_messages)
    .where(_messages.c.workflow_run_id == bindparam("run_id"), _messages.c.status == "running")
    .values(**_MESSAGE_FAILED, answer=bindparam("answer", type_=_messages.c.answer.type))
)
# The sweeper's fail of a run nobody announced: its message keeps the answer it has.
_FAIL_MESSAGE = Statement(
    update(_messages)
    .where(_messages.c.workflow_run_id == bindparam("run_id"), _messages.c.status == "running")
    .values(**_MESSAGE_FAILED)
)
# The one-process start-up sweep: every run still `running` from before a cutoff.
_STALE_RUN = (
    _runs.c.status == "running",
    _runs.c.created_at < bindparam("cutoff", type_=_runs.c.created_at.type),
)
_FAIL_STALE_MESSAGES = Statement(
    update(_messages)
    .where(
        _messages.c.workflow_run_id.in_(select(_runs.c.id).where(*_STALE_RUN)),
        _messages.c.status == "running",
    )
    .values(**_MESSAGE_FAILED)
)
_FAIL_STALE_RUNS = Statement(update(_runs).where(*_STALE_RUN).values(**_RUN_FAILED))
_INTERRUPT_RUN = Statement(
    update(_runs)
    .where(_runs.c.id == bindparam("run_id"), _runs.c.status == "running")
    .values(**_RUN_FAILED)
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


def start_turn_rows(
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
) -> RunStart:
    """A chat turn's start: its `running` message and run, and its conversation (new or
    bumped); `variables` are a new conversation's initial conversation variables.

    `new_conversation` holds a new conversation's `name`, `inputs` and `introduction`;
    it is inserted with `dialogue_count` 1. An existing one gets `dialogue_count + 1`
    and a fresh `updated_at`, as Dify does when a message is sent.
    """
    now = utcnow()
    writes: list[Write | WriteMany] = []
    if new_conversation is not None:
        conversation = new_conversation_row(
            conversation_id=conversation_id,
            app_id=app_id,
            end_user_id=end_user_id,
            name=new_conversation["name"],
            inputs=dict(new_conversation["inputs"]),
            introduction=new_conversation["introduction"],
            dialogue_count=1,
            now=now,
        )
        writes.append(Write(_INSERT_CONVERSATION, conversation))
    else:
        writes.append(Write(_BUMP_CONVERSATION, {"conversation_id": conversation_id, "now": now}))
    message = new_message_row(
        message_id=message_id,
        app_id=app_id,
        conversation_id=conversation_id,
        end_user_id=end_user_id,
        query=query,
        inputs=inputs,
        files=files,
        workflow_run_id=run_id,
        now=now,
    )
    run = new_run_row(
        run_id=run_id,
        app_id=app_id,
        workflow_id=workflow_id,
        inputs=inputs,
        now=now,
        conversation_id=conversation_id,
        message_id=message_id,
        created_by_end_user_id=end_user_id,
    )
    writes += [Write(_INSERT_MESSAGE, message), Write(_INSERT_RUN, run)]
    if variables:
        writes.append(_variables_write(conversation_id, variables, now))
    return RunStart(
        writes=writes,
        run_id=run_id,
        created_at=now,
        conversation_id=conversation_id,
        message_id=message_id,
    )


def start_run_rows(
    *, app_id: str, workflow_id: str, run_id: str, inputs: dict[str, Any], end_user_id: str
) -> RunStart:
    """A workflow run's start: its `running` record (no message, no conversation)."""
    now = utcnow()
    run = new_run_row(
        run_id=run_id,
        app_id=app_id,
        workflow_id=workflow_id,
        inputs=inputs,
        now=now,
        created_by_end_user_id=end_user_id,
    )
    return RunStart(writes=[Write(_INSERT_RUN, run)], run_id=run_id, created_at=now)


def _message_end(message: MessageEnd, now: datetime) -> dict[str, Any]:
    """The message columns an end (or pause) sets."""
    return {
        "answer": message.answer,
        "status": message.status,
        "error": message.error,
        "message_tokens": message.message_tokens,
        "answer_tokens": message.answer_tokens,
        "usage": message.usage,
        "latency": message.latency,
        "message_metadata": message.metadata,
        "updated_at": now,
    }


def _run_end(end: RunEnd) -> dict[str, Any]:
    """The run columns an end sets."""
    return {
        "status": end.status,
        "outputs": end.outputs,
        "error": end.error,
        "elapsed_time": end.elapsed_time,
        "total_tokens": end.total_tokens,
        "total_steps": end.total_steps,
        "exceptions_count": end.exceptions_count,
        "finished_at": end.finished_at,
    }


def _node_rows(run_id: str, nodes: Sequence[NodeExecutionRecord]) -> list[dict[str, Any]]:
    # Shallow rows: `dataclasses.asdict` would deep-copy every node's inputs/outputs.
    return [
        {**{name: getattr(node, name) for name in _NODE_FIELDS}, "workflow_run_id": run_id}
        for node in nodes
    ]


def _end_writes(end: RunEnd, now: datetime, *, run: Write | None) -> list[Write | WriteMany]:
    """The statements every end and pause share: the message's end, the run's (`run`;
    None when a held start inserts both complete), node executions, changed variables."""
    writes: list[Write | WriteMany] = []
    if end.message is not None and run is not None:
        params = {**_message_end(end.message, now), "message_id": end.message.message_id}
        writes.append(Write(_FINISH_MESSAGE, params))
    if run is not None:
        writes.append(run)
    if end.nodes:
        writes.append(WriteMany(_INSERT_NODES, _node_rows(end.run_id, end.nodes)))
    if end.variables:
        writes.append(_variables_write(end.conversation_id, end.variables, now))
    return writes


def _with_end(start: RunStart, end: RunEnd, now: datetime) -> list[Write | WriteMany]:
    """Held start writes with the end folded into their message and run INSERTs (one
    INSERT each instead of an INSERT and an UPDATE)."""
    writes: list[Write | WriteMany] = []
    for write in start.writes:
        if isinstance(write, Write) and write.statement is _INSERT_MESSAGE:
            assert end.message is not None
            write = Write(_INSERT_MESSAGE, {**write.params, **_message_end(end.message, now)})
        elif isinstance(write, Write) and write.statement is _INSERT_RUN:
            write = Write(_INSERT_RUN, {**write.params, **_run_end(end)})
        writes.append(write)
    return writes


class TurnStore:
    """`RunStore` over a `Database`: a run's lifecycle on the direct path."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(self, start: RunStart) -> None:
        await self._db.write(start.writes)

    async def finish(self, end: RunEnd, *, held: RunStart | None = None) -> None:
        now = utcnow()
        if held is None:
            run = Write(_FINISH_RUN, {**_run_end(end), "run_id": end.run_id})
            writes = _end_writes(end, now, run=run)
        else:
            writes = [*_with_end(held, end, now), *_end_writes(end, now, run=None)]
        if end.resumed:
            writes.append(pauses_repo.finish_pause_write(end.run_id, now))
        await self._db.write(writes)

    async def pause(self, end: RunEnd, pause: RunPause) -> None:
        now = utcnow()
        run = Write(_PAUSE_RUN, {"run_id": end.run_id, "status": "paused"})
        writes = _end_writes(end, now, run=run)
        writes += pauses_repo.pause_writes(end.run_id, pause, now)
        await self._db.write(writes)

    async def fail_interrupted(self, run_id: str, answer: str) -> bool:
        params = {"run_id": run_id, "answer": answer, "error": INTERRUPTED, "now": utcnow()}
        writes = [Write(_INTERRUPT_MESSAGE, params), Write(_INTERRUPT_RUN, params)]
        return await self._db.write_counted(writes) > 0

    async def fail_runs(self, run_ids: Sequence[str]) -> int:
        # A run at a time: its guarded UPDATE's count says whether this call ended it
        # (another worker's sweep may have); a sweep confirms only a few dead runs.
        failed = 0
        for run_id in run_ids:
            params = {"run_id": run_id, "error": INTERRUPTED, "now": utcnow()}
            writes = [Write(_FAIL_MESSAGE, params), Write(_INTERRUPT_RUN, params)]
            failed += int(await self._db.write_counted(writes) > 0)
        return failed

    async def fail_stale(self, started_before: datetime) -> int:
        params = {"cutoff": started_before, "error": INTERRUPTED, "now": utcnow()}
        writes = [Write(_FAIL_STALE_MESSAGES, params), Write(_FAIL_STALE_RUNS, params)]
        return await self._db.write_counted(writes)

    async def claim(self, run_id: str, task_id: str) -> Resumed | None:
        # A guarded UPDATE whose row count decides: through a session, which reports it.
        async with self._db.session() as session:
            if not await pauses_repo.claim_pause(session, run_id, task_id):
                return None
            found = await pauses_repo.get_pause(session, run_id)
            assert found is not None
            return Resumed(state=dict(found.state), turn=dict(found.turn))


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
