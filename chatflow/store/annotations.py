"""Annotation repository: Q/A pairs, the reply setting, enable/disable jobs and hit history."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._dialect import insert_for
from chatflow.store._types import new_id, utcnow
from chatflow.store.models import Annotation, AnnotationHit, AnnotationJob, AnnotationSetting
from chatflow.store.paging import NumberedPage, clamp_page


async def create_annotation(
    session: AsyncSession, *, app_id: str, question: str, answer: str
) -> Annotation:
    """Add a question/answer pair."""
    now = utcnow()
    annotation = Annotation(
        app_id=app_id, question=question, answer=answer, hit_count=0, created_at=now, updated_at=now
    )
    session.add(annotation)
    await session.flush()
    return annotation


async def get_annotation(
    session: AsyncSession, *, app_id: str, annotation_id: str
) -> Annotation | None:
    """The app's annotation with this id, or None."""
    return await session.scalar(
        select(Annotation).where(Annotation.id == annotation_id, Annotation.app_id == app_id)
    )


async def update_annotation(
    session: AsyncSession, *, app_id: str, annotation_id: str, question: str, answer: str
) -> Annotation | None:
    """Replace an annotation's question and answer; None when not found."""
    annotation = await get_annotation(session, app_id=app_id, annotation_id=annotation_id)
    if annotation is None:
        return None
    annotation.question = question
    annotation.answer = answer
    annotation.updated_at = utcnow()
    await session.flush()
    return annotation


async def delete_annotation(session: AsyncSession, *, app_id: str, annotation_id: str) -> bool:
    """Delete an annotation (and its hit history); False when not found."""
    result = await session.execute(
        delete(Annotation).where(Annotation.id == annotation_id, Annotation.app_id == app_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_annotations(
    session: AsyncSession,
    *,
    app_id: str,
    page: int = 1,
    limit: int = 20,
    keyword: str | None = None,
) -> NumberedPage[Annotation]:
    """`GET /apps/annotations`: newest first; `keyword` matches question or answer."""
    page = clamp_page(page)
    filters = [Annotation.app_id == app_id]
    if keyword:
        filters.append(
            or_(
                Annotation.question.icontains(keyword, autoescape=True),
                Annotation.answer.icontains(keyword, autoescape=True),
            )
        )
    total = await session.scalar(select(func.count()).select_from(Annotation).where(*filters))
    rows = await session.scalars(
        select(Annotation)
        .where(*filters)
        .order_by(Annotation.created_at.desc(), Annotation.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return NumberedPage(items=list(rows), page=page, limit=limit, total=total or 0)


async def all_annotations(session: AsyncSession, app_id: str) -> list[Annotation]:
    """Every annotation of the app, oldest first (to build the reply matcher's index)."""
    rows = await session.scalars(
        select(Annotation)
        .where(Annotation.app_id == app_id)
        .order_by(Annotation.created_at, Annotation.id)
    )
    return list(rows)


async def record_annotation_hit(
    session: AsyncSession,
    *,
    annotation_id: str,
    app_id: str,
    question: str,
    score: float,
    message_id: str | None = None,
    end_user_id: str | None = None,
) -> None:
    """Count a reply served from an annotation and keep it in the hit history."""
    await session.execute(
        update(Annotation)
        .where(Annotation.id == annotation_id)
        .values(hit_count=Annotation.hit_count + 1)
    )
    session.add(
        AnnotationHit(
            annotation_id=annotation_id,
            app_id=app_id,
            message_id=message_id,
            end_user_id=end_user_id,
            question=question,
            score=score,
            created_at=utcnow(),
        )
    )
    await session.flush()


async def get_annotation_setting(session: AsyncSession, app_id: str) -> AnnotationSetting | None:
    """The app's annotation-reply setting, or None when never configured."""
    return await session.get(AnnotationSetting, app_id)


async def save_annotation_setting(
    session: AsyncSession,
    *,
    app_id: str,
    enabled: bool,
    score_threshold: float,
    embedding_provider_name: str,
    embedding_model_name: str,
) -> AnnotationSetting:
    """Create or replace the app's annotation-reply setting (one row per app)."""
    now = utcnow()
    values = {
        "enabled": enabled,
        "score_threshold": score_threshold,
        "embedding_provider_name": embedding_provider_name,
        "embedding_model_name": embedding_model_name,
        "updated_at": now,
    }
    stmt = insert_for(session, AnnotationSetting).values(app_id=app_id, created_at=now, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["app_id"], set_=values))
    setting = await session.scalar(
        select(AnnotationSetting)
        .where(AnnotationSetting.app_id == app_id)
        .execution_options(populate_existing=True)
    )
    assert setting is not None
    return setting


async def create_annotation_job(
    session: AsyncSession, *, app_id: str, action: str
) -> AnnotationJob:
    """Queue an enable/disable job (`waiting`)."""
    now = utcnow()
    job = AnnotationJob(
        id=new_id(),
        app_id=app_id,
        action=action,
        status="waiting",
        error="",
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def get_annotation_job(
    session: AsyncSession, *, app_id: str, job_id: str, action: str | None = None
) -> AnnotationJob | None:
    """The app's job with this id (and action, when given), or None."""
    query = select(AnnotationJob).where(AnnotationJob.id == job_id, AnnotationJob.app_id == app_id)
    if action is not None:
        query = query.where(AnnotationJob.action == action)
    return await session.scalar(query)


async def set_annotation_job_status(
    session: AsyncSession, job_id: str, status: str, *, error: str = ""
) -> None:
    """Move a job to running|completed|failed (the only statuses clients accept)."""
    if status not in ("waiting", "running", "completed", "failed"):
        raise ValueError(f"unknown annotation job status {status!r}")
    await session.execute(
        update(AnnotationJob)
        .where(AnnotationJob.id == job_id)
        .values(status=status, error=error, updated_at=utcnow())
    )


async def unfinished_annotation_job(
    session: AsyncSession, *, app_id: str, action: str
) -> AnnotationJob | None:
    """The app's newest `waiting`/`running` job for `action`, if one is under way."""
    return await session.scalar(
        select(AnnotationJob)
        .where(
            AnnotationJob.app_id == app_id,
            AnnotationJob.action == action,
            AnnotationJob.status.in_(("waiting", "running")),
        )
        .order_by(AnnotationJob.created_at.desc())
        .limit(1)
    )
