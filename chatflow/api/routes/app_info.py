"""`/info`, `/parameters`, `/meta`, `/site`: what the app is and how to present it.

All accept (and ignore) `?user=`, as some SDKs always send it.
"""

from __future__ import annotations

from fastapi import APIRouter

from chatflow.api import serializers
from chatflow.api._json import JSONResponse
from chatflow.api.deps import AppDep, ServicesDep

router = APIRouter()


@router.get("/info")
async def app_info(app: AppDep) -> JSONResponse:
    return JSONResponse(serializers.info(app))


@router.get("/parameters")
async def app_parameters(app: AppDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse(serializers.parameters(app, services.settings))


@router.get("/meta")
async def app_meta(app: AppDep) -> JSONResponse:
    return JSONResponse({"tool_icons": {}})


@router.get("/site")
async def app_site(app: AppDep) -> JSONResponse:
    return JSONResponse(serializers.site(app))
