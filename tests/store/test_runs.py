"""Workflow runs: start/finish, bulk node executions, logs filters and paging. (The
sweeper's writes: tests/store/test_lifecycle.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import runs
from chatflow.store.models import WorkflowRun
from chatflow.store.runs import NodeExecutionRecord

from .conftest import World

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def test_create_finish_get(session: AsyncSession, world: World) -> None:
    run = await runs.create_run(
        session,
        app_id=world.app_id,
        workflow_id="hash",
        inputs={"x": "1"},
        created_by_end_user_id=world.alice,
    )
    assert run.status == "running" and run.finished_at is None
    await runs.finish_run(
        session,
        run.id,
        status="succeeded",
        outputs={"answer": "ok"},
        elapsed_time=1.5,
        total_tokens=12,
        total_steps=3,
    )
    got = await runs.get_run(session, app_id=world.app_id, run_id=run.id)
    assert got is not None
    assert (got.status, got.outputs, got.elapsed_time, got.total_tokens, got.total_steps) == (
        "succeeded",
        {"answer": "ok"},
        1.5,
        12,
        3,
    )
    assert got.finished_at is not None and got.finished_at.tzinfo is not None
    assert await runs.get_run(session, app_id="other-app", run_id=run.id) is None


async def test_node_executions_are_written_in_bulk(session: AsyncSession, world: World) -> None:
    run = await runs.create_run(session, app_id=world.app_id, workflow_id="w", inputs={})
    records = [
        NodeExecutionRecord(
            node_id=f"n{i}",
            node_type="llm" if i else "start",
            status="succeeded",
            index=i + 1,
            title=f"Node {i}",
            predecessor_node_id=f"n{i - 1}" if i else None,
            inputs={"i": i},
            outputs={"text": "ü" * i},
            execution_metadata={"total_tokens": i},
            elapsed_time=0.1 * i,
        )
        for i in range(3)
    ]
    await runs.insert_node_executions(session, run.id, records[::-1])
    await runs.insert_node_executions(session, run.id, [])
    stored = await runs.list_node_executions(session, run.id)
    assert [n.node_id for n in stored] == ["n0", "n1", "n2"]
    assert [n.id for n in stored] == [r.id for r in records]
    assert stored[2].outputs == {"text": "üü"} and stored[1].predecessor_node_id == "n0"
    assert stored[2].execution_metadata == {"total_tokens": 2}


async def _logs(session: AsyncSession, world: World) -> list[str]:
    """Five runs a minute apart (newest last) by alice and bob, various statuses."""
    specs = [
        ("succeeded", world.alice, {"city": "Paris"}, {"text": "sunny"}),
        ("failed", world.bob, {"city": "Zürich"}, None),
        ("succeeded", world.bob, {"city": "Oslo"}, {"text": "Snow in OSLO"}),
        ("stopped", world.alice, {"city": "Rome"}, None),
        ("succeeded", world.alice, {"city": "100%_real"}, {"text": "x"}),
    ]
    ids = []
    for i, (status, user, inputs, outputs) in enumerate(specs):
        run = await runs.create_run(
            session,
            app_id=world.app_id,
            workflow_id="w",
            inputs=inputs,
            created_by_end_user_id=user,
        )
        await runs.finish_run(session, run.id, status=status, outputs=outputs)
        await session.execute(
            update(WorkflowRun)
            .where(WorkflowRun.id == run.id)
            .values(created_at=T0 + timedelta(minutes=i))
        )
        ids.append(run.id)
    return ids


async def test_logs_filters_and_pages(session: AsyncSession, world: World) -> None:
    ids = await _logs(session, world)

    async def page(**kw: object) -> list[str]:
        result = await runs.list_runs(session, app_id=world.app_id, **kw)  # type: ignore[arg-type]
        return [log.run.id for log in result.items]

    assert await page() == ids[::-1]
    assert await page(status="succeeded") == [ids[4], ids[2], ids[0]]
    assert await page(keyword="oslo") == [ids[2]]  # outputs, case-insensitive
    assert await page(keyword="zürich") == [ids[1]]  # non-ASCII in JSON inputs
    assert await page(keyword="%_") == [ids[4]]  # wildcards are literal
    assert await page(keyword="bob") == [ids[2], ids[1]]  # end user's session id
    assert await page(end_user_session_id="alice") == [ids[4], ids[3], ids[0]]
    assert await page(created_after=T0 + timedelta(minutes=1)) == ids[:0:-1]
    assert await page(created_before=T0 + timedelta(minutes=2)) == [ids[1], ids[0]]

    first = await runs.list_runs(session, app_id=world.app_id, page=1, limit=2)
    assert (first.total, first.page, first.limit, first.has_more) == (5, 1, 2, True)
    assert first.items[0].end_user is not None and first.items[0].end_user.session_id == "alice"
    last = await runs.list_runs(session, app_id=world.app_id, page=3, limit=2)
    assert [log.run.id for log in last.items] == [ids[0]] and not last.has_more
    beyond = await runs.list_runs(session, app_id=world.app_id, page=9, limit=2)
    assert beyond.items == [] and beyond.total == 5
    assert (await runs.list_runs(session, app_id="other-app")).total == 0
