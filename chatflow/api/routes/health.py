"""Probes and metrics outside `/v1`: `/healthz` (alive), `/readyz` (can serve), `/metrics`.

`/readyz` answers 503 until the database answers, Redis answers (when configured) and the
embedded model has loaded (when it is the default backend: it loads in the background at
start-up, so the first chat does not wait for it). A load balancer sends traffic only to
ready workers; an orchestrator restarts a worker only when `/healthz` fails.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from chatflow import __version__
from chatflow.api.deps import services_of
from chatflow.observability import metrics as m

router = APIRouter(include_in_schema=False)

_PROBE_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__, "pid": os.getpid()})


async def _check(probe: Any) -> str:
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            await probe()
    except Exception as exc:
        return f"error: {exc!r}"[:300]
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)

    async def database() -> None:
        async with services.db.session() as session:
            await session.execute(text("SELECT 1"))

    checks: dict[str, str] = {"database": await _check(database)}
    if services.runtime.ping is not None:
        checks["redis"] = await _check(services.runtime.ping)
    warmup = getattr(request.app.state, "model_warmup", None)
    if warmup is not None:
        checks["model"] = warmup.state
    shutdown = getattr(request.app.state, "shutdown", None)
    if shutdown is not None and shutdown.draining:
        checks["shutdown"] = "draining"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks, "pid": os.getpid()}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics() -> Response:
    body, content_type = await asyncio.to_thread(m.render)
    return Response(body, media_type=content_type)
