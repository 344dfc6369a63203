"""`GET /end-users/{end_user_id}`: an end user of this app (e.g. an upload's `created_by`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep

router = APIRouter(tags=["End Users"])


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/end-users/{end_user_id}")
async def get_end_user(end_user_id: str, app: AppDep, services: ServicesDep) -> JSONResponse:
    row = await services.end_users.get(app, end_user_id)
    return JSONResponse(
        {
            "id": row.id,
            # No workspaces here: the app is the tenant, so the id is stable and non-null.
            "tenant_id": app.id,
            "app_id": row.app_id,
            "type": row.type,
            "external_user_id": row.external_user_id,
            "name": row.name,
            "is_anonymous": row.is_anonymous,
            "session_id": row.session_id,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        }
    )
