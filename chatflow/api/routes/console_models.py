"""The console's model backends (`/console/api/models`): read-only, from settings."""

from __future__ import annotations

from fastapi import APIRouter, Request

from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep
from chatflow.api.routes.console_api import OperatorDep
from chatflow.services.console_models import model_backends

router = APIRouter(prefix="/console/api", include_in_schema=False)


@router.get("/models")
async def models(request: Request, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    warmup = getattr(request.app.state, "model_warmup", None)
    state = None if warmup is None else str(warmup.state)
    return JSONResponse(model_backends(services.settings, state))
