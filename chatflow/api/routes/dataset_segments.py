"""Knowledge API: a document's segments (chunks): list, add, get, update, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api import knowledge_serializers as ser
from chatflow.api._json import JSONResponse
from chatflow.api.knowledge_deps import KnowledgeDep, int_arg, json_object, uuid_path
from chatflow.errors import InvalidRequest

router = APIRouter(tags=["Knowledge: segments"])

_PATH = "/datasets/{dataset_id}/documents/{document_id}/segments"


@router.get(_PATH)
async def list_segments(
    dataset_id: str, document_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """Segments in position order; `page`, `limit`, `status` (repeatable), `keyword`."""
    limit = int_arg(request, "limit", 20, high=100)
    page = int_arg(request, "page", 1)
    document, found = await knowledge.list_segments(
        uuid_path(dataset_id),
        uuid_path(document_id),
        page=page,
        limit=limit,
        statuses=[s for s in request.query_params.getlist("status") if s],
        keyword=request.query_params.get("keyword") or None,
    )
    return JSONResponse(
        {
            "data": [ser.segment(s) for s in found.items],
            "doc_form": document.doc_form,
            "total": found.total,
            "has_more": len(found.items) == limit,
            "limit": limit,
            "page": page,
        }
    )


@router.post(_PATH)
async def create_segments(
    dataset_id: str, document_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """Add `segments` ([{content, answer?, keywords?}]) to a completed document."""
    body = await json_object(request)
    items = body.get("segments")
    if items is None:
        raise InvalidRequest("segments: Field required")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest("segments: must be a list of objects")
    document, segments = await knowledge.create_segments(
        uuid_path(dataset_id), uuid_path(document_id), items
    )
    return JSONResponse({"data": [ser.segment(s) for s in segments], "doc_form": document.doc_form})


@router.get(_PATH + "/{segment_id}")
async def get_segment(
    dataset_id: str, document_id: str, segment_id: str, knowledge: KnowledgeDep
) -> JSONResponse:
    document, segment = await knowledge.get_segment(
        uuid_path(dataset_id), uuid_path(document_id), uuid_path(segment_id)
    )
    return JSONResponse({"data": ser.segment(segment), "doc_form": document.doc_form})


@router.post(_PATH + "/{segment_id}")
async def update_segment(
    dataset_id: str, document_id: str, segment_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """`segment`: {content?, answer?, keywords?, enabled?}; the index follows at once."""
    body = await json_object(request)
    changes = body.get("segment")
    if not isinstance(changes, dict):
        raise InvalidRequest("segment: Field required")
    document, segment = await knowledge.update_segment(
        uuid_path(dataset_id), uuid_path(document_id), uuid_path(segment_id), changes
    )
    return JSONResponse({"data": ser.segment(segment), "doc_form": document.doc_form})


@router.delete(_PATH + "/{segment_id}", status_code=204)
async def delete_segment(
    dataset_id: str, document_id: str, segment_id: str, knowledge: KnowledgeDep
) -> Response:
    await knowledge.delete_segment(
        uuid_path(dataset_id), uuid_path(document_id), uuid_path(segment_id)
    )
    return Response(status_code=204)
