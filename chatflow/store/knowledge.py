"""Knowledge repository: datasets, documents, segments, keys, metadata fields, tags, refs.

Plain async functions over an `AsyncSession`, as the other repositories; the knowledge
service (`services/knowledge.py`) holds the rules (validation, Dify's errors, ingestion).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store._types import utcnow
from chatflow.store.apps import hash_token
from chatflow.store.knowledge_models import (
    AppDatasetRef,
    Dataset,
    DatasetApiKey,
    DatasetDocument,
    DatasetMetadataField,
    DatasetSegment,
    KnowledgeTag,
    KnowledgeTagBinding,
)
from chatflow.store.paging import NumberedPage, clamp_page

_TOKEN_ALPHABET = string.ascii_letters + string.digits
ACTIVE_STATUSES = ("waiting", "parsing", "cleaning", "splitting", "indexing")


# -- dataset API keys ---------------------------------------------------------------------


def mint_dataset_token() -> str:
    """A Dify-style dataset key: `dataset-` + 24 letters and digits."""
    return "dataset-" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(24))


async def add_dataset_key(session: AsyncSession, token: str) -> DatasetApiKey:
    key = DatasetApiKey(token_hash=hash_token(token), prefix=token[:11])
    session.add(key)
    await session.flush()
    return key


async def find_dataset_key(session: AsyncSession, token: str) -> DatasetApiKey | None:
    found: DatasetApiKey | None = await session.scalar(
        select(DatasetApiKey).where(DatasetApiKey.token_hash == hash_token(token))
    )
    return found


async def list_dataset_keys(session: AsyncSession) -> list[DatasetApiKey]:
    """Every dataset key, newest first (their hashes and prefixes only)."""
    rows = await session.scalars(
        select(DatasetApiKey).order_by(DatasetApiKey.created_at.desc(), DatasetApiKey.id)
    )
    return list(rows)


async def delete_dataset_key(session: AsyncSession, key_id: str) -> DatasetApiKey | None:
    """Remove one key; the removed row (for its hash), or None when there was none."""
    found = await session.get(DatasetApiKey, key_id)
    if found is not None:
        await session.delete(found)
        await session.flush()
    return found


# -- datasets ------------------------------------------------------------------------------


async def get_dataset(session: AsyncSession, dataset_id: str) -> Dataset | None:
    return await session.get(Dataset, dataset_id)


async def find_dataset(session: AsyncSession, ref: str) -> Dataset | None:
    """A dataset by id, else by name."""
    found = await session.get(Dataset, ref)
    if found is None:
        found = await session.scalar(select(Dataset).where(Dataset.name == ref))
    return found


async def dataset_by_name(session: AsyncSession, name: str) -> Dataset | None:
    found: Dataset | None = await session.scalar(select(Dataset).where(Dataset.name == name))
    return found


async def list_datasets(
    session: AsyncSession,
    *,
    page: int,
    limit: int,
    keyword: str | None = None,
    tag_ids: Sequence[str] = (),
) -> NumberedPage[Dataset]:
    """Newest first, as Dify lists them."""
    query = select(Dataset)
    if keyword:
        query = query.where(Dataset.name.contains(keyword, autoescape=True))
    if tag_ids:
        tagged = select(KnowledgeTagBinding.dataset_id).where(
            KnowledgeTagBinding.tag_id.in_(list(tag_ids))
        )
        query = query.where(Dataset.id.in_(tagged))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = clamp_page(page)
    rows = await session.scalars(
        query.order_by(Dataset.created_at.desc(), Dataset.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return NumberedPage(items=list(rows), page=page, limit=limit, total=total)


async def dataset_counts(
    session: AsyncSession, dataset_ids: Collection[str]
) -> dict[str, tuple[int, int, int]]:
    """dataset id -> (document count, word count, available document count)."""
    if not dataset_ids:
        return {}
    available = and_(
        DatasetDocument.indexing_status == "completed",
        DatasetDocument.enabled.is_(True),
        DatasetDocument.archived.is_(False),
    )
    rows = await session.execute(
        select(
            DatasetDocument.dataset_id,
            func.count(),
            func.coalesce(func.sum(DatasetDocument.word_count), 0),
            func.count().filter(available),
        )
        .where(DatasetDocument.dataset_id.in_(list(dataset_ids)))
        .group_by(DatasetDocument.dataset_id)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


async def app_counts(session: AsyncSession, dataset_ids: Collection[str]) -> dict[str, int]:
    """dataset id -> number of imported apps whose references map to it."""
    if not dataset_ids:
        return {}
    rows = await session.execute(
        select(AppDatasetRef.dataset_id, func.count(func.distinct(AppDatasetRef.app_id)))
        .where(AppDatasetRef.dataset_id.in_(list(dataset_ids)))
        .group_by(AppDatasetRef.dataset_id)
    )
    return {row[0]: int(row[1]) for row in rows}


async def delete_dataset(session: AsyncSession, dataset_id: str) -> bool:
    result = await session.execute(delete(Dataset).where(Dataset.id == dataset_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- documents -----------------------------------------------------------------------------


async def next_document_position(session: AsyncSession, dataset_id: str) -> int:
    current = await session.scalar(
        select(func.max(DatasetDocument.position)).where(DatasetDocument.dataset_id == dataset_id)
    )
    return int(current or 0) + 1


async def get_document(
    session: AsyncSession, dataset_id: str, document_id: str
) -> DatasetDocument | None:
    found: DatasetDocument | None = await session.scalar(
        select(DatasetDocument).where(
            DatasetDocument.id == document_id, DatasetDocument.dataset_id == dataset_id
        )
    )
    return found


async def list_documents(
    session: AsyncSession,
    dataset_id: str,
    *,
    page: int,
    limit: int,
    keyword: str | None = None,
    status: str | None = None,
) -> NumberedPage[DatasetDocument]:
    """Newest first (Dify orders by creation, then position, both descending)."""
    query = select(DatasetDocument).where(DatasetDocument.dataset_id == dataset_id)
    if keyword:
        query = query.where(DatasetDocument.name.contains(keyword, autoescape=True))
    if status:
        query = query.where(display_status_clause(status))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = clamp_page(page)
    rows = await session.scalars(
        query.order_by(DatasetDocument.created_at.desc(), DatasetDocument.position.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return NumberedPage(items=list(rows), page=page, limit=limit, total=total)


def display_status_clause(status: str) -> Any:
    """SQL for Dify's `display_status` filter values."""
    doc = DatasetDocument
    clauses: dict[str, Any] = {
        "queuing": doc.indexing_status == "waiting",
        "indexing": doc.indexing_status.in_(("parsing", "cleaning", "splitting", "indexing")),
        "paused": doc.indexing_status == "paused",
        "error": doc.indexing_status == "error",
        "available": and_(
            doc.indexing_status == "completed", doc.enabled.is_(True), doc.archived.is_(False)
        ),
        "disabled": and_(
            doc.indexing_status == "completed", doc.enabled.is_(False), doc.archived.is_(False)
        ),
        "archived": and_(doc.indexing_status == "completed", doc.archived.is_(True)),
    }
    return clauses.get(status, doc.indexing_status == status)


async def batch_documents(
    session: AsyncSession, dataset_id: str, batch: str
) -> list[DatasetDocument]:
    rows = await session.scalars(
        select(DatasetDocument)
        .where(DatasetDocument.dataset_id == dataset_id, DatasetDocument.batch == batch)
        .order_by(DatasetDocument.position)
    )
    return list(rows)


async def documents_by_ids(
    session: AsyncSession, dataset_id: str, document_ids: Iterable[str]
) -> list[DatasetDocument]:
    ids = list(document_ids)
    if not ids:
        return []
    rows = await session.scalars(
        select(DatasetDocument).where(
            DatasetDocument.dataset_id == dataset_id, DatasetDocument.id.in_(ids)
        )
    )
    return list(rows)


async def datasets_by_ids(
    session: AsyncSession, dataset_ids: Collection[str]
) -> dict[str, Dataset]:
    if not dataset_ids:
        return {}
    rows = await session.scalars(select(Dataset).where(Dataset.id.in_(list(dataset_ids))))
    return {row.id: row for row in rows}


async def searchable_document_keys(
    session: AsyncSession, dataset_ids: Collection[str], *, with_metadata: bool
) -> list[Any]:
    """Rows (id, dataset_id[, name, doc_metadata, created_at, updated_at]) of the
    documents a search may return: completed, enabled, not archived. Columns only, no
    ORM objects: this runs on every retrieval over every document of the datasets."""
    if not dataset_ids:
        return []
    doc = DatasetDocument
    columns: list[Any] = [doc.id, doc.dataset_id]
    if with_metadata:
        columns += [doc.name, doc.doc_metadata, doc.created_at, doc.updated_at]
    rows = await session.execute(
        select(*columns).where(
            doc.dataset_id.in_(list(dataset_ids)),
            doc.indexing_status == "completed",
            doc.enabled.is_(True),
            doc.archived.is_(False),
        )
    )
    return list(rows)


async def segment_progress(
    session: AsyncSession, document_ids: Collection[str]
) -> dict[str, tuple[int, int]]:
    """document id -> (completed segments, all segments)."""
    if not document_ids:
        return {}
    rows = await session.execute(
        select(
            DatasetSegment.document_id,
            func.count().filter(DatasetSegment.completed_at.is_not(None)),
            func.count(),
        )
        .where(DatasetSegment.document_id.in_(list(document_ids)))
        .group_by(DatasetSegment.document_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


async def segment_stats(session: AsyncSession, document_id: str) -> tuple[int, int, int]:
    """(segment count, total characters, total hit count) of a document."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(DatasetSegment.word_count), 0),
                func.coalesce(func.sum(DatasetSegment.hit_count), 0),
            ).where(DatasetSegment.document_id == document_id)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def claimable_documents(
    session: AsyncSession, *, stale_before: datetime, limit: int = 20
) -> list[DatasetDocument]:
    """Documents to ingest: waiting, or in progress under a lease that went stale."""
    rows = await session.scalars(
        select(DatasetDocument)
        .where(
            or_(
                DatasetDocument.indexing_status == "waiting",
                and_(
                    DatasetDocument.indexing_status.in_(ACTIVE_STATUSES),
                    or_(
                        DatasetDocument.ingest_heartbeat.is_(None),
                        DatasetDocument.ingest_heartbeat < stale_before,
                    ),
                ),
            )
        )
        .order_by(DatasetDocument.created_at, DatasetDocument.position)
        .limit(limit)
    )
    return list(rows)


async def claim_document(
    session: AsyncSession,
    document_id: str,
    owner: str,
    *,
    seen_heartbeat: datetime | None,
    stale_before: datetime,
) -> bool:
    """Take the ingestion lease; False when another worker took it first."""
    doc = DatasetDocument
    lease_free = or_(
        doc.indexing_status == "waiting",
        doc.ingest_heartbeat.is_(None),
        doc.ingest_heartbeat < stale_before,
    )
    same = (
        doc.ingest_heartbeat.is_(None)
        if seen_heartbeat is None
        else doc.ingest_heartbeat == seen_heartbeat
    )
    now = utcnow()
    result = await session.execute(
        update(doc)
        .where(
            doc.id == document_id,
            doc.indexing_status.in_(ACTIVE_STATUSES),
            lease_free,
            same,
        )
        .values(
            ingest_owner=owner,
            ingest_heartbeat=now,
            indexing_status="parsing",
            processing_started_at=now,
            error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def update_owned_document(
    session: AsyncSession, document_id: str, owner: str, values: Mapping[str, Any]
) -> bool:
    """Write ingestion progress only while this worker still holds the lease."""
    result = await session.execute(
        update(DatasetDocument)
        .where(DatasetDocument.id == document_id, DatasetDocument.ingest_owner == owner)
        .values(**values, ingest_heartbeat=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- segments ------------------------------------------------------------------------------


async def list_segments(
    session: AsyncSession,
    document_id: str,
    *,
    page: int,
    limit: int,
    statuses: Sequence[str] = (),
    keyword: str | None = None,
) -> NumberedPage[DatasetSegment]:
    query = select(DatasetSegment).where(DatasetSegment.document_id == document_id)
    if statuses:
        query = query.where(DatasetSegment.status.in_(list(statuses)))
    if keyword:
        query = query.where(DatasetSegment.content.contains(keyword, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = clamp_page(page)
    rows = await session.scalars(
        query.order_by(DatasetSegment.position).offset((page - 1) * limit).limit(limit)
    )
    return NumberedPage(items=list(rows), page=page, limit=limit, total=total)


async def get_segment(
    session: AsyncSession, document_id: str, segment_id: str
) -> DatasetSegment | None:
    found: DatasetSegment | None = await session.scalar(
        select(DatasetSegment).where(
            DatasetSegment.id == segment_id, DatasetSegment.document_id == document_id
        )
    )
    return found


async def segments_by_ids(
    session: AsyncSession, segment_ids: Collection[str]
) -> dict[str, DatasetSegment]:
    if not segment_ids:
        return {}
    rows = await session.scalars(
        select(DatasetSegment).where(DatasetSegment.id.in_(list(segment_ids)))
    )
    return {row.id: row for row in rows}


async def segments_with_documents(
    session: AsyncSession, segment_ids: Collection[str]
) -> dict[str, tuple[DatasetSegment, DatasetDocument]]:
    """segment id -> (segment, its document), in one query."""
    if not segment_ids:
        return {}
    rows = await session.execute(
        select(DatasetSegment, DatasetDocument)
        .join(DatasetDocument, DatasetDocument.id == DatasetSegment.document_id)
        .where(DatasetSegment.id.in_(list(segment_ids)))
    )
    return {row[0].id: (row[0], row[1]) for row in rows}


async def document_segment_ids(session: AsyncSession, document_id: str) -> list[str]:
    rows = await session.scalars(
        select(DatasetSegment.id).where(DatasetSegment.document_id == document_id)
    )
    return list(rows)


async def delete_document_segments(session: AsyncSession, document_id: str) -> None:
    await session.execute(delete(DatasetSegment).where(DatasetSegment.document_id == document_id))


async def next_segment_position(session: AsyncSession, document_id: str) -> int:
    current = await session.scalar(
        select(func.max(DatasetSegment.position)).where(DatasetSegment.document_id == document_id)
    )
    return int(current or 0) + 1


async def add_hits(session: AsyncSession, segment_ids: Collection[str]) -> None:
    """Count a retrieval hit on each segment (Dify's `hit_count`)."""
    if segment_ids:
        await session.execute(
            update(DatasetSegment)
            .where(DatasetSegment.id.in_(list(segment_ids)))
            .values(hit_count=DatasetSegment.hit_count + 1)
            .execution_options(synchronize_session=False)
        )


# -- metadata fields -----------------------------------------------------------------------


async def metadata_fields(session: AsyncSession, dataset_id: str) -> list[DatasetMetadataField]:
    rows = await session.scalars(
        select(DatasetMetadataField)
        .where(DatasetMetadataField.dataset_id == dataset_id)
        .order_by(DatasetMetadataField.created_at, DatasetMetadataField.name)
    )
    return list(rows)


async def metadata_field(
    session: AsyncSession, dataset_id: str, field_id: str
) -> DatasetMetadataField | None:
    found: DatasetMetadataField | None = await session.scalar(
        select(DatasetMetadataField).where(
            DatasetMetadataField.dataset_id == dataset_id, DatasetMetadataField.id == field_id
        )
    )
    return found


async def dataset_documents_with_metadata(
    session: AsyncSession, dataset_id: str
) -> list[DatasetDocument]:
    rows = await session.scalars(
        select(DatasetDocument).where(
            DatasetDocument.dataset_id == dataset_id, DatasetDocument.doc_metadata.is_not(None)
        )
    )
    return list(rows)


# -- tags ----------------------------------------------------------------------------------


async def list_tags(session: AsyncSession) -> list[tuple[KnowledgeTag, int]]:
    """Every tag with its binding count, oldest first."""
    count = (
        select(func.count())
        .where(KnowledgeTagBinding.tag_id == KnowledgeTag.id)
        .correlate(KnowledgeTag)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(KnowledgeTag, count).order_by(KnowledgeTag.created_at, KnowledgeTag.name)
    )
    return [(row[0], int(row[1])) for row in rows]


async def tag_binding_count(session: AsyncSession, tag_id: str) -> int:
    return int(
        await session.scalar(select(func.count()).where(KnowledgeTagBinding.tag_id == tag_id)) or 0
    )


async def dataset_tags(
    session: AsyncSession, dataset_ids: Collection[str]
) -> dict[str, list[KnowledgeTag]]:
    if not dataset_ids:
        return {}
    rows = await session.execute(
        select(KnowledgeTagBinding.dataset_id, KnowledgeTag)
        .join(KnowledgeTag, KnowledgeTag.id == KnowledgeTagBinding.tag_id)
        .where(KnowledgeTagBinding.dataset_id.in_(list(dataset_ids)))
        .order_by(KnowledgeTag.created_at, KnowledgeTag.name)
    )
    found: dict[str, list[KnowledgeTag]] = {}
    for dataset_id, tag in rows:
        found.setdefault(dataset_id, []).append(tag)
    return found


async def bind_tags(session: AsyncSession, dataset_id: str, tag_ids: Sequence[str]) -> None:
    existing = set(
        await session.scalars(
            select(KnowledgeTagBinding.tag_id).where(KnowledgeTagBinding.dataset_id == dataset_id)
        )
    )
    for tag_id in dict.fromkeys(tag_ids):
        if tag_id not in existing:
            session.add(KnowledgeTagBinding(tag_id=tag_id, dataset_id=dataset_id))
    await session.flush()


async def unbind_tags(session: AsyncSession, dataset_id: str, tag_ids: Sequence[str]) -> None:
    await session.execute(
        delete(KnowledgeTagBinding).where(
            KnowledgeTagBinding.dataset_id == dataset_id,
            KnowledgeTagBinding.tag_id.in_(list(tag_ids)),
        )
    )


# -- app dataset references ----------------------------------------------------------------


async def app_refs(session: AsyncSession, app_id: str) -> dict[str, str]:
    """An app's mapped references: ref as written -> dataset id."""
    rows = await session.execute(
        select(AppDatasetRef.ref, AppDatasetRef.dataset_id).where(AppDatasetRef.app_id == app_id)
    )
    return {row[0]: row[1] for row in rows}


async def set_app_ref(session: AsyncSession, app_id: str, ref: str, dataset_id: str) -> None:
    found = await session.get(AppDatasetRef, (app_id, ref))
    if found is None:
        session.add(AppDatasetRef(app_id=app_id, ref=ref, dataset_id=dataset_id))
    else:
        found.dataset_id = dataset_id
    await session.flush()
