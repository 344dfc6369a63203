"""A workflow app's site under `/api`: run it, stop it, reconnect, and look at past runs.

Dify's web app API has `POST /workflows/run` (always streaming) and
`POST /workflows/tasks/{task_id}/stop`; as with the chat routes (`web_api.py`), the app and
the end user come from the site's session, never from the request, so a browser stops,
resumes and reads only its own runs. Listing past runs (`GET /workflows/runs`, newest
first, `page`/`limit`) and reading one with its node trace are this server's additions: a
workflow page should not forget what it ran on reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from chatflow.api import serializers
from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep, int_param, json_body
from chatflow.api.resumable import encode_turn, wants_ids
from chatflow.api.routes.streams import resume_stream
from chatflow.api.routes.web_api import WebUserDep
from chatflow.api.sse import sse_response
from chatflow.api.workflow_sse import WorkflowStreamEncoder
from chatflow.services.run_slots import web_caller
from chatflow.services.workflows import WorkflowRequest
from chatflow.store.models import WorkflowRun

router = APIRouter(prefix="/api", include_in_schema=False)


class WebWorkflowRunBody(BaseModel):
    """Dify's web `WorkflowRunPayload`: the inputs and the run's files (`user` is the
    session's, `response_mode` is always streaming)."""

    model_config = ConfigDict(extra="ignore")
    inputs: dict[str, Any]
    files: list[Any] = Field(default_factory=list)

    @field_validator("files", mode="before")
    @classmethod
    def _null_is_none(cls, value: Any) -> Any:
        return [] if value is None else value


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _run(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "inputs": run.inputs or {},
        "outputs": run.outputs or {},
        "error": run.error,
        "elapsed_time": run.elapsed_time,
        "total_tokens": run.total_tokens,
        "total_steps": run.total_steps,
        "created_at": _ts(run.created_at),
        "finished_at": _ts(run.finished_at),
    }


@router.post("/workflows/run")
async def run_workflow(request: Request, who: WebUserDep, services: ServicesDep) -> Response:
    """Run the site's workflow app as the session's end user; always streaming."""
    body = await json_body(request, WebWorkflowRunBody)
    services.admission.check()
    handle = await services.workflows.start(
        who.app,
        WorkflowRequest(user=who.user, inputs=body.inputs, files=body.files),
        caller=web_caller(who.user),
    )
    info = handle.info
    items = services.streams.subscribe(info.task_id)
    encoder = WorkflowStreamEncoder(info)
    interval = services.settings.ping_interval
    return sse_response(
        encode_turn(items, encoder, ping_interval=interval, with_ids=wants_ids(request))
    )


@router.post("/workflows/tasks/{task_id}/stop")
async def stop_workflow(task_id: str, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    """Stop one of this user's runs; success whatever happened, as Dify answers."""
    await services.workflows.stop_own(who.app, task_id, who.user)
    return JSONResponse({"result": "success"})


@router.get("/workflows/tasks/{task_id}/events")
async def resume(
    task_id: str,
    who: WebUserDep,
    services: ServicesDep,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> Response:
    """Reconnect to one of this user's running workflow runs (the resumable stream)."""
    return await resume_stream(services, who.app, task_id, who.user, last_event_id, workflow=True)


@router.get("/workflows/runs")
async def runs(
    who: WebUserDep, services: ServicesDep, page: str | None = None, limit: str | None = None
) -> JSONResponse:
    result = await services.workflows.user_runs(
        who.app, who.user, page=int_param(page, "page", 1), limit=int_param(limit, "limit", 20)
    )
    return JSONResponse(
        {
            "page": result.page,
            "limit": result.limit,
            "total": result.total,
            "has_more": result.has_more,
            "data": [_run(run) for run in result.items],
        }
    )


@router.get("/workflows/runs/{run_id}")
async def run_detail(run_id: str, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    """One of this user's runs; its node trace too where the site shows workflow steps."""
    run, nodes = await services.workflows.user_run(who.app, who.user, run_id)
    shown = who.site.show_workflow_steps
    return JSONResponse(
        {**_run(run), "nodes": [serializers.trace_node(n) for n in nodes] if shown else None}
    )
