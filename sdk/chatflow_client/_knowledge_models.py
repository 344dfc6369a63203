"""Pydantic models of the Knowledge API's answers (datasets, documents, segments, ...).

As for the chat models, every field is optional and unknown fields are kept.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._models import Model

IndexingTechnique = Literal["high_quality", "economy"]
SearchMethod = Literal["semantic_search", "full_text_search", "hybrid_search", "keyword_search"]
DocumentAction = Literal["enable", "disable", "archive", "un_archive"]
MetadataType = Literal["string", "number", "time"]


class RerankingModel(Model):
    reranking_provider_name: str | None = None
    reranking_model_name: str | None = None


class RetrievalModel(Model):
    """A dataset's (or one search's) retrieval settings, Dify's `retrieval_model`."""

    search_method: str | None = None
    reranking_enable: bool | None = None
    reranking_mode: str | None = None
    reranking_model: RerankingModel | None = None
    weights: dict[str, Any] | None = None
    top_k: int | None = None
    score_threshold_enabled: bool | None = None
    score_threshold: float | None = None


class DatasetTag(Model):
    id: str = ""
    name: str = ""
    type: str = "knowledge"


class DatasetField(Model):
    id: str = ""
    name: str = ""
    type: str = "string"


class Dataset(Model):
    id: str = ""
    name: str = ""
    description: str | None = None
    provider: str | None = None
    permission: str | None = None
    data_source_type: str | None = None
    indexing_technique: str | None = None
    app_count: int = 0
    document_count: int = 0
    word_count: int = 0
    created_at: int | None = None
    updated_at: int | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model_dict: RetrievalModel | None = None
    tags: list[DatasetTag] = Field(default_factory=list)
    doc_form: str | None = None
    doc_metadata: list[DatasetField] = Field(default_factory=list)
    built_in_field_enabled: bool = False


class DatasetList(Model):
    data: list[Dataset] = Field(default_factory=list)
    has_more: bool = False
    limit: int = 20
    total: int = 0
    page: int = 1


class DocumentMetadataValue(Model):
    id: str = ""
    name: str = ""
    type: str = "string"
    value: Any = None


class Document(Model):
    id: str = ""
    position: int | None = None
    data_source_type: str | None = None
    name: str = ""
    created_from: str | None = None
    created_at: int | None = None
    tokens: int | None = None
    indexing_status: str | None = None
    error: str | None = None
    enabled: bool | None = None
    archived: bool | None = None
    display_status: str | None = None
    word_count: int | None = None
    doc_form: str | None = None
    doc_metadata: list[DocumentMetadataValue] | None = None
    segment_count: int | None = None
    completed_at: int | None = None


class DocumentList(Model):
    data: list[Document] = Field(default_factory=list)
    has_more: bool = False
    limit: int = 20
    total: int = 0
    page: int = 1


class CreatedDocument(Model):
    """A create/update answer: the document and the batch to poll."""

    document: Document = Document()
    batch: str = ""


class IndexingStatus(Model):
    id: str = ""
    indexing_status: str = ""
    processing_started_at: int | None = None
    parsing_completed_at: int | None = None
    cleaning_completed_at: int | None = None
    splitting_completed_at: int | None = None
    completed_at: int | None = None
    error: str | None = None
    completed_segments: int = 0
    total_segments: int = 0

    @property
    def done(self) -> bool:
        """Finished: indexed, or failed (see `error`)."""
        return self.indexing_status in ("completed", "error")


class IndexingStatusList(Model):
    data: list[IndexingStatus] = Field(default_factory=list)


class Segment(Model):
    id: str = ""
    position: int | None = None
    document_id: str | None = None
    content: str = ""
    answer: str | None = None
    word_count: int | None = None
    tokens: int | None = None
    keywords: list[str] = Field(default_factory=list)
    hit_count: int | None = None
    enabled: bool | None = None
    status: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    error: str | None = None


class SegmentList(Model):
    data: list[Segment] = Field(default_factory=list)
    doc_form: str | None = None
    has_more: bool = False
    limit: int = 20
    total: int = 0
    page: int = 1


class CreatedSegments(Model):
    data: list[Segment] = Field(default_factory=list)
    doc_form: str | None = None


class SegmentResponse(Model):
    data: Segment = Segment()
    doc_form: str | None = None


class RecordDocument(Model):
    id: str = ""
    data_source_type: str | None = None
    name: str = ""
    doc_type: str | None = None
    doc_metadata: list[DocumentMetadataValue] | None = None


class RecordSegment(Segment):
    document: RecordDocument = RecordDocument()


class RetrievalRecord(Model):
    segment: RecordSegment = RecordSegment()
    score: float = 0.0


class RetrievalQuery(Model):
    content: str = ""


class RetrievalResult(Model):
    query: RetrievalQuery = RetrievalQuery()
    records: list[RetrievalRecord] = Field(default_factory=list)


class MetadataField(Model):
    id: str = ""
    name: str = ""
    type: str = "string"
    count: int | None = None


class MetadataFieldList(Model):
    doc_metadata: list[MetadataField] = Field(default_factory=list)
    built_in_field_enabled: bool = False


class BuiltInField(Model):
    name: str = ""
    type: str = "string"


class BuiltInFields(Model):
    fields: list[BuiltInField] = Field(default_factory=list)


class KnowledgeTag(Model):
    id: str = ""
    name: str = ""
    type: str = "knowledge"
    # Dify sends the count as a string; it is read as a number here.
    binding_count: int = 0


class BoundTags(Model):
    data: list[DatasetTag] = Field(default_factory=list)
    total: int = 0
