"""`create_app(settings)`: the FastAPI application serving Dify's Service API at `/v1`.

The lifespan opens `Services` (database + migrations, model registry, runtime) and
closes them on shutdown. Routers stay thin: they parse, call a service, serialise.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from chatflow.api import heap
from chatflow.api.errors import install_error_handlers
from chatflow.api.fast_lane import ChatflowAPI
from chatflow.api.middleware import OperationsMiddleware
from chatflow.api.openapi import install_docs, operation_id

# `annotations` would shadow `from __future__ import annotations`.
from chatflow.api.routes import annotations as annotation_routes
from chatflow.api.routes import (
    app_info,
    audio,
    chat,
    console_annotations,
    console_api,
    console_knowledge,
    console_models,
    console_tools,
    conversation_variables,
    conversations,
    dataset_documents,
    dataset_metadata,
    dataset_segments,
    dataset_tags,
    datasets,
    end_users,
    feedbacks,
    files,
    health,
    human_input,
    streams,
    tool_files,
    web,
    web_api,
    web_workflows,
    workflows,
)
from chatflow.api.shutdown import GracefulShutdown
from chatflow.observability import logs
from chatflow.providers.base import ModelRegistry
from chatflow.services import Services
from chatflow.services.model_warmup import ModelWarmup
from chatflow.settings import Settings
from chatflow.store import Database

API_PREFIX = "/v1"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    models: ModelRegistry | None = None,
) -> FastAPI:
    """The ASGI app; `database`/`models` replace the ones `settings` would build."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.open(settings, database=database, models=models, sweep=True)
        app.state.services = services
        shutdown = app.state.shutdown = GracefulShutdown(
            settings.shutdown_grace_seconds, lambda: len(services.tasks), services.tasks.close
        )
        if threading.current_thread() is threading.main_thread():
            shutdown.install()  # signals can only be handled there (a server's thread)
        warmup: ModelWarmup | None = None
        if models is None and settings.model_backend == "embedded":
            warmup = app.state.model_warmup = ModelWarmup(settings)
            warmup.start()
        heap.settle(settings.gc_gen0_threshold)
        try:
            yield
        finally:
            shutdown.uninstall()
            if warmup is not None:
                await warmup.close()
            await services.close()

    app = ChatflowAPI(
        title="chatflow-server",
        summary="Dify's Chatflow App Service API",
        lifespan=lifespan,
        # The seed spec + our additions, and an offline Swagger UI (`api/openapi/`).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    app.add_middleware(
        OperationsMiddleware,
        max_bytes=settings.request_max_kb * 1024,
        upload_max_bytes=settings.upload_request_max_mb * 1024 * 1024,
    )
    # The chat messages, nearly every request: first in the router (routes are matched in
    # order) and, for POST, past the middleware stack (`api/fast_lane.py`).
    app.add_lane(chat.messages_route(API_PREFIX))
    app.include_router(health.router)  # /healthz, /readyz, /metrics: outside /v1
    knowledge_routers = (
        # Knowledge API (dataset keys); tags first: `/datasets/tags` is not a dataset id.
        dataset_tags.router,
        datasets.router,
        dataset_documents.router,
        dataset_segments.router,
        dataset_metadata.router,
    )
    routers = (
        chat.router,
        conversations.router,
        app_info.router,
        files.router,
        end_users.router,
        feedbacks.router,
        conversation_variables.router,
        workflows.router,
        annotation_routes.router,
        audio.router,
        human_input.router,
        streams.router,
        *knowledge_routers,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    install_docs(app, prefix=API_PREFIX)
    app.include_router(tool_files.router)  # Dify serves these at the root, not under /v1
    app.include_router(web_api.router)  # the chat sites' own API at `/api`
    app.include_router(web_workflows.router)  # and a workflow app's site's runs
    app.include_router(console_api.router)  # the operator console's API
    for router in (console_annotations.router, console_knowledge.router,
                   console_tools.router, console_models.router):  # fmt: skip
        app.include_router(router)
    for router in knowledge_routers:  # the same Knowledge API, as the signed-in operator
        app.include_router(
            router,
            prefix=console_knowledge.KNOWLEDGE_PREFIX,
            dependencies=[Depends(console_knowledge.admit)],
            include_in_schema=False,
        )
    app.include_router(web.router)  # the chat page at `/chat/{code}`
    return app


def serve_app() -> FastAPI:
    """The app of one `chatflow serve` worker process: settings from the environment,
    logs in the configured format (uvicorn's import-string factory for `--workers`)."""
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings)
