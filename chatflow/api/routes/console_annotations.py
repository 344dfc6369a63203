"""The console's annotations of an app (`/console/api/apps/{app_id}/annotations`): list
(paged, searched), create, edit, delete, and the annotation-reply switch.

The same service as the Service API's `/apps/annotations` (and the same shapes), reached
with the operator's session instead of the app's key.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep, int_param, json_body
from chatflow.api.routes.annotations import annotation_item
from chatflow.api.routes.console_api import OperatorDep
from chatflow.errors import NotFound
from chatflow.services.annotations import ReplySettings

router = APIRouter(prefix="/console/api/apps/{app_id}", include_in_schema=False)

TEXT_MAX = 100_000


class AnnotationBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str = Field(min_length=1, max_length=TEXT_MAX)
    answer: str = Field(min_length=1, max_length=TEXT_MAX)


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool
    score_threshold: float = Field(default=0.9, ge=0, le=1)


def _annotation_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound("Annotation not found.") from None


@router.get("/annotations")
async def list_annotations(
    app_id: str,
    who: OperatorDep,
    services: ServicesDep,
    page: str | None = None,
    limit: str | None = None,
    keyword: str | None = None,
) -> JSONResponse:
    await services.console.require_app(app_id)
    found = await services.annotations.list_page(
        app_id,
        page=max(1, int_param(page, "page", 1)),
        limit=int_param(limit, "limit", 20),
        keyword=(keyword or "").strip()[:200] or None,
    )
    return JSONResponse(
        {"data": [annotation_item(row) for row in found.items], "has_more": found.has_more,
         "limit": found.limit, "total": found.total, "page": found.page}
    )  # fmt: skip


@router.post("/annotations")
async def create_annotation(
    app_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    body = await json_body(request, AnnotationBody)
    await services.console.require_app(app_id)
    row = await services.annotations.create(app_id, question=body.question, answer=body.answer)
    return JSONResponse(annotation_item(row), status_code=201)


@router.put("/annotations/{annotation_id}")
async def update_annotation(
    app_id: str, annotation_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    body = await json_body(request, AnnotationBody)
    await services.console.require_app(app_id)
    row = await services.annotations.update(
        app_id, _annotation_id(annotation_id), question=body.question, answer=body.answer
    )
    return JSONResponse(annotation_item(row))


@router.delete("/annotations/{annotation_id}")
async def delete_annotation(
    app_id: str, annotation_id: str, who: OperatorDep, services: ServicesDep
) -> Response:
    await services.console.require_app(app_id)
    await services.annotations.delete(app_id, _annotation_id(annotation_id))
    return Response(status_code=204)


@router.get("/annotation-reply")
async def reply_state(app_id: str, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse(await services.console.annotation_reply(app_id))


@router.put("/annotation-reply")
async def set_reply(
    app_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    """Start the enable (embeds every annotation) or disable job; poll its status."""
    body = await json_body(request, ReplyBody)
    await services.console.require_app(app_id)
    if body.enabled:
        job = await services.annotations.start_job(
            app_id, "enable", ReplySettings(score_threshold=body.score_threshold,
                                            embedding_provider_name="", embedding_model_name="")
        )  # fmt: skip
    else:
        job = await services.annotations.start_job(app_id, "disable", None)
    return JSONResponse({"job_id": job.id, "job_status": job.status, "action": job.action})


@router.get("/annotation-reply/{action}/status/{job_id}")
async def reply_job(
    app_id: str, action: str, job_id: str, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    job = await services.annotations.job(app_id, action, job_id)
    return JSONResponse({"job_id": job.id, "job_status": job.status, "error_msg": job.error or ""})
