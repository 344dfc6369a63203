"""The console's tools (`/console/api/tools`): the providers that run here with their
tools; adding an OpenAPI provider (schema URL or text) or an MCP server (URL), with
credential headers; removing them; and mapping an app's missing tool references."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep, json_body
from chatflow.api.routes.console_api import OperatorDep
from chatflow.errors import NotFound

router = APIRouter(prefix="/console/api", include_in_schema=False)

_HEADERS = dict[str, str]


class OpenApiBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    url: str = Field(default="", max_length=2048)
    schema_text: str = Field(default="", max_length=2_000_000, alias="schema")
    headers: _HEADERS = Field(default_factory=dict)


class McpBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=2048)
    headers: _HEADERS = Field(default_factory=dict)


class MapToolBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    provider: str = Field(min_length=1, max_length=255)
    tool: str = Field(default="", max_length=255)
    target: str = Field(min_length=1, max_length=255)


@router.get("/tools")
async def providers(who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse({"data": await services.console.tools.providers()})


@router.post("/tools/openapi")
async def add_openapi(request: Request, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    body = await json_body(request, OpenApiBody)
    added = await services.console.tools.add_openapi(
        body.name.strip(), url=body.url.strip(), schema=body.schema_text, headers=body.headers
    )
    return JSONResponse(added, status_code=201)


@router.post("/tools/mcp")
async def add_mcp(request: Request, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    body = await json_body(request, McpBody)
    added = await services.console.tools.add_mcp(
        body.name.strip(), url=body.url.strip(), headers=body.headers
    )
    return JSONResponse(added, status_code=201)


@router.delete("/tools/{name}")
async def remove(name: str, who: OperatorDep, services: ServicesDep) -> Response:
    await services.console.tools.remove(name)
    return Response(status_code=204)


@router.get("/apps/{app_id}/tools")
async def missing_tools(app_id: str, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    """The app's tool references that cannot run here (what import calls missing)."""
    return JSONResponse({"missing_tools": await services.console.missing_tools(app_id)})


@router.put("/apps/{app_id}/tools")
async def map_tool(
    app_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    """Send one reference (`provider`, optionally with its `tool`) to `target`
    (`PROVIDER` or `PROVIDER:TOOL`), kept as `chatflow tools map` keeps it."""
    body = await json_body(request, MapToolBody)
    missing = await services.console.missing_tools(app_id)
    if not any(m["provider"] == body.provider and body.tool in ("", m["tool"]) for m in missing):
        raise NotFound("The app has no such missing tool reference.", code="not_found")
    source = f"{body.provider}:{body.tool}" if body.tool else body.provider
    await services.console.tools.map(source, body.target)
    return JSONResponse({"missing_tools": await services.console.missing_tools(app_id)})
