"""Reconnecting to a running (or recently finished) turn's stream: `GET .../events`.

Not part of Dify's API: the resumable-stream extension (see `api/resumable.py`). Any
worker can answer, whichever one runs the turn.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from chatflow.api.deps import AppDep, ServicesDep
from chatflow.api.resumable import EventId, encode_resumable
from chatflow.api.sse import ChatStreamEncoder, sse_response
from chatflow.api.workflow_sse import WorkflowStreamEncoder
from chatflow.errors import NotFound
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.stream_items import turn_from_meta

router = APIRouter(tags=["Resumable streams"])

_DESCRIPTION = (
    "Reopen the event stream of a streaming run after a dropped connection (a chatflow "
    "extension; Dify has no such endpoint). Send `Last-Event-ID` with the last `id:` "
    "received (`N-K`); the answer is the same Server-Sent Events stream, every frame after "
    "that id and none before it, then it follows the run live to its terminal frame. "
    "Without `Last-Event-ID` the whole stream is sent again. `id:` lines are sent only to "
    "clients that opted in with `X-Chatflow-Resumable: true` on the request that started "
    "the run. Works on any worker, while the run goes on and for "
    "`CHATFLOW_STREAM_RETENTION_SECONDS` after it ends; afterwards, or for another user's "
    "task, 404 `not_found`."
)


async def resume_stream(
    services: Services,
    app: LoadedApp,
    task_id: str,
    user: str | None,
    last_event_id: str | None,
    *,
    workflow: bool,
) -> Response:
    after = EventId.parse(last_event_id) if last_event_id else None
    meta = await services.streams.meta(task_id)
    turn = turn_from_meta(meta) if meta is not None else None
    if turn is None:
        raise NotFound("Task not found or its stream has expired.")
    app_id, info = turn
    # Scoped like everything else: same app, same user, same kind of run.
    if app_id != app.id or info.user != (user or "") or (info.mode == "workflow") != workflow:
        raise NotFound("Task not found or its stream has expired.")
    encoder = WorkflowStreamEncoder(info) if workflow else ChatStreamEncoder(info)
    items = services.streams.subscribe(task_id)
    interval = services.settings.ping_interval
    return sse_response(encode_resumable(items, encoder, ping_interval=interval, after=after))


@router.get(
    "/chat-messages/{task_id}/events",
    summary="Resume Chat Message Stream",
    description=_DESCRIPTION,
    response_description="text/event-stream: the frames after Last-Event-ID, each with `id:`.",
)
async def resume_chat_stream(
    task_id: str,
    app: AppDep,
    services: ServicesDep,
    user: str | None = Query(default=None, description="The end user that started the run."),
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> Response:
    return await resume_stream(services, app, task_id, user, last_event_id, workflow=False)


@router.get(
    "/workflows/tasks/{task_id}/events",
    summary="Resume Workflow Stream",
    description=_DESCRIPTION,
    response_description="text/event-stream: the frames after Last-Event-ID, each with `id:`.",
)
async def resume_workflow_stream(
    task_id: str,
    app: AppDep,
    services: ServicesDep,
    user: str | None = Query(default=None, description="The end user that started the run."),
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> Response:
    return await resume_stream(services, app, task_id, user, last_event_id, workflow=True)
