"""Annotations: CRUD, keyword pages, hits, reply setting upsert, enable/disable jobs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import annotations as ann
from chatflow.store.models import AnnotationHit

from .conftest import World


async def test_crud_is_scoped_to_app(session: AsyncSession, world: World) -> None:
    a = await ann.create_annotation(session, app_id=world.app_id, question="Q?", answer="A.")
    assert a.hit_count == 0
    assert await ann.get_annotation(session, app_id="other", annotation_id=a.id) is None
    updated = await ann.update_annotation(
        session, app_id=world.app_id, annotation_id=a.id, question="Q2?", answer="A2."
    )
    assert updated is not None and (updated.question, updated.answer) == ("Q2?", "A2.")
    assert (
        await ann.update_annotation(
            session, app_id="other", annotation_id=a.id, question="x", answer="y"
        )
        is None
    )
    assert not await ann.delete_annotation(session, app_id="other", annotation_id=a.id)
    assert await ann.delete_annotation(session, app_id=world.app_id, annotation_id=a.id)
    assert await ann.get_annotation(session, app_id=world.app_id, annotation_id=a.id) is None


async def test_list_pages_and_keyword(session: AsyncSession, world: World) -> None:
    made = [
        await ann.create_annotation(session, app_id=world.app_id, question=q, answer=a)
        for q, a in [("Opening hours?", "9 to 5"), ("Price?", "10% off"), ("Where?", "Oslo")]
    ]
    page = await ann.list_annotations(session, app_id=world.app_id, page=1, limit=2)
    assert [x.id for x in page.items] == [made[2].id, made[1].id]
    assert (page.total, page.has_more) == (3, True)
    last = await ann.list_annotations(session, app_id=world.app_id, page=2, limit=2)
    assert [x.id for x in last.items] == [made[0].id] and not last.has_more
    assert [
        x.id
        for x in (await ann.list_annotations(session, app_id=world.app_id, keyword="OSLO")).items
    ] == [made[2].id]
    assert [
        x.id
        for x in (await ann.list_annotations(session, app_id=world.app_id, keyword="hours")).items
    ] == [made[0].id]
    percent = await ann.list_annotations(session, app_id=world.app_id, keyword="%")
    assert [x.id for x in percent.items] == [made[1].id] and percent.total == 1
    assert [x.id for x in await ann.all_annotations(session, world.app_id)] == [m.id for m in made]


async def test_hits_count_and_history(session: AsyncSession, world: World) -> None:
    a = await ann.create_annotation(session, app_id=world.app_id, question="Q", answer="A")
    for _ in range(2):
        await ann.record_annotation_hit(
            session,
            annotation_id=a.id,
            app_id=world.app_id,
            question="q?",
            score=0.93,
            message_id="m",
        )
    got = await ann.get_annotation(session, app_id=world.app_id, annotation_id=a.id)
    assert got is not None
    await session.refresh(got)
    assert got.hit_count == 2
    count = await session.scalar(
        select(func.count()).select_from(AnnotationHit).where(AnnotationHit.annotation_id == a.id)
    )
    assert count == 2


async def test_setting_upsert(session: AsyncSession, world: World) -> None:
    assert await ann.get_annotation_setting(session, world.app_id) is None
    first = await ann.save_annotation_setting(
        session,
        app_id=world.app_id,
        enabled=True,
        score_threshold=0.8,
        embedding_provider_name="local",
        embedding_model_name="minilm",
    )
    assert (first.enabled, first.score_threshold) == (True, 0.8)
    second = await ann.save_annotation_setting(
        session,
        app_id=world.app_id,
        enabled=False,
        score_threshold=0.9,
        embedding_provider_name="local",
        embedding_model_name="minilm",
    )
    assert (second.enabled, second.score_threshold, second.created_at) == (
        False,
        0.9,
        first.created_at,
    )
    got = await ann.get_annotation_setting(session, world.app_id)
    assert got is not None and got.enabled is False


async def test_jobs(session: AsyncSession, world: World) -> None:
    job = await ann.create_annotation_job(session, app_id=world.app_id, action="enable")
    assert job.status == "waiting"
    await ann.set_annotation_job_status(session, job.id, "failed", error="no model")
    got = await ann.get_annotation_job(session, app_id=world.app_id, job_id=job.id, action="enable")
    assert got is not None and (got.status, got.error) == ("failed", "no model")
    assert (
        await ann.get_annotation_job(session, app_id=world.app_id, job_id=job.id, action="disable")
        is None
    )
    assert await ann.get_annotation_job(session, app_id="other", job_id=job.id) is None
    with pytest.raises(ValueError):
        await ann.set_annotation_job_status(session, job.id, "processing")
