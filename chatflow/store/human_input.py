"""Human-input repository: paused runs' resume state and the forms they wait on.

A form moves waiting -> submitted | timeout exactly once: every transition is a guarded
UPDATE, so two submissions racing for one form cannot both win. A paused run is claimed
for resuming the same way (paused -> resuming), so only one segment runs at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import utcnow
from chatflow.store.models import HumanInputForm, WorkflowPause, WorkflowRun


@dataclass(frozen=True, slots=True)
class NewForm:
    """A form to record when a run pauses."""

    id: str
    node_id: str
    node_title: str
    form_token: str
    definition: dict[str, Any]
    expiration_time: datetime


async def save_pause(
    session: AsyncSession,
    *,
    run_id: str,
    app_id: str,
    end_user_id: str | None,
    task_id: str,
    state: Mapping[str, Any],
    turn: Mapping[str, Any],
    forms: Sequence[NewForm],
) -> None:
    """Record (or update, when a resumed run pauses again) a paused run and add the
    forms it waits on that are not recorded yet."""
    pause = await session.get(WorkflowPause, run_id)
    if pause is None:
        session.add(
            WorkflowPause(
                workflow_run_id=run_id,
                app_id=app_id,
                end_user_id=end_user_id,
                task_id=task_id,
                status="paused",
                state=dict(state),
                turn=dict(turn),
            )
        )
    else:
        pause.task_id, pause.status = task_id, "paused"
        pause.state, pause.turn = dict(state), dict(turn)
    known = set(
        await session.scalars(
            select(HumanInputForm.id).where(HumanInputForm.id.in_([f.id for f in forms]))
        )
    )
    for form in forms:
        if form.id not in known:
            session.add(
                HumanInputForm(
                    id=form.id,
                    workflow_run_id=run_id,
                    app_id=app_id,
                    end_user_id=end_user_id,
                    node_id=form.node_id,
                    node_title=form.node_title,
                    form_token=form.form_token,
                    definition=form.definition,
                    status="waiting",
                    expiration_time=form.expiration_time,
                )
            )
    await session.execute(
        update(WorkflowRun).where(WorkflowRun.id == run_id).values(status="paused")
    )
    await session.flush()


async def get_pause(session: AsyncSession, run_id: str) -> WorkflowPause | None:
    return await session.get(WorkflowPause, run_id)


async def claim_pause(session: AsyncSession, run_id: str, task_id: str) -> bool:
    """paused -> resuming, with the new segment's task id; False if not paused."""
    result = await session.execute(
        update(WorkflowPause)
        .where(WorkflowPause.workflow_run_id == run_id, WorkflowPause.status == "paused")
        .values(status="resuming", task_id=task_id, updated_at=utcnow())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(WorkflowRun).where(WorkflowRun.id == run_id).values(status="running")
    )
    return True


async def finish_pause(session: AsyncSession, run_id: str) -> None:
    await session.execute(
        update(WorkflowPause)
        .where(WorkflowPause.workflow_run_id == run_id)
        .values(status="finished", updated_at=utcnow())
    )


async def get_form_by_token(
    session: AsyncSession, *, app_id: str, form_token: str
) -> HumanInputForm | None:
    return await session.scalar(
        select(HumanInputForm).where(
            HumanInputForm.form_token == form_token, HumanInputForm.app_id == app_id
        )
    )


async def run_forms(
    session: AsyncSession, run_id: str, *, status: str | None = None
) -> list[HumanInputForm]:
    query = select(HumanInputForm).where(HumanInputForm.workflow_run_id == run_id)
    if status is not None:
        query = query.where(HumanInputForm.status == status)
    return list(await session.scalars(query.order_by(HumanInputForm.created_at)))


async def mark_submitted(
    session: AsyncSession, form_id: str, *, action_id: str, data: Mapping[str, Any]
) -> bool:
    """waiting -> submitted; False when the form was no longer waiting."""
    now = utcnow()
    result = await session.execute(
        update(HumanInputForm)
        .where(HumanInputForm.id == form_id, HumanInputForm.status == "waiting")
        .values(
            status="submitted",
            selected_action_id=action_id,
            submitted_data=dict(data),
            submitted_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def time_out_expired(session: AsyncSession, now: datetime) -> list[HumanInputForm]:
    """waiting -> timeout for every form past its expiration time; returns them."""
    expired = list(
        await session.scalars(
            select(HumanInputForm).where(
                HumanInputForm.status == "waiting", HumanInputForm.expiration_time <= now
            )
        )
    )
    timed_out = []
    for form in expired:
        result = await session.execute(
            update(HumanInputForm)
            .where(HumanInputForm.id == form.id, HumanInputForm.status == "waiting")
            .values(status="timeout", updated_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            timed_out.append(form)
    return timed_out
