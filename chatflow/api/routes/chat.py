"""`POST /chat-messages` (blocking and streaming) and `POST /chat-messages/{task_id}/stop`.

Every message comes through `POST /chat-messages`, so it is served by a plain Starlette
route (`messages_route`), first in the router and in a lane past the middleware stack
(`api/fast_lane.py`): FastAPI's routing, dependency solving and endpoint wrapping cost
every request even with nothing to inject. The handler takes the key, the services and
the body itself; errors reach the same handlers (`api/errors.py`), and the seed spec
documents the operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from chatflow.api._json import JSONResponse
from chatflow.api.autoplay import with_autoplay
from chatflow.api.deps import (
    AppDep,
    ServicesDep,
    authenticate,
    json_body,
    optional_json,
    services_of,
)
from chatflow.api.resumable import encode_turn, wants_ids
from chatflow.api.schemas import ChatMessageBody
from chatflow.api.sse import ChatStreamEncoder, sse_response
from chatflow.errors import InvalidRequest
from chatflow.services.chat import ChatRequest

router = APIRouter()


async def send_chat_message(request: Request) -> Response:
    services = services_of(request)
    app, caller = await authenticate(request, services)
    body = await json_body(request, ChatMessageBody)
    services.admission.check()
    handle = await services.chat.start(
        app,
        ChatRequest(
            query=body.query,
            user=body.user or "",
            inputs=body.inputs,
            conversation_id=body.conversation_id,
            files=body.files,
            auto_generate_name=body.auto_generate_name,
            streaming=body.response_mode == "streaming",
        ),
        caller=caller,
    )
    info = handle.info
    if body.response_mode == "streaming":
        items = services.streams.subscribe(info.task_id)
        encoder = ChatStreamEncoder(info)
        interval = services.settings.ping_interval
        with_ids = wants_ids(request)  # resumable streams: `id:` lines only on opt-in
        speaker = services.audio.speaker(app)  # None unless text_to_speech autoPlay is on
        return sse_response(
            with_autoplay(
                speaker,
                info,
                items,
                lambda items: encode_turn(
                    items, encoder, ping_interval=interval, with_ids=with_ids
                ),
            )
        )
    end = await handle.wait()
    if end.error is not None:
        raise InvalidRequest(end.error.message, code=end.error.code, status=end.error.status)
    payload: dict[str, Any] = {
        "event": "message",
        "task_id": info.task_id,
        "id": info.message_id,
        "message_id": info.message_id,
        "conversation_id": info.conversation_id,
        "mode": info.mode,
        "answer": end.answer,
        "metadata": end.metadata(),
        "created_at": info.created_at,
    }
    return JSONResponse(payload)


class _NamedRoute(Route):
    """A Starlette route that puts itself in the scope as `route` when its path matches,
    as FastAPI's routes do: the access log and metrics label a request by it (a 405
    included)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def messages_route(prefix: str) -> Route:
    """`POST {prefix}/chat-messages`, for the app's first route."""
    return _NamedRoute(f"{prefix}/chat-messages", send_chat_message, methods=["POST"])


@router.post("/chat-messages/{task_id}/stop")
async def stop_chat_message(
    task_id: str, request: Request, app: AppDep, services: ServicesDep
) -> JSONResponse:
    """Always `{"result": "success"}`, as in Dify, but the run really stops."""
    body = await optional_json(request)
    user = body.get("user") or request.query_params.get("user") or ""
    await services.chat.stop(app, task_id, str(user))
    return JSONResponse({"result": "success"})
