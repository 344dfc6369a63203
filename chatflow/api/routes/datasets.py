"""Knowledge API: datasets, document status batches, retrieval (`/retrieve`, `/hit-testing`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api import knowledge_serializers as ser
from chatflow.api._json import JSONResponse
from chatflow.api.knowledge_deps import KnowledgeDep, int_arg, json_object, str_field, uuid_path
from chatflow.errors import InvalidRequest

router = APIRouter(tags=["Knowledge: datasets"])


@router.get("/datasets")
async def list_datasets(request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    """Datasets, newest first; `page`, `limit` (at most 100), `keyword`, `tag_ids`."""
    limit = int_arg(request, "limit", 20, high=100)
    page = int_arg(request, "page", 1)
    found = await knowledge.list_datasets(
        page=page,
        limit=limit,
        keyword=request.query_params.get("keyword") or None,
        # Repeated (`tag_ids=a&tag_ids=b`, as Dify reads them) or comma-separated.
        tag_ids=[t for raw in request.query_params.getlist("tag_ids") for t in raw.split(",") if t],
    )
    return JSONResponse(
        ser.page(
            [ser.dataset(v) for v in found.items],
            has_more=found.has_more,
            limit=limit,
            total=found.total,
            page=page,
        )
    )


@router.post("/datasets")
async def create_dataset(request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    """An empty dataset (409 `dataset_name_duplicate` for a name in use)."""
    body = await json_object(request)
    name = str_field(body, "name", required=True) or ""
    view = await knowledge.create_dataset(
        name,
        description=str_field(body, "description") or "",
        indexing_technique=str_field(body, "indexing_technique"),
        permission=str_field(body, "permission"),
        retrieval_model=_object(body, "retrieval_model"),
        embedding_model=str_field(body, "embedding_model"),
        embedding_model_provider=str_field(body, "embedding_model_provider"),
    )
    return JSONResponse(ser.dataset(view))


@router.get("/datasets/{dataset_id}")
async def get_dataset(dataset_id: str, knowledge: KnowledgeDep) -> JSONResponse:
    return JSONResponse(ser.dataset(await knowledge.get_dataset(uuid_path(dataset_id))))


@router.patch("/datasets/{dataset_id}")
async def update_dataset(
    dataset_id: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """Only the fields given change (`name`, `description`, `indexing_technique`,
    `permission`, `retrieval_model`, `embedding_model`, `embedding_model_provider`)."""
    body = await json_object(request)
    for name in ("name", "description", "indexing_technique", "permission"):
        str_field(body, name)
    _object(body, "retrieval_model")
    view = await knowledge.update_dataset(uuid_path(dataset_id), body)
    return JSONResponse(ser.dataset(view))


@router.delete("/datasets/{dataset_id}", status_code=204)
async def delete_dataset(dataset_id: str, knowledge: KnowledgeDep) -> Response:
    await knowledge.delete_dataset(uuid_path(dataset_id))
    return Response(status_code=204)


@router.patch("/datasets/{dataset_id}/documents/status/{action}")
async def documents_status(
    dataset_id: str, action: str, request: Request, knowledge: KnowledgeDep
) -> JSONResponse:
    """Enable, disable, archive or un_archive the documents in `document_ids`."""
    body = await json_object(request)
    ids = body.get("document_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("document_ids: must be a list of strings")
    await knowledge.set_documents_status(uuid_path(dataset_id), action, ids)
    return JSONResponse({"result": "success"})


async def _retrieve(dataset_id: str, request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    body = await json_object(request)
    query = body.get("query")
    if not isinstance(query, str):
        raise InvalidRequest("query: Field required")
    retrieval_model = _object(body, "retrieval_model")
    hits = await knowledge.retrieve(uuid_path(dataset_id), query, retrieval_model)
    return JSONResponse({"query": {"content": query}, "records": [ser.record(h) for h in hits]})


@router.post("/datasets/{dataset_id}/retrieve")
async def retrieve(dataset_id: str, request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    """Search the dataset: `query` (at most 250 characters) and an optional
    `retrieval_model` (search_method, top_k, score_threshold(_enabled), reranking_enable,
    reranking_mode, reranking_model, weights, metadata_filtering_conditions)."""
    return await _retrieve(dataset_id, request, knowledge)


@router.post("/datasets/{dataset_id}/hit-testing")
async def hit_testing(dataset_id: str, request: Request, knowledge: KnowledgeDep) -> JSONResponse:
    """The same search under its older name."""
    return await _retrieve(dataset_id, request, knowledge)


def _object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name}: Input should be a valid dictionary")
    return value


@router.get("/workspaces/current/models/model-types/text-embedding")
async def embedding_models(knowledge: KnowledgeDep) -> JSONResponse:
    """The embedding model datasets are indexed with (this server has one)."""
    provider, model = knowledge.embedding_model
    label = {"en_US": model, "zh_Hans": model}
    return JSONResponse(
        {
            "data": [
                {
                    "provider": provider,
                    "label": {"en_US": provider, "zh_Hans": provider},
                    "icon_small": None,
                    "icon_large": None,
                    "status": "active",
                    "models": [
                        {
                            "model": model,
                            "label": label,
                            "model_type": "text-embedding",
                            "features": None,
                            "fetch_from": "predefined-model",
                            "model_properties": {"context_size": 512},
                            "deprecated": False,
                            "status": "active",
                            "load_balancing_enabled": False,
                        }
                    ],
                }
            ]
        }
    )
