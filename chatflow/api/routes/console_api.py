"""The operator console's API under `/console/api` (the page itself is `/console`).

Sign-in gives an HttpOnly, SameSite=Strict cookie scoped to `/console` and a CSRF token
the page keeps in memory and sends back as `X-CSRF-Token` on every write; a write without
it, with another session's, or with another site's `Origin` is refused (403).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from chatflow.api._json import JSONResponse
from chatflow.api.deps import ServicesDep, int_param, json_body, services_of
from chatflow.api.routes.web_api import (
    Forbidden,
    passport_body,
    same_origin,
    session_response,
    site_code,
)
from chatflow.services.operators import ConsoleSession

router = APIRouter(prefix="/console/api", include_in_schema=False)

COOKIE = "chatflow_console"
_SAFE = frozenset(("GET", "HEAD"))


async def operator(request: Request) -> ConsoleSession:
    same_origin(request)
    found = await services_of(request).operators.authenticate(request.cookies.get(COOKIE))
    if request.method not in _SAFE:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise Forbidden("Missing or wrong CSRF token.")
    return found


OperatorDep = Annotated[ConsoleSession, Depends(operator)]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


def _me(found: ConsoleSession) -> dict[str, str]:
    return {"username": found.username, "csrf_token": found.csrf_token}


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> JSONResponse:
    same_origin(request)
    body = await json_body(request, LoginBody)
    token, found = await services.operators.sign_in(body.username, body.password)
    response = JSONResponse(_me(found))
    response.set_cookie(
        COOKIE,
        token,
        max_age=services.operators.session_seconds,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/me")
async def me(who: OperatorDep) -> JSONResponse:
    return JSONResponse(_me(who))


@router.post("/logout")
async def logout(request: Request, who: OperatorDep, services: ServicesDep) -> Response:
    await services.operators.sign_out(request.cookies.get(COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/apps")
async def apps(who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse({"data": await services.console.apps()})


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    dsl: str = Field(max_length=5_000_000)


@router.post("/apps/import")
async def import_app(request: Request, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    body = await json_body(request, ImportBody)
    result = await services.console.import_dsl(body.dsl)
    site = await services.sites.ensure(result.app_id)
    return JSONResponse(
        {
            "app_id": result.app_id,
            "name": result.name,
            "created": result.created,
            "api_key": result.api_key,  # shown once, as at creation in Dify
            "missing_tools": list(result.missing_tools),
            "unmapped_datasets": await services.console.unmapped_datasets(result.app_id),
            "site": {"code": site.code, "enabled": site.enabled},
        }
    )


@router.get("/datasets")
async def datasets(who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse({"data": await services.console.datasets()})


class MapBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ref: str = Field(max_length=255)
    dataset: str = Field(max_length=255)


@router.put("/apps/{app_id}/datasets")
async def map_dataset(
    app_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    """Map a knowledge node's dataset reference to one of this server's datasets."""
    body = await json_body(request, MapBody)
    unmapped = await services.console.map_dataset(app_id, body.ref, body.dataset)
    return JSONResponse({"unmapped_datasets": unmapped})


@router.get("/apps/{app_id}/graph")
async def graph(app_id: str, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse(await services.console.graph(app_id))


class SiteBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool
    operator_login: bool | None = None


@router.put("/apps/{app_id}/site")
async def set_site(
    app_id: str, request: Request, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    body = await json_body(request, SiteBody)
    site = await services.console.set_site(app_id, body.enabled, operator_login=body.operator_login)
    return JSONResponse(
        {"code": site.code, "enabled": site.enabled, "operator_login": site.operator_login}
    )


@router.post("/site-passport")
async def site_passport(request: Request, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    """Open the signed-in operator's session on the site named by `X-App-Code` (how an
    operator-login site is entered; the site's passcode, if any, is asked too). Here
    because the console's cookie is sent only under `/console`; the site's cookie is set
    for `/api` as `/api/passport` does."""
    code = site_code(request)
    body = await passport_body(request)
    token = await services.sites.sign_in(code, body.passcode, operator_id=who.operator_id)
    return session_response(request, code, token, services.sites.session_seconds)


@router.post("/apps/{app_id}/keys")
async def create_key(app_id: str, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    key = await services.console.create_key(app_id)
    return JSONResponse({"id": key.id, "token": key.token}, status_code=201)


@router.delete("/apps/{app_id}/keys/{key_id}")
async def revoke_key(app_id: str, key_id: str, who: OperatorDep, services: ServicesDep) -> Response:
    await services.console.revoke_key(app_id, key_id)
    return Response(status_code=204)


@router.get("/apps/{app_id}/runs")
async def runs(
    app_id: str, who: OperatorDep, services: ServicesDep, page: str | None = None
) -> JSONResponse:
    return JSONResponse(await services.console.runs(app_id, max(1, int_param(page, "page", 1))))


@router.get("/apps/{app_id}/runs/{run_id}")
async def run(app_id: str, run_id: str, who: OperatorDep, services: ServicesDep) -> JSONResponse:
    return JSONResponse(await services.console.run(app_id, run_id))


@router.get("/apps/{app_id}/metrics")
async def metrics(
    app_id: str, who: OperatorDep, services: ServicesDep, days: str | None = None
) -> JSONResponse:
    span = min(max(int_param(days, "days", 14), 1), 90)
    return JSONResponse(await services.console.metrics(app_id, span))


@router.get("/apps/{app_id}/conversations")
async def conversations(
    app_id: str, who: OperatorDep, services: ServicesDep, page: str | None = None
) -> JSONResponse:
    found = await services.console.conversations(app_id, max(1, int_param(page, "page", 1)))
    return JSONResponse(found)


@router.get("/apps/{app_id}/conversations/{conversation_id}/messages")
async def messages(
    app_id: str, conversation_id: str, who: OperatorDep, services: ServicesDep
) -> JSONResponse:
    data: list[dict[str, Any]] = await services.console.messages(app_id, conversation_id)
    return JSONResponse({"data": data})
