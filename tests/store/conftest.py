"""One contract suite, run on SQLite (a temp file) and on Postgres (a fresh schema per test).

Postgres is skipped only outside CI: with `CI` set, an unreachable server fails the run.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from chatflow.store import Database
from chatflow.store.apps import AppInfo, create_app
from chatflow.store.end_users import get_or_create_end_user

PG_URL = os.environ.get(
    "CHATFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Target:
    """Where a test's database lives: a URL plus, on Postgres, its private schema."""

    url: str
    schema: str | None

    def database(self) -> Database:
        return Database(self.url, schema=self.schema)


@pytest.fixture(params=["sqlite", "postgresql"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "sqlite":
        yield Target(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatflow.db'}", None)
        return
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
        pytest.skip(f"Postgres not reachable at {PG_URL}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield Target(PG_URL, schema)
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def db(target: Target) -> AsyncIterator[Database]:
    database = target.database()
    await database.connect()
    yield database
    await database.close()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session that commits at the end of the test."""
    async with db.session() as s:
        yield s


@dataclass(frozen=True)
class World:
    """An app with two end users, alice and bob."""

    app_id: str
    alice: str
    bob: str


async def make_world(session: AsyncSession) -> World:
    app = await create_app(session, AppInfo(name="Demo", mode="advanced-chat"), "app: {}\n")
    alice = await get_or_create_end_user(session, app.id, "alice")
    bob = await get_or_create_end_user(session, app.id, "bob")
    return World(app_id=app.id, alice=alice.id, bob=bob.id)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)
