"""The console's knowledge: dataset API keys here, and the Knowledge API itself mounted
again under `/console/api/kb` (datasets, documents, segments, hit testing: the same
routes, shapes and errors as `/v1/datasets...`) behind the operator's session.

`admit` is that mount's router dependency: FastAPI runs it before the routes' own, and it
marks the request as the operator's, so `knowledge_deps.get_knowledge` takes the session
(cookie and, on writes, the CSRF token) in place of a `dataset-...` bearer key.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep
from chatflow.api.routes.console_api import OperatorDep, operator

router = APIRouter(prefix="/console/api", include_in_schema=False)

KNOWLEDGE_PREFIX = "/console/api/kb"


async def admit(request: Request) -> None:
    request.state.console_operator = await operator(request)


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if isinstance(value, datetime) else None


@router.get("/dataset-keys")
async def dataset_keys(who: OperatorDep, services: ServicesDep) -> JSONResponse:
    """Knowledge API keys: prefixes and dates only (a token is shown once, at creation)."""
    rows = await services.knowledge.list_keys()
    return JSONResponse(
        {"data": [{"id": k.id, "prefix": k.prefix, "created_at": _ts(k.created_at),
                   "last_used_at": _ts(k.last_used_at)} for k in rows]}
    )  # fmt: skip


@router.post("/dataset-keys")
async def create_dataset_key(who: OperatorDep, services: ServicesDep) -> JSONResponse:
    key_id, token = await services.knowledge.new_key()
    return JSONResponse({"id": key_id, "token": token}, status_code=201)


@router.delete("/dataset-keys/{key_id}")
async def revoke_dataset_key(key_id: str, who: OperatorDep, services: ServicesDep) -> Response:
    await services.knowledge.revoke_key(key_id)
    return Response(status_code=204)
