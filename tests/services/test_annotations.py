"""`AnnotationService` over an in-memory database and the fake (hashing) embedder: CRUD
with Dify's errors, enable/disable jobs, reply matching by the score threshold, hits."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services import Services
from chatflow.services.annotations import AnnotationService, ReplySettings
from chatflow.services.apps import LoadedApp
from chatflow.store.models import Annotation, AnnotationHit


async def wait_for_job(service: AnnotationService, app_id: str, action: str, job_id: str) -> str:
    for _ in range(200):
        job = await service.job(app_id, action, job_id)
        if job.status in ("completed", "failed"):
            return job.status
        await asyncio.sleep(0.02)
    raise AssertionError("the job did not finish")


async def test_crud_pages_and_not_found(services: Services, echo: LoadedApp) -> None:
    service = services.annotations
    first = await service.create(echo.id, question="What is chatflow?", answer="A server.")
    await service.create(echo.id, question="Who wrote it?", answer="People.")
    page = await service.list_page(echo.id, page=1, limit=1, keyword=None)
    assert (page.total, len(page.items), page.has_more) == (2, 1, True)
    found = await service.list_page(echo.id, page=0, limit=500, keyword="chatflow")
    assert [a.id for a in found.items] == [first.id]
    updated = await service.update(echo.id, first.id, question="What?", answer="B")
    assert (updated.question, updated.answer) == ("What?", "B")
    await service.delete(echo.id, first.id)
    with pytest.raises(NotFound, match="Annotation not found"):
        await service.delete(echo.id, first.id)
    with pytest.raises(NotFound):
        await service.update("another-app", first.id, question="q", answer="a")


async def test_reply_needs_a_threshold_and_matches_only_above_it(
    services: Services, echo: LoadedApp
) -> None:
    service = services.annotations
    with pytest.raises(InvalidRequest, match="score_threshold is required"):
        await service.start_job(echo.id, "enable", None)
    annotation = await service.create(echo.id, question="opening hours", answer="9 to 5")
    assert await service.match(echo.id, "opening hours") is None  # reply is off
    job = await service.start_job(echo.id, "enable", ReplySettings(score_threshold=0.9))
    assert await wait_for_job(service, echo.id, "enable", job.id) == "completed"
    assert await service.reply_enabled(echo.id)
    match = await service.match(echo.id, "opening hours")
    assert match is not None and (match.id, match.answer) == (annotation.id, "9 to 5")
    assert match.score > 0.99
    assert await service.match(echo.id, "something else entirely") is None
    assert await service.match(echo.id, "   ") is None

    # Created while reply is on: indexed at once.
    later = await service.create(echo.id, question="parking", answer="behind the shop")
    match = await service.match(echo.id, "parking")
    assert match is not None and match.id == later.id

    await service.record_hit(echo.id, match, query="parking", message_id="m1", end_user_id="u1")
    async with services.db.session() as session:
        hit_count = await session.scalar(
            select(Annotation.hit_count).where(Annotation.id == later.id)
        )
        hits = list(await session.scalars(select(AnnotationHit.question)))
    assert (hit_count, hits) == (1, ["parking"])

    job = await service.start_job(echo.id, "disable", None)
    assert await wait_for_job(service, echo.id, "disable", job.id) == "completed"
    assert not await service.reply_enabled(echo.id)
    assert await service.match(echo.id, "parking") is None


async def test_unknown_jobs_are_an_invalid_request(services: Services, echo: LoadedApp) -> None:
    with pytest.raises(InvalidRequest, match="The job does not exist"):
        await services.annotations.job(echo.id, "enable", "missing")
