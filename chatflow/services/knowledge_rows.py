"""Rows every knowledge service looks up the same way, and what they show of them.

`*_or_404` load a dataset, document or segment or raise Dify's 404; `display_status`
and the built-in metadata values are derived from a document row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chatflow.errors import NotFound
from chatflow.store import knowledge as repo
from chatflow.store.knowledge_models import Dataset, DatasetDocument, DatasetSegment


class DocumentLike(Protocol):
    """A document row, or the columns of one a search reads."""

    @property
    def name(self) -> str: ...
    @property
    def doc_metadata(self) -> dict[str, Any] | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


BUILT_IN_FIELDS = (
    ("document_name", "string"),
    ("uploader", "string"),
    ("upload_date", "time"),
    ("last_update_date", "time"),
    ("source", "string"),
)
_ACTIVE = ("parsing", "cleaning", "splitting", "indexing")


def built_in_values(document: DocumentLike) -> dict[str, Any]:
    """Dify's built-in metadata of a document (when the dataset enables them)."""
    return {
        "document_name": document.name,
        "uploader": "api",
        "upload_date": int(document.created_at.timestamp()),
        "last_update_date": int(document.updated_at.timestamp()),
        "source": "file_upload",
    }


def document_metadata(document: DocumentLike, dataset: Dataset) -> dict[str, Any]:
    """The values metadata filters see: custom fields, plus the built-in ones if enabled."""
    values = dict(document.doc_metadata or {})
    if dataset.built_in_field_enabled:
        values.update(built_in_values(document))
    return values


async def dataset_or_404(session: Any, dataset_id: str) -> Dataset:
    row = await repo.get_dataset(session, dataset_id)
    if row is None:
        raise NotFound("Dataset not found.")
    return row


async def document_or_404(session: Any, dataset_id: str, document_id: str) -> DatasetDocument:
    row = await repo.get_document(session, dataset_id, document_id)
    if row is None:
        raise NotFound("Document not found.")
    return row


async def segment_or_404(session: Any, document_id: str, segment_id: str) -> DatasetSegment:
    row = await repo.get_segment(session, document_id, segment_id)
    if row is None:
        raise NotFound("Segment not found.")
    return row


def display_status(document: DatasetDocument) -> str:
    """Dify's `display_status`: queuing, indexing, paused, error, available, disabled,
    archived."""
    status = document.indexing_status
    if status == "waiting":
        return "queuing"
    if status == "paused":
        return "paused"
    if status in _ACTIVE:
        return "indexing"
    if status == "error":
        return "error"
    if document.archived:
        return "archived"
    return "available" if document.enabled else "disabled"
