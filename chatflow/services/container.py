"""`Services`: everything a running server (or the CLI) needs, built from `Settings`.

Opening connects the database (running migrations), builds the model registry and the
in-process runtime, and wires the services together; closing stops running turns and
releases the database. The HTTP app's lifespan and the CLI both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes.base import EngineServices
from chatflow.providers.base import ModelRegistry
from chatflow.runtime.local import LocalEventStream, LocalTaskRegistry
from chatflow.services.apps import AppService
from chatflow.services.chat import ChatService
from chatflow.services.conversations import ConversationService
from chatflow.services.turn import StreamItem
from chatflow.settings import Settings
from chatflow.store import Database


def engine_limits(settings: Settings) -> EngineLimits:
    return EngineLimits(
        max_steps=settings.max_execution_steps,
        max_run_seconds=settings.max_execution_seconds,
        code_max_string_length=settings.code_max_string_length,
        code_max_string_array_length=settings.code_max_string_array_length,
        code_max_object_array_length=settings.code_max_object_array_length,
        code_max_number_array_length=settings.code_max_number_array_length,
        code_max_depth=settings.code_max_depth,
    )


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    models: ModelRegistry
    tasks: LocalTaskRegistry
    streams: LocalEventStream[StreamItem]
    apps: AppService
    chat: ChatService
    conversations: ConversationService

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        database: Database | None = None,
        models: ModelRegistry | None = None,
    ) -> Services:
        """Connect and wire everything; `database`/`models` override the settings' ones."""
        db = database or Database(settings.resolved_database_url())
        await db.connect()
        if models is None:
            from chatflow.providers.registry import build_registry

            models = build_registry(settings)
        engine = EngineServices(models=models, limits=engine_limits(settings))
        tasks = LocalTaskRegistry()
        streams: LocalEventStream[StreamItem] = LocalEventStream()
        return cls(
            settings=settings,
            db=db,
            models=models,
            tasks=tasks,
            streams=streams,
            apps=AppService(db),
            chat=ChatService(db, engine, tasks, streams),
            conversations=ConversationService(db, models),
        )

    async def close(self) -> None:
        await self.tasks.close()
        await self.chat.close()
        self.streams.shutdown()
        await self.db.close()
