"""Workflow runs: run (blocking/streaming) and stop for workflow apps, run detail, logs."""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import (
    AppDep,
    ServicesDep,
    blank_to_none,
    int_param,
    optional_json,
    run_caller,
)
from chatflow.api.resumable import encode_turn, wants_ids
from chatflow.api.sse import sse_response
from chatflow.api.workflow_sse import WorkflowStreamEncoder, blocking_payload
from chatflow.services.workflows import LogQuery, WorkflowRequest
from chatflow.store.runs import RunLog

router = APIRouter(tags=["Workflows"])


class WorkflowRunBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    response_mode: Literal["streaming", "blocking"] = "blocking"
    user: str | None = None
    files: list[Any] = Field(default_factory=list)

    @field_validator("inputs", "files", "response_mode", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: Any) -> Any:
        if value is None:
            return {"inputs": {}, "files": [], "response_mode": "blocking"}[info.field_name]
        return value


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


@router.post(
    "/workflows/run",
    summary="Run Workflow",
    description=(
        "Run a workflow-mode app (Dify's Workflow App API). `response_mode: streaming` "
        "returns Server-Sent Events (`workflow_started`, `node_started`, `node_finished`, "
        "`text_chunk`, ..., `workflow_finished`); `blocking` returns `{task_id, "
        "workflow_run_id, data: {id, workflow_id, status, outputs, error, elapsed_time, "
        "total_tokens, total_steps, created_at, finished_at}}`. Other app modes get 400 "
        "`not_workflow_app`."
    ),
    response_description="The finished run (blocking) or an event stream (streaming).",
)
async def run_workflow(
    body: WorkflowRunBody, request: Request, app: AppDep, services: ServicesDep
) -> Response:
    services.admission.check()
    handle = await services.workflows.start(
        app,
        WorkflowRequest(user=body.user, inputs=body.inputs, files=body.files),
        caller=run_caller(request),
    )
    info = handle.info
    if body.response_mode == "streaming":
        items = services.streams.subscribe(info.task_id)
        interval = services.settings.ping_interval
        encoder = WorkflowStreamEncoder(info)
        with_ids = wants_ids(request)  # resumable streams: `id:` lines only on opt-in
        return sse_response(encode_turn(items, encoder, ping_interval=interval, with_ids=with_ids))
    end = await handle.wait()
    return JSONResponse(blocking_payload(info, end))


@router.post(
    "/workflows/tasks/{task_id}/stop",
    summary="Stop Workflow Task",
    description=(
        "Stop a running workflow task (the `task_id` of its stream). Always answers "
        '`{"result": "success"}`, as Dify does; the run ends `stopped` and is saved.'
    ),
)
async def stop_workflow(
    task_id: str, request: Request, app: AppDep, services: ServicesDep
) -> JSONResponse:
    await optional_json(request)  # the body (`{"user": ...}`) may be empty; not checked
    await services.workflows.stop(app, task_id)
    return JSONResponse({"result": "success"})


@router.get("/workflows/run/{workflow_run_id}")
async def workflow_run_detail(
    workflow_run_id: str, app: AppDep, services: ServicesDep
) -> JSONResponse:
    """A run's record; `inputs` and `outputs` are JSON strings, as Dify stores them."""
    run = await services.workflows.detail(app, workflow_run_id)
    return JSONResponse(
        {
            "id": run.id,
            "workflow_id": run.workflow_id,
            "status": run.status,
            "inputs": json.dumps(run.inputs or {}),
            "outputs": json.dumps(run.outputs or {}),
            "error": run.error,
            "total_steps": run.total_steps,
            "total_tokens": run.total_tokens,
            "created_at": _ts(run.created_at),
            "finished_at": _ts(run.finished_at),
            "elapsed_time": run.elapsed_time,
        }
    )


def _log_item(log: RunLog) -> dict[str, Any]:
    run, user = log.run, log.end_user
    return {
        # Dify keeps a separate app-log row per run; its id is derived from the run's.
        "id": str(uuid5(NAMESPACE_URL, f"workflow-app-log:{run.id}")),
        "workflow_run": {
            "id": run.id,
            "version": run.version or "",
            "status": run.status,
            "triggered_from": run.triggered_from,
            "error": run.error,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_at": _ts(run.created_at),
            "finished_at": _ts(run.finished_at),
            "exceptions_count": run.exceptions_count,
        },
        "details": None,
        "created_from": "service-api",
        "created_by_role": "end_user",
        "created_by_account": None,
        "created_by_end_user": (
            {
                "id": user.id,
                "type": user.type,
                "is_anonymous": user.is_anonymous,
                "session_id": user.session_id,
            }
            if user is not None
            else None
        ),
        "created_at": _ts(run.created_at),
    }


@router.get("/workflows/logs")
async def workflow_logs(
    app: AppDep,
    services: ServicesDep,
    keyword: str | None = None,
    status: str | None = None,
    page: str | None = None,
    limit: str | None = None,
    created_at__before: str | None = None,
    created_at__after: str | None = None,
    created_by_end_user_session_id: str | None = None,
    created_by_account: str | None = None,
) -> JSONResponse:
    result = await services.workflows.logs(
        app,
        LogQuery(
            status=blank_to_none(status),
            keyword=blank_to_none(keyword),
            created_at__before=blank_to_none(created_at__before),
            created_at__after=blank_to_none(created_at__after),
            created_by_end_user_session_id=blank_to_none(created_by_end_user_session_id),
            created_by_account=blank_to_none(created_by_account),
            page=int_param(page, "page", 1),
            limit=int_param(limit, "limit", 20),
        ),
    )
    return JSONResponse(
        {
            "page": result.page,
            "limit": result.limit,
            "total": result.total,
            "has_more": result.has_more,
            "data": [_log_item(item) for item in result.items],
        }
    )
