"""Human-input repository: paused runs' resume state and the forms they wait on.

A form moves waiting -> submitted | timeout exactly once: every transition is a guarded
UPDATE, so two submissions racing for one form cannot both win. A paused run is claimed
for resuming the same way (paused -> resuming), so only one segment runs at a time.
Pausing and finishing a paused run are part of a run's lifecycle: their statements are
here, and `turns.TurnStore` runs them with the run's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from chatflow.store._dialect import insert_for_dialect
from chatflow.store._types import utcnow
from chatflow.store.direct import Statement, Write, WriteMany
from chatflow.store.lifecycle import NewForm, RunPause
from chatflow.store.models import HumanInputForm, WorkflowPause, WorkflowRun

__all__ = ["NewForm"]


_pauses = cast(Table, WorkflowPause.__table__)
_forms = cast(Table, HumanInputForm.__table__)


# What a resumed run that pauses again overwrites in its pause record.
_REPAUSED = ("task_id", "status", "state", "turn", "updated_at")


def _upsert_pause(dialect: str) -> ClauseElement:
    """Record a paused run, or update it when a resumed run pauses again."""
    stmt = insert_for_dialect(dialect, _pauses)
    return stmt.on_conflict_do_update(
        index_elements=["workflow_run_id"],
        set_={
            name: stmt.excluded[name]
            for name in ("task_id", "status", "state", "turn", "updated_at")
        },
    )


def _insert_new_forms(dialect: str) -> ClauseElement:
    """Add forms; those recorded at an earlier pause of the run stay as they are."""
    return insert_for_dialect(dialect, _forms).on_conflict_do_nothing(index_elements=["id"])


_PAUSE_COLUMNS = (
    "workflow_run_id", "app_id", "end_user_id", "task_id", "status", "state", "turn",
    "created_at", "updated_at",
)  # fmt: skip
_FORM_COLUMNS = (
    "id", "workflow_run_id", "app_id", "end_user_id", "node_id", "node_title", "form_token",
    "definition", "status", "expiration_time", "created_at", "updated_at",
)  # fmt: skip
_UPSERT_PAUSE = Statement(_upsert_pause, _PAUSE_COLUMNS)
_INSERT_FORMS = Statement(_insert_new_forms, _FORM_COLUMNS)
_FINISH_PAUSE = Statement(
    update(_pauses)
    .where(_pauses.c.workflow_run_id == bindparam("run_id"))
    .values(status="finished", updated_at=bindparam("now", type_=_pauses.c.updated_at.type))
)


def pause_writes(run_id: str, pause: RunPause, now: datetime) -> list[Write | WriteMany]:
    """The pause record (new, or updated when a resumed run pauses again) and the forms
    it waits on that are not recorded yet (`TurnStore.pause` adds the run's end)."""
    record = {
        "workflow_run_id": run_id,
        "app_id": pause.app_id,
        "end_user_id": pause.end_user_id,
        "task_id": pause.task_id,
        "status": "paused",
        "state": dict(pause.state),
        "turn": dict(pause.turn),
        "created_at": now,
        "updated_at": now,
    }
    forms = [
        {
            "id": form.id,
            "workflow_run_id": run_id,
            "app_id": pause.app_id,
            "end_user_id": pause.end_user_id,
            "node_id": form.node_id,
            "node_title": form.node_title,
            "form_token": form.form_token,
            "definition": form.definition,
            "status": "waiting",
            "expiration_time": form.expiration_time,
            "created_at": now,
            "updated_at": now,
        }
        for form in pause.forms
    ]
    return [Write(_UPSERT_PAUSE, record), WriteMany(_INSERT_FORMS, forms)]


def finish_pause_write(run_id: str, now: datetime) -> Write:
    """A resumed run's end: its pause record `finished`."""
    return Write(_FINISH_PAUSE, {"run_id": run_id, "now": now})


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
