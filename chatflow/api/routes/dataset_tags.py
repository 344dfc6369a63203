"""Knowledge API: knowledge tags and their bindings to datasets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api import knowledge_serializers as ser
from chatflow.api._json import JSONResponse
from chatflow.api.knowledge_deps import KnowledgeDep, json_object, str_field, uuid_path
from chatflow.errors import InvalidRequest

router = APIRouter(tags=["Knowledge: tags"])


def _tag_ids(body: dict[str, object]) -> list[str]:
    ids = body.get("tag_ids")
    if not ids and isinstance(body.get("tag_id"), str):
        ids = [body["tag_id"]]  # the older single-tag form
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("Tag IDs is required.")
    return [str(i) for i in ids]


@router.get("/datasets/tags")
async def list_tags(knowledge: KnowledgeDep) -> JSONResponse:
    return JSONResponse([ser.tag(t, count) for t, count in await knowledge.tags.list()])


@router.post("/datasets/tags")
async def create_tag(request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    body = await json_object(request)
    tag = await knowledge.tags.create(str_field(body, "name", required=True) or "")
    return JSONResponse(ser.tag(tag, 0))


@router.patch("/datasets/tags")
async def rename_tag(request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    body = await json_object(request)
    tag, count = await knowledge.tags.rename(
        str_field(body, "tag_id", required=True) or "",
        str_field(body, "name", required=True) or "",
    )
    return JSONResponse(ser.tag(tag, count))


@router.delete("/datasets/tags", status_code=204)
async def delete_tag(request: Request, knowledge: KnowledgeDep) -> Response:
    body = await json_object(request)
    await knowledge.tags.delete(str_field(body, "tag_id", required=True) or "")
    return Response(status_code=204)


@router.post("/datasets/tags/binding", status_code=204)
async def bind(request: Request, knowledge: KnowledgeDep) -> Response:
    body = await json_object(request)
    target = str_field(body, "target_id", required=True) or ""
    await knowledge.tags.bind(uuid_path(target), _tag_ids(body))
    return Response(status_code=204)


@router.post("/datasets/tags/unbinding", status_code=204)
async def unbind(request: Request, knowledge: KnowledgeDep) -> Response:
    body = await json_object(request)
    target = str_field(body, "target_id", required=True) or ""
    await knowledge.tags.unbind(uuid_path(target), _tag_ids(body))
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}/tags")
async def dataset_tags(dataset_id: str, knowledge: KnowledgeDep) -> JSONResponse:
    tags = await knowledge.tags.of_dataset(uuid_path(dataset_id))
    return JSONResponse({"data": [{"id": t.id, "name": t.name} for t in tags], "total": len(tags)})
