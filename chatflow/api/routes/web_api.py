"""The chat sites' API under `/api`: what the page at `/chat/{code}` needs, and no more.

Shaped like Dify's web app API (`X-App-Code` names the site; `/api/passport`,
`/api/parameters`, `/api/chat-messages`, `/api/conversations`, `/api/messages`...), but
the session is an HttpOnly, SameSite=Strict cookie rather than a token the page keeps.
Every route takes the app and the end user from that session, never from the request, so
a browser reaches only its own conversations, messages and files; the Service API keys
stay server-to-server.

Cross-site requests cannot use the session: the cookie is SameSite=Strict, every request
must carry the `X-App-Code` header (which no form can send and no other origin may send
without a CORS preflight, which this server never answers), and a write whose `Origin`
names another site is refused.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from chatflow.api import serializers
from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep, blank_to_none, int_param, json_body, services_of
from chatflow.api.resumable import encode_turn, wants_ids
from chatflow.api.routes.audio import transcribe_form
from chatflow.api.routes.feedbacks import FeedbackBody
from chatflow.api.routes.files import receive_upload, upload_payload
from chatflow.api.routes.streams import resume_stream
from chatflow.api.schemas import ChatMessageBody, RenameBody
from chatflow.api.sse import ChatStreamEncoder, sse_response
from chatflow.errors import ChatflowError, InvalidRequest, NotFound
from chatflow.services.chat import ChatRequest
from chatflow.services.run_slots import web_caller
from chatflow.services.sites import SiteInfo, WebUser
from chatflow.store.models import Message

router = APIRouter(prefix="/api", include_in_schema=False)

_CODE = re.compile(r"^[A-Za-z0-9_-]{4,32}$")
_SAFE_METHODS = frozenset(("GET", "HEAD"))


class Forbidden(ChatflowError):
    code = "forbidden"
    status = 403


def cookie_name(code: str) -> str:
    return f"chatflow_site_{code}"


def site_code(request: Request) -> str:
    """The site named by the `X-App-Code` header (401 without a well-formed one)."""
    code = request.headers.get("x-app-code", "")
    if not _CODE.match(code):
        raise InvalidRequest("X-App-Code header: the site's code is required.", status=401,
                             code="unauthorized")  # fmt: skip
    return code


def same_origin(request: Request) -> None:
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser's cross-site request; the header check stands alone
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != own:
        raise Forbidden("Cross-site requests are not allowed.")


async def web_user(request: Request) -> WebUser:
    """The session's app and user (401 `web_session_required` without one)."""
    code = site_code(request)
    same_origin(request)
    token = request.cookies.get(cookie_name(code))
    return await services_of(request).sites.authenticate(code, token)


WebUserDep = Annotated[WebUser, Depends(web_user)]


def _site(site: SiteInfo, user: WebUser | None, app_payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": site.code,
        "passcode_required": site.has_passcode,
        "operator_login_required": site.operator_login,
        "signed_in": user is not None,
        "site": {**app_payload, "show_workflow_steps": site.show_workflow_steps},
    }


@router.get("/site")
async def site_info(request: Request, services: ServicesDep) -> JSONResponse:
    """The site's title and look, before signing in too (the passcode form needs it)."""
    code = site_code(request)
    site, app = await services.sites.open_site(code)
    user: WebUser | None
    try:
        user = await services.sites.authenticate(code, request.cookies.get(cookie_name(code)))
    except ChatflowError:
        user = None
    payload = _site(site, user, serializers.site(app))
    payload["mode"] = app.mode
    return JSONResponse(payload)


class PassportBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    passcode: str | None = None


async def passport_body(request: Request) -> PassportBody:
    body = await json_body(request, PassportBody) if await request.body() else PassportBody()
    if body.passcode is not None and len(body.passcode) > 256:
        raise InvalidRequest("passcode: too long")
    return body


@router.post("/passport")
async def passport(request: Request, services: ServicesDep) -> JSONResponse:
    """Open an end-user session: the token goes only into the HttpOnly cookie. (An
    operator-login site's sessions open through the console: `console_api.site_passport`.)"""
    code = site_code(request)
    same_origin(request)
    body = await passport_body(request)
    token = await services.sites.sign_in(code, body.passcode)
    return session_response(request, code, token, services.sites.session_seconds)


def session_response(request: Request, code: str, token: str, seconds: int) -> JSONResponse:
    """The answer that hands a browser its site session: only in the HttpOnly cookie."""
    response = JSONResponse({"result": "success"})
    response.set_cookie(
        cookie_name(code),
        token,
        max_age=seconds,
        path="/api",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/parameters")
async def parameters(who: WebUserDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse(serializers.parameters(who.app, services.settings))


@router.get("/meta")
async def meta(who: WebUserDep) -> JSONResponse:
    return JSONResponse({"tool_icons": {}})


@router.post("/chat-messages")
async def chat_messages(request: Request, who: WebUserDep, services: ServicesDep) -> Response:
    """Always streaming (the page reads SSE); `user` in the body is ignored."""
    body = await json_body(request, ChatMessageBody)
    handle = await services.chat.start(
        who.app,
        ChatRequest(
            query=body.query,
            user=who.user,
            inputs=body.inputs,
            conversation_id=body.conversation_id,
            files=body.files,
            auto_generate_name=body.auto_generate_name,
            streaming=True,
        ),
        caller=web_caller(who.user),
    )
    info = handle.info
    items = services.streams.subscribe(info.task_id)
    encoder = ChatStreamEncoder(info)
    interval = services.settings.ping_interval
    with_ids = wants_ids(request)
    return sse_response(encode_turn(items, encoder, ping_interval=interval, with_ids=with_ids))


@router.post("/chat-messages/{task_id}/stop")
async def stop(task_id: str, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    await services.chat.stop(who.app, task_id, who.user)
    return JSONResponse({"result": "success"})


@router.get("/chat-messages/{task_id}/events")
async def resume(
    task_id: str,
    who: WebUserDep,
    services: ServicesDep,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> Response:
    """Reconnect to one of this user's running answers (the resumable stream)."""
    return await resume_stream(services, who.app, task_id, who.user, last_event_id, workflow=False)


@router.get("/conversations")
async def conversations(
    who: WebUserDep,
    services: ServicesDep,
    last_id: str | None = None,
    limit: str | None = None,
) -> JSONResponse:
    page = await services.conversations.page(
        who.app,
        who.user,
        last_id=blank_to_none(last_id),
        limit=int_param(limit, "limit", 20),
        sort_by="-updated_at",
    )
    return JSONResponse(
        {
            "limit": page.limit,
            "has_more": page.has_more,
            "data": [serializers.conversation(c) for c in page.items],
        }
    )


@router.delete("/conversations/{conversation_id}")
async def delete_conversation(
    conversation_id: str, who: WebUserDep, services: ServicesDep
) -> Response:
    await services.conversations.delete(who.app, who.user, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/name")
async def rename(
    conversation_id: str, body: RenameBody, who: WebUserDep, services: ServicesDep
) -> JSONResponse:
    renamed = await services.conversations.rename(
        who.app, who.user, conversation_id, name=body.name, auto_generate=body.auto_generate
    )
    return JSONResponse(serializers.conversation(renamed))


def _message(row: Message, rating: str | None) -> dict[str, Any]:
    # The page keeps a stopped answer's label and finds its run trace by these.
    return {
        **serializers.message(row, rating),
        "stopped": row.status == "stopped",
        "running": row.status == "running",
        "workflow_run_id": row.workflow_run_id,
    }


@router.get("/messages")
async def messages(
    who: WebUserDep,
    services: ServicesDep,
    conversation_id: str | None = None,
    first_id: str | None = None,
    limit: str | None = None,
) -> JSONResponse:
    if not conversation_id:
        raise InvalidRequest("conversation_id: Field required")
    result = await services.conversations.messages(
        who.app,
        who.user,
        conversation_id,
        first_id=blank_to_none(first_id),
        limit=int_param(limit, "limit", 20),
    )
    page = result.page
    return JSONResponse(
        {
            "limit": page.limit,
            "has_more": page.has_more,
            "data": [_message(m, result.ratings.get(m.id)) for m in page.items],
        }
    )


@router.post("/messages/{message_id}/feedbacks")
async def feedback(
    message_id: str, body: FeedbackBody, who: WebUserDep, services: ServicesDep
) -> JSONResponse:
    if body.content is not None and len(body.content) > 4000:
        raise InvalidRequest("content: at most 4000 characters")
    await services.feedbacks.rate(
        who.app, who.user, message_id, rating=body.rating, content=body.content
    )
    return JSONResponse({"result": "success"})


@router.get("/messages/{message_id}/suggested-questions")
async def suggested(message_id: str, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    questions = await services.conversations.suggested(who.app, who.user, message_id)
    return JSONResponse({"result": "success", "data": questions})


@router.get("/messages/{message_id}/trace")
async def trace(message_id: str, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    """The run trace of one of this user's answers, where the site shows workflow steps."""
    if not who.site.show_workflow_steps:
        raise NotFound("This site does not show workflow steps.")
    nodes = await services.conversations.trace(who.app, who.user, message_id)
    return JSONResponse({"data": [serializers.trace_node(n) for n in nodes]})


class SpeakBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: str


@router.post("/text-to-audio")
async def text_to_audio(request: Request, who: WebUserDep, services: ServicesDep) -> Response:
    """One of this user's answers read aloud (only answers: the site is no free TTS)."""
    body = await json_body(request, SpeakBody)
    audio = services.audio
    text = await audio.speech_text(who.app, text=None, message_id=body.message_id, user=who.user)
    data, mime_type = await audio.tts().synthesize(text.strip(), voice=audio.voice(who.app, None))
    return Response(data, media_type=mime_type)


@router.post("/audio-to-text")
async def audio_to_text(request: Request, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse({"text": await transcribe_form(request, services, who.app)})


@router.post("/files/upload", status_code=201)
async def upload(request: Request, who: WebUserDep, services: ServicesDep) -> JSONResponse:
    row = await receive_upload(request, services, who.app, who.user)
    return JSONResponse(upload_payload(row), status_code=201)
