"""Knowledge tables: datasets, their documents and segments, keys, metadata, tags.

The shapes follow Dify's knowledge model (datasets -> documents -> segments), kept to
what the Knowledge API and retrieval read. The retrieval index (vectors, full text) is
not here: `chatflow/knowledge/index.py` owns its own tables, keyed by segment id.
Deleting a dataset removes its documents, segments, metadata fields and tag bindings.
Documents keep their metadata values as a JSON object keyed by field name, as Dify does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatflow.store._types import JSONType, UTCDateTime, new_id, utcnow
from chatflow.store.models import Base


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _parent(target: str, *, index: bool = False) -> Mapped[str]:
    return mapped_column(String(36), ForeignKey(target, ondelete="CASCADE"), index=index)


class DatasetApiKey(Base):
    """A Knowledge API key (`dataset-...`); like app keys only the sha256 is kept."""

    __tablename__ = "dataset_api_keys"
    id: Mapped[str] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Dataset(Base):
    """A knowledge base; `retrieval_model` is Dify's retrieval settings object."""

    __tablename__ = "datasets"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permission: Mapped[str] = mapped_column(String(32), default="only_me")
    provider: Mapped[str] = mapped_column(String(32), default="vendor")
    data_source_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    indexing_technique: Mapped[str | None] = mapped_column(String(32), nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(String(255), nullable=True)
    embedding_model_provider: Mapped[str | None] = mapped_column(String(255), nullable=True)
    retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    doc_form: Mapped[str] = mapped_column(String(32), default="text_model")
    built_in_field_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The process rule new documents use when a request names none (Dify's latest rule).
    process_rule: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class DatasetDocument(Base):
    """One source document. `indexing_status` walks waiting -> parsing -> splitting ->
    indexing -> completed (or error); only completed, enabled documents are searched.

    `ingest_owner`/`ingest_heartbeat` are the ingestion lease: a worker that claimed the
    document refreshes the heartbeat; a stale one lets another worker (or the next start)
    take it over from the beginning.
    """

    __tablename__ = "dataset_documents"
    __table_args__ = (
        Index(None, "dataset_id", "created_at"),
        Index(None, "dataset_id", "batch"),
        Index(None, "indexing_status"),
    )
    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = _parent("datasets.id")
    position: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(255))
    data_source_type: Mapped[str] = mapped_column(String(32), default="upload_file")
    # The original file: where its bytes are stored and what it was.
    storage_key: Mapped[str] = mapped_column(String(512))
    file_id: Mapped[str] = mapped_column(String(36), default=new_id)
    extension: Mapped[str] = mapped_column(String(32), default="")
    mime_type: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    batch: Mapped[str] = mapped_column(String(64))
    process_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    process_rule_id: Mapped[str] = mapped_column(String(36), default=new_id)
    created_from: Mapped[str] = mapped_column(String(32), default="api")
    doc_form: Mapped[str] = mapped_column(String(32), default="text_model")
    doc_language: Mapped[str] = mapped_column(String(64), default="English")
    doc_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    doc_metadata: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    indexing_status: Mapped[str] = mapped_column(String(16), default="waiting")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    processing_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    parsing_completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cleaning_completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    splitting_completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    indexing_latency: Mapped[float | None] = mapped_column(Float, nullable=True)
    ingest_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ingest_heartbeat: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class DatasetSegment(Base):
    """A chunk of a document, the unit that is indexed and retrieved."""

    __tablename__ = "dataset_segments"
    __table_args__ = (Index(None, "document_id", "position"),)
    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    document_id: Mapped[str] = _parent("dataset_documents.id")
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    index_node_hash: Mapped[str] = mapped_column(String(64), default="")
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # waiting (written, not yet in the index) | completed | error
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    indexing_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class DatasetMetadataField(Base):
    """A custom metadata field of a dataset (`string`, `number` or `time`)."""

    __tablename__ = "dataset_metadata_fields"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)
    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = _parent("datasets.id")
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()


class KnowledgeTag(Base):
    """A knowledge tag (Dify's tags of type `knowledge`)."""

    __tablename__ = "knowledge_tags"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = _created()


class KnowledgeTagBinding(Base):
    __tablename__ = "knowledge_tag_bindings"
    tag_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge_tags.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = _created()


class AppDatasetRef(Base):
    """How an imported app's dataset reference (as written in its DSL) maps to a dataset.

    `dataset_id` is a plain column: deleting the dataset leaves the mapping, and a run
    that needs it then fails with a message naming the reference.
    """

    __tablename__ = "app_dataset_refs"
    app_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(String(255), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = _created()
