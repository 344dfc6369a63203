"""Knowledge API: metadata fields, built-in fields, and documents' metadata values."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api import knowledge_serializers as ser
from chatflow.api._json import JSONResponse
from chatflow.api.knowledge_deps import KnowledgeDep, json_object, str_field, uuid_path
from chatflow.errors import InvalidRequest
from chatflow.services.knowledge import KnowledgeError
from chatflow.services.knowledge_rows import BUILT_IN_FIELDS

router = APIRouter(tags=["Knowledge: metadata"])


@router.post("/datasets/{dataset_id}/metadata", status_code=201)
async def create_field(dataset_id: str, request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    """A metadata field: `type` (string, number, time) and `name`."""
    body = await json_object(request)
    field = await knowledge.metadata.create_field(
        uuid_path(dataset_id),
        str_field(body, "type", required=True) or "",
        str_field(body, "name", required=True) or "",
    )
    return JSONResponse(ser.metadata_field(field), status_code=201)


@router.get("/datasets/{dataset_id}/metadata")
async def list_fields(dataset_id: str, knowledge: KnowledgeDep) -> JSONResponse:
    dataset, fields = await knowledge.metadata.fields(uuid_path(dataset_id))
    return JSONResponse(
        {
            "doc_metadata": [
                {"id": f.id, "name": f.name, "type": f.type, "count": count} for f, count in fields
            ],
            "built_in_field_enabled": dataset.built_in_field_enabled,
        }
    )


@router.get("/datasets/{dataset_id}/metadata/built-in")
async def built_in_fields(dataset_id: str, knowledge: KnowledgeDep) -> JSONResponse:
    await knowledge.document_dataset(uuid_path(dataset_id))
    return JSONResponse({"fields": [{"name": n, "type": t} for n, t in BUILT_IN_FIELDS]})


@router.post("/datasets/{dataset_id}/metadata/built-in/{action}")
async def toggle_built_in(dataset_id: str, action: str, knowledge: KnowledgeDep) -> JSONResponse:
    if action not in ("enable", "disable"):
        raise KnowledgeError("Invalid action.", code="invalid_action", status=400)
    await knowledge.metadata.set_built_in(uuid_path(dataset_id), action == "enable")
    return JSONResponse({"result": "success"})


@router.patch("/datasets/{dataset_id}/metadata/{metadata_id}")
async def rename_field(
    dataset_id: str, metadata_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    body = await json_object(request)
    field = await knowledge.metadata.rename_field(
        uuid_path(dataset_id), uuid_path(metadata_id), str_field(body, "name", required=True) or ""
    )
    return JSONResponse(ser.metadata_field(field))


@router.delete("/datasets/{dataset_id}/metadata/{metadata_id}", status_code=204)
async def delete_field(dataset_id: str, metadata_id: str, knowledge: KnowledgeDep) -> Response:
    await knowledge.metadata.delete_field(uuid_path(dataset_id), uuid_path(metadata_id))
    return Response(status_code=204)


@router.post("/datasets/{dataset_id}/documents/metadata")
async def set_documents_metadata(
    dataset_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """`operation_data`: [{document_id, metadata_list: [{id, name, value}]}]."""
    body = await json_object(request)
    operations = body.get("operation_data")
    if not isinstance(operations, list):
        raise InvalidRequest("operation_data: Field required")
    await knowledge.metadata.set_document_values(uuid_path(dataset_id), operations)
    return JSONResponse({"result": "success"})
