"""Annotation embedding repository: the vectors annotation reply matches queries against.

One row per annotation (its question's vector). Rows go away with their annotation
(ON DELETE CASCADE); `delete_app_embeddings` empties an app's index when reply is
disabled. Vectors are float32 bytes, the same on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._dialect import insert_for
from chatflow.store._types import utcnow
from chatflow.store.models import Annotation, AnnotationEmbedding


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """An annotation's question and what its stored embedding was made from (if any)."""

    annotation_id: str
    question: str
    text_hash: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class StoredVector:
    annotation_id: str
    dimensions: int
    vector: bytes


@dataclass(frozen=True, slots=True)
class NewEmbedding:
    annotation_id: str
    text_hash: str
    vector: bytes
    dimensions: int


async def index_entries(
    session: AsyncSession, app_id: str, annotation_ids: Sequence[str] | None = None
) -> list[IndexEntry]:
    """The app's annotations (or these of them) with their embedding's hash and model."""
    query = (
        select(
            Annotation.id,
            Annotation.question,
            AnnotationEmbedding.text_hash,
            AnnotationEmbedding.model,
        )
        .outerjoin(AnnotationEmbedding, AnnotationEmbedding.annotation_id == Annotation.id)
        .where(Annotation.app_id == app_id)
        .order_by(Annotation.created_at, Annotation.id)
    )
    if annotation_ids is not None:
        query = query.where(Annotation.id.in_(list(annotation_ids)))
    rows = await session.execute(query)
    return [IndexEntry(*row) for row in rows]


async def save_embeddings(
    session: AsyncSession, *, app_id: str, model: str, embeddings: Sequence[NewEmbedding]
) -> None:
    """Insert or replace embeddings. Annotations deleted meanwhile are skipped."""
    if not embeddings:
        return
    live = set(
        await session.scalars(
            select(Annotation.id).where(Annotation.id.in_([e.annotation_id for e in embeddings]))
        )
    )
    now = utcnow()
    for item in embeddings:
        if item.annotation_id not in live:
            continue
        values = {
            "app_id": app_id,
            "model": model,
            "text_hash": item.text_hash,
            "dimensions": item.dimensions,
            "vector": item.vector,
            "updated_at": now,
        }
        stmt = insert_for(session, AnnotationEmbedding).values(
            annotation_id=item.annotation_id, **values
        )
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["annotation_id"], set_=values)
        )


async def load_vectors(session: AsyncSession, *, app_id: str, model: str) -> list[StoredVector]:
    """Every vector of the app made by `model` (others are stale and not comparable)."""
    rows = await session.execute(
        select(
            AnnotationEmbedding.annotation_id,
            AnnotationEmbedding.dimensions,
            AnnotationEmbedding.vector,
        ).where(AnnotationEmbedding.app_id == app_id, AnnotationEmbedding.model == model)
    )
    return [StoredVector(*row) for row in rows]


async def delete_app_embeddings(session: AsyncSession, app_id: str) -> None:
    """Drop the app's whole index (annotation reply disabled)."""
    await session.execute(delete(AnnotationEmbedding).where(AnnotationEmbedding.app_id == app_id))
