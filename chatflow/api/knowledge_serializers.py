"""Knowledge rows in Dify's Knowledge API shapes (field names, types, nulls as Dify's).

Timestamps are integer seconds. A document with no metadata values has
`doc_metadata: null`, as Dify 1.x marshals it (clients such as dify-oapi2 expect null or
a list).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chatflow.services.knowledge import (
    BatchStatus,
    DatasetView,
    DocumentStats,
    RetrievedChunk,
    effective_retrieval,
)
from chatflow.services.knowledge_rows import BUILT_IN_FIELDS, built_in_values, display_status
from chatflow.store.knowledge_models import (
    Dataset,
    DatasetDocument,
    DatasetMetadataField,
    DatasetSegment,
    KnowledgeTag,
)

CREATED_BY = "api"  # there are no console accounts: everything is created through the API


def _ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def dataset(view: DatasetView) -> dict[str, Any]:
    row = view.row
    retrieval = effective_retrieval(row)
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "provider": row.provider,
        "permission": row.permission,
        "data_source_type": row.data_source_type,
        "indexing_technique": row.indexing_technique,
        "app_count": view.app_count,
        "document_count": view.document_count,
        "word_count": view.word_count,
        "created_by": CREATED_BY,
        "author_name": CREATED_BY,
        "created_at": _ts(row.created_at),
        "updated_by": CREATED_BY,
        "updated_at": _ts(row.updated_at),
        "embedding_model": row.embedding_model,
        "embedding_model_provider": row.embedding_model_provider,
        "embedding_available": True,
        "retrieval_model_dict": _retrieval_dict(retrieval),
        "summary_index_setting": None,
        "tags": [{"id": t.id, "name": t.name, "type": "knowledge"} for t in view.tags],
        "doc_form": row.doc_form,
        "external_knowledge_info": {
            "external_knowledge_id": None,
            "external_knowledge_api_id": None,
            "external_knowledge_api_name": None,
            "external_knowledge_api_endpoint": None,
        },
        "external_retrieval_model": None,
        "doc_metadata": [{"id": f.id, "name": f.name, "type": f.type} for f in view.fields],
        "built_in_field_enabled": row.built_in_field_enabled,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": None,
        "is_published": False,
        "total_documents": view.document_count,
        "total_available_documents": view.available_documents,
        "enable_api": True,
        "is_multimodal": False,
    }


def _retrieval_dict(raw: dict[str, Any]) -> dict[str, Any]:
    reranking = raw.get("reranking_model") or {}
    weights = raw.get("weights")
    return {
        "search_method": raw.get("search_method"),
        "reranking_enable": bool(raw.get("reranking_enable")),
        "reranking_mode": raw.get("reranking_mode"),
        "reranking_model": {
            "reranking_provider_name": reranking.get("reranking_provider_name", ""),
            "reranking_model_name": reranking.get("reranking_model_name", ""),
        },
        "weights": weights if isinstance(weights, dict) else None,
        "top_k": raw.get("top_k"),
        "score_threshold_enabled": bool(raw.get("score_threshold_enabled")),
        "score_threshold": raw.get("score_threshold"),
    }


def page(
    items: Sequence[dict[str, Any]], *, has_more: bool, limit: int, total: int, page: int
) -> dict[str, Any]:
    return {"data": list(items), "has_more": has_more, "limit": limit, "total": total, "page": page}


def _data_source_info(document: DatasetDocument) -> dict[str, Any]:
    return {"upload_file_id": document.file_id}


def _data_source_detail(document: DatasetDocument) -> dict[str, Any]:
    return {
        "upload_file": {
            "id": document.file_id,
            "name": document.name,
            "size": document.size,
            "extension": document.extension,
            "mime_type": document.mime_type,
            "created_by": CREATED_BY,
            "created_at": _ts(document.created_at),
        }
    }


def metadata_details(
    document: DatasetDocument,
    dataset_row: Dataset | None,
    fields: Sequence[DatasetMetadataField] = (),
) -> list[dict[str, Any]] | None:
    """Dify's `doc_metadata_details`: None when the document has no values."""
    values = document.doc_metadata or {}
    if not values:
        return None
    types = {f.name: (f.id, f.type) for f in fields}
    details = [
        {
            "id": types.get(name, ("", "string"))[0],
            "name": name,
            "type": types.get(name, ("", "string"))[1],
            "value": value,
        }
        for name, value in values.items()
    ]
    if dataset_row is not None and dataset_row.built_in_field_enabled:
        built_in = built_in_values(document)
        details.extend(
            {"id": "built-in", "name": name, "type": kind, "value": built_in[name]}
            for name, kind in BUILT_IN_FIELDS
        )
    return details


def document(
    row: DatasetDocument,
    dataset_row: Dataset | None = None,
    fields: Sequence[DatasetMetadataField] = (),
) -> dict[str, Any]:
    """A document in lists and create/update answers (Dify's `document_fields`)."""
    return {
        "id": row.id,
        "position": row.position,
        "data_source_type": row.data_source_type,
        "data_source_info": _data_source_info(row),
        "data_source_detail_dict": _data_source_detail(row),
        "dataset_process_rule_id": row.process_rule_id,
        "name": row.name,
        "created_from": row.created_from,
        "created_by": CREATED_BY,
        "created_at": _ts(row.created_at),
        "tokens": row.tokens,
        "indexing_status": row.indexing_status,
        "error": row.error,
        "enabled": row.enabled,
        "disabled_at": _ts(row.disabled_at),
        "disabled_by": CREATED_BY if row.disabled_at else None,
        "archived": row.archived,
        "display_status": display_status(row),
        "word_count": row.word_count,
        "hit_count": 0,
        "doc_form": row.doc_form,
        "doc_metadata": metadata_details(row, dataset_row, fields),
    }


def document_detail(
    row: DatasetDocument,
    dataset_row: Dataset,
    stats: DocumentStats,
    fields: Sequence[DatasetMetadataField],
    metadata: str,
) -> dict[str, Any]:
    """GET /documents/{id} with `metadata=all|only|without`, as Dify answers it."""
    details = metadata_details(row, dataset_row, fields)
    if metadata == "only":
        return {"id": row.id, "doc_type": row.doc_type, "doc_metadata": details}
    body: dict[str, Any] = {
        "id": row.id,
        "position": row.position,
        "data_source_type": row.data_source_type,
        "data_source_info": _data_source_detail(row),
        "dataset_process_rule_id": row.process_rule_id,
        "dataset_process_rule": dataset_row.process_rule or {},
        "document_process_rule": row.process_rule or {},
        "name": row.name,
        "created_from": row.created_from,
        "created_by": CREATED_BY,
        "created_at": _ts(row.created_at),
        "tokens": row.tokens,
        "indexing_status": row.indexing_status,
        "completed_at": _ts(row.completed_at),
        "updated_at": _ts(row.updated_at),
        "indexing_latency": row.indexing_latency,
        "error": row.error,
        "enabled": row.enabled,
        "disabled_at": _ts(row.disabled_at),
        "disabled_by": CREATED_BY if row.disabled_at else None,
        "archived": row.archived,
        "segment_count": stats.segment_count,
        "average_segment_length": (
            stats.characters // stats.segment_count if stats.segment_count else 0
        ),
        "hit_count": stats.hit_count,
        "display_status": display_status(row),
        "doc_form": row.doc_form,
        "doc_language": row.doc_language,
    }
    if metadata == "all":
        body["doc_type"] = row.doc_type
        body["doc_metadata"] = details
    return body


def batch_status(item: BatchStatus) -> dict[str, Any]:
    row = item.document
    return {
        "id": row.id,
        "indexing_status": row.indexing_status,
        "processing_started_at": _ts(row.processing_started_at),
        "parsing_completed_at": _ts(row.parsing_completed_at),
        "cleaning_completed_at": _ts(row.cleaning_completed_at),
        "splitting_completed_at": _ts(row.splitting_completed_at),
        "completed_at": _ts(row.completed_at),
        "paused_at": None,
        "error": row.error,
        "stopped_at": None,
        "completed_segments": item.completed_segments,
        "total_segments": item.total_segments,
    }


def segment(row: DatasetSegment) -> dict[str, Any]:
    return {
        "id": row.id,
        "position": row.position,
        "document_id": row.document_id,
        "content": row.content,
        "sign_content": row.content,
        "answer": row.answer,
        "word_count": row.word_count,
        "tokens": row.tokens,
        "keywords": list(row.keywords or []),
        "index_node_id": row.id,
        "index_node_hash": row.index_node_hash,
        "hit_count": row.hit_count,
        "enabled": row.enabled,
        "disabled_at": _ts(row.disabled_at),
        "disabled_by": CREATED_BY if row.disabled_at else None,
        "status": row.status,
        "created_by": CREATED_BY,
        "created_at": _ts(row.created_at),
        "updated_at": _ts(row.updated_at),
        "updated_by": CREATED_BY,
        "indexing_at": _ts(row.indexing_at),
        "completed_at": _ts(row.completed_at),
        "error": row.error,
        "stopped_at": None,
        "child_chunks": [],
    }


def record(hit: RetrievedChunk) -> dict[str, Any]:
    """One retrieve/hit-testing record."""
    body = segment(hit.segment)
    body["document"] = {
        "id": hit.document.id,
        "data_source_type": hit.document.data_source_type,
        "name": hit.document.name,
        "doc_type": hit.document.doc_type,
        "doc_metadata": metadata_details(hit.document, hit.dataset),
    }
    return {
        "segment": body,
        "child_chunks": [],
        "score": hit.score,
        "tsne_position": None,
        "files": [],
        "summary": None,
    }


def tag(row: KnowledgeTag, binding_count: int) -> dict[str, Any]:
    # Dify sends binding_count as a string.
    return {
        "id": row.id,
        "name": row.name,
        "type": "knowledge",
        "binding_count": str(binding_count),
    }


def metadata_field(row: DatasetMetadataField) -> dict[str, Any]:
    return {"id": row.id, "type": row.type, "name": row.name}
