"""Workflow-run repository: run records, their node executions and the run logs.

A run is inserted `running` when it starts and finished by one UPDATE; its node
executions are written in one bulk INSERT at the end, never per event. Services do all
three through `turns.TurnStore` (the write path of a run's lifecycle); the ORM functions
here do the same for fixtures and tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import new_id, utcnow
from chatflow.store.models import EndUser, NodeExecution, WorkflowRun
from chatflow.store.paging import NumberedPage, clamp_page


@dataclass(frozen=True, slots=True)
class NodeExecutionRecord:
    """One finished node run, collected in memory during the run."""

    node_id: str
    node_type: str
    status: str
    index: int
    title: str = ""
    predecessor_node_id: str | None = None
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    elapsed_time: float = 0.0
    execution_metadata: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class RunLog:
    """A `/workflows/logs` row: the run and the end user who started it."""

    run: WorkflowRun
    end_user: EndUser | None


def new_run_row(
    *,
    run_id: str,
    app_id: str,
    workflow_id: str,
    inputs: dict[str, Any],
    now: datetime,
    conversation_id: str | None = None,
    message_id: str | None = None,
    created_by_end_user_id: str | None = None,
    triggered_from: str = "app",
    version: str = "",
) -> dict[str, Any]:
    """Every column of a `running` run (the one place its defaults are written)."""
    return {
        "id": run_id,
        "app_id": app_id,
        "workflow_id": workflow_id,
        "version": version,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "triggered_from": triggered_from,
        "status": "running",
        "inputs": inputs,
        "outputs": None,
        "error": None,
        "created_by_end_user_id": created_by_end_user_id,
        "elapsed_time": 0.0,
        "total_tokens": 0,
        "total_steps": 0,
        "exceptions_count": 0,
        "created_at": now,
        "finished_at": None,
    }


async def create_run(
    session: AsyncSession,
    *,
    app_id: str,
    workflow_id: str,
    inputs: dict[str, Any],
    conversation_id: str | None = None,
    message_id: str | None = None,
    created_by_end_user_id: str | None = None,
    triggered_from: str = "app",
    version: str = "",
    run_id: str | None = None,
) -> WorkflowRun:
    """Record a run as `running` through the ORM (fixtures, tools; services start runs
    through `turns.TurnStore`)."""
    run = WorkflowRun(
        **new_run_row(
            run_id=run_id or new_id(),
            app_id=app_id,
            workflow_id=workflow_id,
            inputs=dict(inputs),
            now=utcnow(),
            conversation_id=conversation_id,
            message_id=message_id,
            created_by_end_user_id=created_by_end_user_id,
            triggered_from=triggered_from,
            version=version,
        )
    )
    session.add(run)
    await session.flush()
    return run


async def finish_run(
    session: AsyncSession,
    run_id: str,
    *,
    status: str,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
    elapsed_time: float = 0.0,
    total_tokens: int = 0,
    total_steps: int = 0,
    exceptions_count: int = 0,
    finished_at: datetime | None = None,
) -> None:
    """End a run in one UPDATE (succeeded|failed|stopped|partial-succeeded|paused)."""
    await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id)
        .values(
            status=status,
            outputs=outputs,
            error=error,
            elapsed_time=elapsed_time,
            total_tokens=total_tokens,
            total_steps=total_steps,
            exceptions_count=exceptions_count,
            finished_at=finished_at or utcnow(),
        )
    )


async def insert_node_executions(
    session: AsyncSession, workflow_run_id: str, records: Sequence[NodeExecutionRecord]
) -> None:
    """Write all of a run's node executions in one executemany INSERT."""
    if not records:
        return
    rows = [{**asdict(r), "workflow_run_id": workflow_run_id} for r in records]
    await session.execute(insert(NodeExecution), rows)


async def list_node_executions(session: AsyncSession, workflow_run_id: str) -> list[NodeExecution]:
    """A run's node executions in execution order."""
    rows = await session.scalars(
        select(NodeExecution)
        .where(NodeExecution.workflow_run_id == workflow_run_id)
        .order_by(NodeExecution.index, NodeExecution.created_at)
    )
    return list(rows)


async def get_run(session: AsyncSession, *, app_id: str, run_id: str) -> WorkflowRun | None:
    """`GET /workflows/run/{id}`: the app's run with this id, or None."""
    return await session.scalar(
        select(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.app_id == app_id)
    )


async def list_runs(
    session: AsyncSession,
    *,
    app_id: str,
    status: str | None = None,
    keyword: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    end_user_session_id: str | None = None,
    page: int = 1,
    limit: int = 20,
) -> NumberedPage[RunLog]:
    """`GET /workflows/logs`: newest first, filtered like Dify.

    `keyword` matches (case-insensitively) the run's inputs, outputs or the end user's
    session id; `created_after`/`created_before` are inclusive/exclusive bounds.
    """
    page = clamp_page(page)
    filters = [WorkflowRun.app_id == app_id]
    if status:
        filters.append(WorkflowRun.status == status)
    if created_after is not None:
        filters.append(WorkflowRun.created_at >= created_after)
    if created_before is not None:
        filters.append(WorkflowRun.created_at < created_before)
    if end_user_session_id:
        filters.append(EndUser.session_id == end_user_session_id)
    if keyword:
        filters.append(
            or_(
                cast(WorkflowRun.inputs, Text).icontains(keyword, autoescape=True),
                cast(WorkflowRun.outputs, Text).icontains(keyword, autoescape=True),
                EndUser.session_id.icontains(keyword, autoescape=True),
            )
        )
    joined = select(WorkflowRun, EndUser).outerjoin(
        EndUser, EndUser.id == WorkflowRun.created_by_end_user_id
    )
    total = await session.scalar(
        select(func.count())
        .select_from(WorkflowRun)
        .outerjoin(EndUser, EndUser.id == WorkflowRun.created_by_end_user_id)
        .where(*filters)
    )
    rows = (
        await session.execute(
            joined.where(*filters)
            .order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc())
            .offset((page - 1) * limit)
            .limit(limit)
        )
    ).all()
    items = [RunLog(run=run, end_user=user) for run, user in rows]
    return NumberedPage(items=items, page=page, limit=limit, total=total or 0)


async def list_end_user_runs(
    session: AsyncSession, *, app_id: str, end_user_id: str, page: int = 1, limit: int = 20
) -> NumberedPage[WorkflowRun]:
    """One end user's runs of an app that no chat message started, newest first."""
    page = clamp_page(page)
    filters = (
        WorkflowRun.app_id == app_id,
        WorkflowRun.created_by_end_user_id == end_user_id,
        WorkflowRun.message_id.is_(None),
    )
    total = await session.scalar(select(func.count()).select_from(WorkflowRun).where(*filters))
    rows = await session.scalars(
        select(WorkflowRun)
        .where(*filters)
        .order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return NumberedPage(items=list(rows), page=page, limit=limit, total=total or 0)


INTERRUPTED = "The run was interrupted: its worker stopped."


async def running_run_ids(session: AsyncSession, *, started_before: datetime) -> list[str]:
    """Ids of runs still `running` that started before a cutoff (the sweeper's candidates)."""
    rows = await session.scalars(
        select(WorkflowRun.id).where(
            WorkflowRun.status == "running", WorkflowRun.created_at < started_before
        )
    )
    return list(rows)
