"""`/apps/annotations` (list, create, update, delete) and `/apps/annotation-reply/...`.

Shapes are Dify's: an annotation is `{id, question, answer, hit_count, created_at}`, the
list adds `has_more`, `limit`, `total` and `page`, create answers 201 and delete 204 with
no body. Enabling reply starts a job and answers `{job_id, job_status}` at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep, optional_json
from chatflow.api.errors import validation_message
from chatflow.errors import InvalidRequest, NotFound
from chatflow.services.annotations import ReplySettings
from chatflow.store.models import Annotation, AnnotationJob

router = APIRouter()


class AnnotationBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str
    answer: str


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    score_threshold: float = Field(ge=0, le=1)
    embedding_provider_name: str | None = None
    embedding_model_name: str | None = None


def annotation_item(row: Annotation) -> dict[str, Any]:
    return {
        "id": row.id,
        "question": row.question,
        "answer": row.answer,
        "hit_count": row.hit_count,
        "created_at": int(row.created_at.timestamp()),
    }


def _int(value: str | None, default: int) -> int:
    """Dify reads these with `type=int`: a missing or malformed value is the default."""
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _annotation_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound("Annotation not found.") from None


@router.get("/apps/annotations")
async def list_annotations(
    app: AppDep,
    services: ServicesDep,
    page: str | None = None,
    limit: str | None = None,
    keyword: str | None = None,
) -> JSONResponse:
    result = await services.annotations.list_page(
        app.id, page=_int(page, 1), limit=_int(limit, 20), keyword=keyword
    )
    return JSONResponse(
        {
            "data": [annotation_item(row) for row in result.items],
            "has_more": result.has_more,
            "limit": result.limit,
            "total": result.total,
            "page": result.page,
        }
    )


@router.post("/apps/annotations")
async def create_annotation(
    body: AnnotationBody, app: AppDep, services: ServicesDep
) -> JSONResponse:
    row = await services.annotations.create(app.id, question=body.question, answer=body.answer)
    return JSONResponse(annotation_item(row), status_code=201)


@router.put("/apps/annotations/{annotation_id}")
async def update_annotation(
    annotation_id: str, body: AnnotationBody, app: AppDep, services: ServicesDep
) -> JSONResponse:
    row = await services.annotations.update(
        app.id, _annotation_id(annotation_id), question=body.question, answer=body.answer
    )
    return JSONResponse(annotation_item(row))


@router.delete("/apps/annotations/{annotation_id}")
async def delete_annotation(annotation_id: str, app: AppDep, services: ServicesDep) -> Response:
    await services.annotations.delete(app.id, _annotation_id(annotation_id))
    return Response(status_code=204)


def _job(job: AnnotationJob) -> dict[str, Any]:
    return {"job_id": job.id, "job_status": job.status}


@router.post("/apps/annotation-reply/{action}")
async def annotation_reply(
    action: str, request: Request, app: AppDep, services: ServicesDep
) -> JSONResponse:
    """Start an enable/disable job; enabling needs `score_threshold` (0..1)."""
    if action not in ("enable", "disable"):
        raise InvalidRequest("Unsupported annotation reply action")
    data = await optional_json(request)
    settings = None
    if action == "enable":
        try:
            body = ReplyBody.model_validate(data)
        except ValidationError as exc:
            raise InvalidRequest(validation_message(exc.errors())) from None
        settings = ReplySettings(
            score_threshold=body.score_threshold,
            embedding_provider_name=body.embedding_provider_name or "",
            embedding_model_name=body.embedding_model_name or "",
        )
        job = await services.annotations.start_job(app.id, "enable", settings)
    else:
        job = await services.annotations.start_job(app.id, "disable", None)
    return JSONResponse(_job(job))


@router.get("/apps/annotation-reply/{action}/status/{job_id}")
async def annotation_reply_status(
    action: str, job_id: str, app: AppDep, services: ServicesDep
) -> JSONResponse:
    job = await services.annotations.job(app.id, action, job_id)
    return JSONResponse({**_job(job), "error_msg": job.error or ""})
