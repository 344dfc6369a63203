"""Knowledge API request helpers: the dataset-key check and Dify's `<uuid:...>` paths.

Dataset keys (`dataset-...`) and app keys are separate: an app key on these routes is
`401 Access token is invalid`, as a dataset key is on the app routes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from chatflow.api.deps import services_of
from chatflow.errors import InvalidRequest, NotFound, Unauthorized
from chatflow.services.knowledge import KnowledgeService

_BEARER_HINT = "Authorization header must be provided and start with 'Bearer'"
# Werkzeug's 404 text, which Dify answers for a path its `<uuid:...>` converter rejects.
_NO_ROUTE = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)


async def get_knowledge(request: Request) -> KnowledgeService:
    """The knowledge service, once the bearer key is a dataset key (or, on the console's
    mount of these routes, once `console_knowledge.admit` let the operator in)."""
    if getattr(request.state, "console_operator", None) is not None:
        return services_of(request).knowledge
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_BEARER_HINT)
    knowledge: KnowledgeService = services_of(request).knowledge
    await knowledge.authenticate(token.strip())
    return knowledge


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]


def uuid_path(value: str) -> str:
    """A path id as Dify's `<uuid:...>` converter takes it; other text is a 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(_NO_ROUTE) from None


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object body; {} when empty. Bad JSON is Dify's 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "Failed to decode JSON object: Expecting value", code="bad_request"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object")
    return data


def int_arg(
    request: Request, name: str, default: int, *, low: int = 1, high: int | None = None
) -> int:
    """An integer query parameter (blank = default), clamped like Dify's pagers."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer") from None
    value = max(value, low)
    return min(value, high) if high is not None else value


def str_field(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name}: Field required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name}: Input should be a valid string")
    return value
