"""Conversations and their messages: list, rename, delete, variables, suggestions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api import serializers
from chatflow.api._json import JSONResponse
from chatflow.api.deps import (
    AppDep,
    ServicesDep,
    blank_to_none,
    int_param,
    optional_json,
    user_arg,
)
from chatflow.api.schemas import RenameBody
from chatflow.errors import InvalidRequest

router = APIRouter()


@router.get("/conversations")
async def list_conversations(
    request: Request,
    app: AppDep,
    services: ServicesDep,
    user: str | None = None,
    last_id: str | None = None,
    limit: str | None = None,
    sort_by: str | None = None,
) -> JSONResponse:
    page = await services.conversations.page(
        app,
        blank_to_none(user),
        last_id=blank_to_none(last_id),
        limit=int_param(limit, "limit", 20),
        sort_by=sort_by or "-updated_at",
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
    conversation_id: str, request: Request, app: AppDep, services: ServicesDep
) -> Response:
    user = user_arg(await optional_json(request), request)
    await services.conversations.delete(app, user, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/name")
async def rename_conversation(
    conversation_id: str, body: RenameBody, app: AppDep, services: ServicesDep
) -> JSONResponse:
    renamed = await services.conversations.rename(
        app, body.user, conversation_id, name=body.name, auto_generate=body.auto_generate
    )
    return JSONResponse(serializers.conversation(renamed))


@router.get("/conversations/{conversation_id}/variables")
async def list_conversation_variables(
    conversation_id: str,
    app: AppDep,
    services: ServicesDep,
    user: str | None = None,
    last_id: str | None = None,
    limit: str | None = None,
    variable_name: str | None = None,
) -> JSONResponse:
    if variable_name and len(variable_name) > 255:  # Dify's `max_length=255`
        raise InvalidRequest("variable_name: String should have at most 255 characters")
    page = await services.conversations.variables(
        app,
        blank_to_none(user),
        conversation_id,
        last_id=blank_to_none(last_id),
        limit=int_param(limit, "limit", 20),
        variable_name=blank_to_none(variable_name),
    )
    return JSONResponse(
        {
            "limit": page.limit,
            "has_more": page.has_more,
            "data": [serializers.variable(v) for v in page.items],
        }
    )


@router.get("/messages")
async def list_messages(
    app: AppDep,
    services: ServicesDep,
    conversation_id: str | None = None,
    user: str | None = None,
    first_id: str | None = None,
    limit: str | None = None,
) -> JSONResponse:
    if not conversation_id:
        raise InvalidRequest("conversation_id: Field required")
    result = await services.conversations.messages(
        app,
        blank_to_none(user),
        conversation_id,
        first_id=blank_to_none(first_id),
        limit=int_param(limit, "limit", 20),
    )
    page = result.page
    return JSONResponse(
        {
            "limit": page.limit,
            "has_more": page.has_more,
            "data": [serializers.message(m, result.ratings.get(m.id)) for m in page.items],
        }
    )


@router.get("/messages/{message_id}/suggested")
async def suggested_questions(
    message_id: str, app: AppDep, services: ServicesDep, user: str | None = None
) -> JSONResponse:
    questions = await services.conversations.suggested(app, blank_to_none(user), message_id)
    return JSONResponse({"result": "success", "data": questions})
