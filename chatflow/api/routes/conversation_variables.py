"""`PUT /conversations/{conversation_id}/variables/{variable_id}`: set one variable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from chatflow.api import serializers
from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep

router = APIRouter(tags=["Conversations"])


class VariableUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: Any
    user: str | None = None


@router.put("/conversations/{conversation_id}/variables/{variable_id}")
async def update_conversation_variable(
    conversation_id: str,
    variable_id: str,
    body: VariableUpdateBody,
    app: AppDep,
    services: ServicesDep,
) -> JSONResponse:
    """The new value must match the variable's `value_type` (400 `bad_request`)."""
    row = await services.conversation_variables.update(
        app, body.user or None, conversation_id, variable_id, body.value
    )
    return JSONResponse(serializers.variable(row))
