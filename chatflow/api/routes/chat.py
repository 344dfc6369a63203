"""`POST /chat-messages` (blocking and streaming) and `POST /chat-messages/{task_id}/stop`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.autoplay import with_autoplay
from chatflow.api.deps import (
    AppDep,
    ServicesDep,
    get_app,
    json_body,
    optional_json,
    run_caller,
    services_of,
)
from chatflow.api.resumable import encode_turn, wants_ids
from chatflow.api.schemas import ChatMessageBody
from chatflow.api.sse import ChatStreamEncoder, sse_response
from chatflow.errors import InvalidRequest
from chatflow.services.chat import ChatRequest

router = APIRouter()


@router.post("/chat-messages")
async def send_chat_message(request: Request) -> Response:
    # Every message comes through here: the key, the services and the body are taken
    # directly rather than through FastAPI's dependency solving (~0.3 ms a request).
    app = await get_app(request)
    services = services_of(request)
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
        caller=run_caller(request),
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


@router.post("/chat-messages/{task_id}/stop")
async def stop_chat_message(
    task_id: str, request: Request, app: AppDep, services: ServicesDep
) -> JSONResponse:
    """Always `{"result": "success"}`, as in Dify, but the run really stops."""
    body = await optional_json(request)
    user = body.get("user") or request.query_params.get("user") or ""
    await services.chat.stop(app, task_id, str(user))
    return JSONResponse({"result": "success"})
