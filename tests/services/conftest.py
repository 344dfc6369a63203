"""Service-level fixtures: every service wired by `Services.open` over an in-memory SQLite
database and the fake model, and the same services behind the HTTP app on an in-process
ASGI transport (no socket, no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chatflow.api import create_app
from chatflow.providers.fake import FakeRegistry
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.settings import Settings
from chatflow.store import Database

DSL = Path(__file__).parents[1] / "api" / "dsl"
ECHO = """\
app: {mode: advanced-chat, name: echo}
kind: app
version: 0.3.0
workflow:
  conversation_variables:
  - {id: v-count, name: count, value_type: number, value: 0, description: turns}
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: bump, targetHandle: target}
    - {id: e2, source: bump, sourceHandle: source, target: answer, targetHandle: target}
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: bump
      data:
        type: assigner
        title: Bump
        version: '2'
        items:
        - variable_selector: [conversation, count]
          operation: +=
          input_type: constant
          value: 1
    - id: answer
      data: {type: answer, title: Answer, answer: 'echo {{#sys.query#}} #{{#conversation.count#}}'}
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, model_backend="fake")


@pytest.fixture
def models() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
async def services(settings: Settings, models: FakeRegistry) -> AsyncIterator[Services]:
    opened = await Services.open(settings, database=Database("sqlite+aiosqlite://"), models=models)
    yield opened
    await opened.close()


async def load(services: Services, text: str) -> LoadedApp:
    """Import a DSL app and return it loaded."""
    result = await services.apps.import_dsl(text)
    return await services.apps.find(result.app_id)


@pytest.fixture
async def echo(services: Services) -> LoadedApp:
    return await load(services, ECHO)


@pytest.fixture
async def client(settings: Settings, models: FakeRegistry) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP app over an ASGI transport, its lifespan entered (in-memory database)."""
    app = create_app(settings, database=Database("sqlite+aiosqlite://"), models=models)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc/v1") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http
