"""Request dependencies: the services, the app behind the bearer key, query helpers."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from chatflow.errors import InvalidRequest, Unauthorized
from chatflow.observability import context
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.run_slots import key_caller

_BEARER_HINT = "Authorization header must be provided and start with 'Bearer'"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """The `ServicesDep` dependency; `async` because FastAPI runs a plain `def`
    dependency in its thread pool, a thread hop on every request."""
    return services_of(request)


async def authenticate(request: Request, services: Services) -> tuple[LoadedApp, str]:
    """`Authorization: Bearer <key>` -> the key's app and who its runs count against
    (Dify's 401s otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(_BEARER_HINT)
    app = await services.apps.authenticate(token)
    context.update(app_id=app.id)  # for this request's log lines and its run's
    return app, key_caller(services.apps.key_ref(token))


async def get_app(request: Request) -> LoadedApp:
    """The `AppDep` dependency: `authenticate`, with the caller kept for `run_caller`."""
    app, request.state.run_caller = await authenticate(request, services_of(request))
    return app


def run_caller(request: Request) -> str:
    """Who a run started by this request counts against (`get_app` sets the key's)."""
    caller: str = getattr(request.state, "run_caller", "")
    return caller


_Body = TypeVar("_Body", bound=BaseModel)


async def json_body(request: Request, model: type[_Body]) -> _Body:
    """The request's JSON body as `model`, for routes too hot for FastAPI's dependency
    solving (`POST /chat-messages`); errors are the same 400 `invalid_param` envelope."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        # Located in the body, as FastAPI reports it (a field may be named `query`).
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


ServicesDep = Annotated[Services, Depends(get_services)]
AppDep = Annotated[LoadedApp, Depends(get_app)]


def blank_to_none(value: str | None) -> str | None:
    """Empty query params (`last_id=`) mean "not given", as in Dify."""
    return value if value else None


def int_param(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer") from None


def user_arg(body: dict[str, Any], request: Request) -> str | None:
    """`user` from a JSON body, else from `?user=`; blank means not given."""
    value = body.get("user")
    if value is None or value == "":
        value = request.query_params.get("user")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest("user: must be a string")
    return value


async def optional_json(request: Request) -> dict[str, Any]:
    """A JSON object body that may be absent or empty (DELETE, stop); {} then."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("Invalid JSON body") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object")
    return data
