"""Database: migrations from empty, idempotent connect, pragmas, unit of work, UTC times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, make_url, select, text

from chatflow.store import Database, turns
from chatflow.store import db as db_module
from chatflow.store.db import alembic_config
from chatflow.store.models import App, Base

from .conftest import PG_URL, Target

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _version(db: Database) -> str | None:
    async with db.session() as s:
        version: str | None = await s.scalar(text("SELECT version_num FROM alembic_version"))
        return version


async def test_connect_migrates_an_empty_database_to_head(target: Target) -> None:
    db = target.database()
    await db.connect()
    try:
        assert await _version(db) == HEAD
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
    finally:
        await db.close()


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_connect_is_idempotent(target: Target) -> None:
    db = target.database()
    await db.connect()
    engine = db.engine
    await db.connect()
    assert db.engine is engine
    async with db.session() as s:
        s.add(App(name="a", mode="chat", dsl_text="", dsl_hash=""))
    await db.close()

    again = target.database()
    await again.connect()  # an already migrated database: nothing to do, data kept
    try:
        assert await _version(again) == HEAD
        async with again.session() as s:
            assert [a.name for a in await s.scalars(select(App))] == ["a"]
    finally:
        await again.close()


async def test_workers_connecting_together_migrate_once(target: Target) -> None:
    dbs = [target.database() for _ in range(3)]
    await asyncio.gather(*(d.connect() for d in dbs))
    try:
        for d in dbs:
            assert await _version(d) == HEAD
    finally:
        for d in dbs:
            await d.close()


async def test_close_then_connect_again(db: Database) -> None:
    await db.close()
    with pytest.raises(RuntimeError):
        _ = db.engine
    await db.connect()
    assert await _version(db) == HEAD


async def test_sqlite_pragmas_and_data_dir(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "nested" / "dir" / "chatflow.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.connect()
    try:
        assert path.exists()
        async with db.session() as s:
            assert await s.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await s.scalar(text("PRAGMA foreign_keys")) == 1
            assert await s.scalar(text("PRAGMA busy_timeout")) == 10000
            assert await s.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
    finally:
        await db.close()


async def test_in_memory_sqlite_shares_one_database() -> None:
    db = Database("sqlite+aiosqlite://")
    await db.connect()
    try:
        async with db.session() as s:
            s.add(App(name="m", mode="chat", dsl_text="", dsl_hash=""))
        async with db.session() as s:
            assert await s.scalar(select(App.name)) == "m"
    finally:
        await db.close()


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(ValueError):
        async with db.session() as s:
            s.add(App(name="lost", mode="chat", dsl_text="", dsl_hash=""))
            await s.flush()
            raise ValueError("boom")
    async with db.session() as s:
        s.add(App(name="kept", mode="chat", dsl_text="", dsl_hash=""))
    async with db.session() as s:
        assert [a.name for a in await s.scalars(select(App))] == ["kept"]


async def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    plus_two = datetime(2025, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as s:
        app = App(name="t", mode="chat", dsl_text="", dsl_hash="", created_at=plus_two)
        s.add(app)
    async with db.session() as s:
        loaded = await s.scalar(select(App).where(App.id == app.id))
        assert loaded is not None
        assert loaded.created_at == plus_two
        assert loaded.created_at.tzinfo == UTC
        assert loaded.updated_at.tzinfo == UTC


async def test_session_before_connect_is_an_error() -> None:
    db = Database("sqlite+aiosqlite://")
    with pytest.raises(RuntimeError):
        async with db.session():
            pass


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
async def test_postgres_connection_killed_while_idle_is_replaced(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle pooled connections are pinged before use (busy ones are not): one the server
    dropped meanwhile (a restart, an idle timeout) is replaced, not handed to a request."""
    database = target.database()
    await database.connect()
    try:
        async with database.session() as session:
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        admin = await asyncpg.connect(dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        monkeypatch.setattr(db_module, "_PING_AFTER_IDLE_SECONDS", 0.0)
        async with database.session() as session:
            fresh = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert fresh != backend
        assert await turns.find_end_user_id(database, "no-app", "nobody") is None
    finally:
        await database.close()
