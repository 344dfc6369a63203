"""A real chatflow server on a real port, on SQLite and on Postgres, with the fake model.

One server per backend per test module (uvicorn in a thread with its own event loop).
Tests talk to it with httpx over TCP, so SSE framing, disconnects and stop are the wire's.
Postgres is skipped only outside CI: with `CI` set, an unreachable server fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from sqlalchemy import make_url

from chatflow.api import create_app
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.services import Services
from chatflow.settings import Settings
from chatflow.store import Database
from tests._server_process import free_port

T = TypeVar("T")

PG_URL = os.environ.get(
    "CHATFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DSL_DIR = Path(__file__).parent / "dsl"
EXAMPLE = Path(__file__).parents[2] / "chatflow" / "examples" / "assistant.yml"
TOKENS = ["Hello", " there", ",", " friend", "!"]
ANSWER = "".join(TOKENS)


def _postgres_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class LiveServer:
    """A running server: its base URL, API keys by app name, and its fake model."""

    base_url: str
    keys: dict[str, str]
    registry: FakeRegistry
    server: uvicorn.Server
    app: Any
    loop: asyncio.AbstractEventLoop | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def client(self, app: str = "assistant", *, timeout: float = 10.0) -> httpx.Client:
        client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.keys[app]}"},
            timeout=timeout,
        )
        self.clients.append(client)
        return client

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (to look at server-side state)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def site(self, app: str = "assistant") -> str:
        """The app's chat site code (the site is published on first use)."""
        info = self.call(self.services.sites.ensure(app))
        return info.code

    def origin(self) -> str:
        return self.base_url.removesuffix("/v1")

    def web_client(self, app: str = "assistant", *, passcode: str | None = None) -> httpx.Client:
        """A browser-like client of the app's site, signed in (its own end-user session)."""
        client = httpx.Client(
            base_url=self.origin() + "/api", headers={"X-App-Code": self.site(app)}, timeout=10.0
        )
        self.clients.append(client)
        body = {"passcode": passcode} if passcode is not None else {}
        client.post("/passport", json=body).raise_for_status()
        return client

    def slow(self, delay: float) -> None:
        self.registry.fake = FakeLLM(TOKENS * 40, delay)

    def reset_model(self) -> None:
        self.registry.fake = FakeLLM(TOKENS)


async def _prepare(database: Database, settings: Settings) -> dict[str, str]:
    services = await Services.open(settings, database=database, models=FakeRegistry())
    keys: dict[str, str] = {}
    try:
        for path in (EXAMPLE, *sorted(DSL_DIR.glob("*.yml"))):
            result = await services.apps.import_dsl(path.read_text(encoding="utf-8"))
            assert result.api_key is not None
            keys[result.name] = result.api_key
    finally:
        await services.close()
    return keys


async def _drop_schema(schema: str) -> None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("data")
    schema: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'chatflow.db'}"
    else:
        if not _postgres_reachable():
            if os.environ.get("CI"):
                pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
            pytest.skip(f"Postgres not reachable at {PG_URL}")
        url, schema = PG_URL, f"test_api_{uuid.uuid4().hex[:12]}"
    # A test module may add settings (`LIVE_SETTINGS`) or give its own registry type
    # (`LIVE_REGISTRY`, a `FakeRegistry` subclass), e.g. one with a real embedder.
    overrides: dict[str, Any] = getattr(request.module, "LIVE_SETTINGS", {})
    settings = Settings(data_dir=data_dir, model_backend="fake", ping_interval=0.5, **overrides)
    # On a thread of its own: Playwright's sync API (browser tests) may already run an
    # event loop on this one, depending on which fixture pytest set up first.
    with ThreadPoolExecutor(1) as pool:
        keys = pool.submit(asyncio.run, _prepare(Database(url, schema=schema), settings)).result()

    registry = getattr(request.module, "LIVE_REGISTRY", FakeRegistry)(FakeLLM(TOKENS))
    app = create_app(settings, database=Database(url, schema=schema), models=registry)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    live = LiveServer(f"http://127.0.0.1:{port}/v1", keys, registry, server, app)

    def serve() -> None:
        loop = asyncio.new_event_loop()
        live.loop = loop
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield live
    finally:
        for client in live.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=20)
        if schema is not None:
            asyncio.run(_drop_schema(schema))


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    """The module's server with its fake model reset after each test."""
    live.reset_model()
    yield live
    live.reset_model()


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse an SSE body into dicts; `event: ping` frames become `{"event": "ping"}`."""
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
            continue
        if not block:
            continue
        if block == ["event: ping"]:
            yield {"event": "ping"}
        else:
            assert len(block) == 1 and block[0].startswith("data: "), block
            yield json.loads(block[0][len("data: ") :])
        block = []
    assert not block, f"unterminated frame: {block}"


def chat(
    client: httpx.Client, query: str = "Hi", user: str = "alice", **body: Any
) -> dict[str, Any]:
    """A blocking chat turn; returns the JSON response."""
    payload = {"inputs": {}, "query": query, "user": user, "response_mode": "blocking", **body}
    response = client.post("/chat-messages", json=payload)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """Dify's error shape: JSON `{code, message, status}` with the HTTP status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "status"}, body
    assert body["status"] == status and isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body
