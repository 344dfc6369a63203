"""Reconnecting to a running (or recently finished) turn's stream: `GET .../events`.

Not part of Dify's API: the resumable-stream extension (see `api/resumable.py`). Any
worker can answer, whichever one runs the turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


def _route(workflow: bool) -> Callable[..., Awaitable[Response]]:
    """The route of one kind of run: the same handler, told which kind it serves."""

    async def resume(
        task_id: str,
        app: AppDep,
        services: ServicesDep,
        user: str | None = Query(default=None, description="The end user that started the run."),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
    ) -> Response:
        return await resume_stream(services, app, task_id, user, last_event_id, workflow=workflow)

    return resume


# (path, summary, operation name, workflow runs?): the name keeps the OpenAPI operation id.
_ROUTES = (
    ("/chat-messages/{task_id}/events", "Resume Chat Message Stream", "resume_chat_stream", False),
    ("/workflows/tasks/{task_id}/events", "Resume Workflow Stream", "resume_workflow_stream", True),
)
for _path, _summary, _name, _workflow in _ROUTES:
    _handler = _route(_workflow)
    _handler.__name__ = _handler.__qualname__ = _name
    router.get(
        _path,
        summary=_summary,
        description=_DESCRIPTION,
        response_description="text/event-stream: the frames after Last-Event-ID, each with `id:`.",
    )(_handler)
