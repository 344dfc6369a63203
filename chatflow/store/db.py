"""The database handle: one async engine, its migrations and its sessions.

`Database(url)` works with `sqlite+aiosqlite:///path` (the default, one file in the data
dir) and `postgresql+asyncpg://...` (scale-out). `connect()` brings the schema to the
newest Alembic revision on every start, so a fresh data dir and an old one both just work;
it is safe to call twice and safe for several workers starting together (Postgres takes an
advisory lock, SQLite an immediate write lock, around the upgrade).

SQLite statements run inline on the event loop (`_sqlite.py`: no driver thread). With
inline execution one connection serves the whole process (pool of one, checked out
asynchronously), so two sessions of this process never wait on each other's SQLite locks
while blocking the loop; sessions queue for the connection instead.

A run's own statements skip SQLAlchemy's execution layer (`write`, `read_one`; see
`direct.py`). `write`s of concurrent runs are committed together (`chatflow/batching.py`): one
transaction per batch, each write still whole and failing alone. On SQLite, when no
transaction is open on the connection, a batch runs synchronously on it: nothing else can
run on the event loop meanwhile, so the transaction is whole.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, exc, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from chatflow.batching import GroupCommit
from chatflow.engine.files import File
from chatflow.store._sqlite import INLINE_DRIVER, connector, is_sqlite
from chatflow.store.checkpoint import BACKSTOP_PAGES, JOURNAL_SIZE_LIMIT, WalCheckpointer
from chatflow.store.direct import Bound, Statement, Write, WriteMany, single_statement

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant: every chatflow worker migrating one Postgres database shares this lock.
_PG_MIGRATION_LOCK = 0x63686174666C6F77 & 0x7FFFFFFFFFFFFFFF

# Seconds a session may wait for a pooled connection before the request fails (503).
DEFAULT_POOL_TIMEOUT = 120.0
# A Postgres connection idle in the pool this long is pinged before it is handed out.
_PING_AFTER_IDLE_SECONDS = 10.0

# Each SQLite connection's page cache (the `sqlite_cache_mb` setting's default).
DEFAULT_SQLITE_CACHE_MB = 32

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer
    "PRAGMA foreign_keys=ON",  # ON DELETE CASCADE needs it; off by default in SQLite
    "PRAGMA busy_timeout=10000",  # wait for the writer instead of failing at once
    "PRAGMA synchronous=NORMAL",  # safe with WAL, far fewer fsyncs
    # Checkpoints (and their fsyncs) run on a thread (`checkpoint.py`); this is a backstop.
    f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}",
    f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}",  # shrink the WAL after a burst
    # Read pages through a memory map, not read() into a copy: after another connection's
    # commit or a checkpoint a connection reads its pages again. 256 MiB of address space.
    "PRAGMA mmap_size=268435456",
)


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_default(value: Any) -> Any:
    """What orjson has no type for: a file as Dify's file dict (so every stored file has
    the shape `file_inputs.restore` reads back), other dataclasses as their fields."""
    if isinstance(value, File):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError


def _json_dumps(value: Any) -> str:
    """JSON column text: compact UTF-8, non-ASCII kept as is (keyword search over JSON
    columns finds it). orjson is ~5x faster than `json`, which still handles (or rejects)
    whatever orjson has no type for."""
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


class Database:
    """An async engine plus its session factory; `connect()` before use, `close()` after."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        sqlite_cache_mb: int = DEFAULT_SQLITE_CACHE_MB,
        echo: bool = False,
    ) -> None:
        """`schema` (Postgres only) puts every table in that schema via `search_path`;
        `sqlite_cache_mb` is each SQLite connection's page cache."""
        self.url = make_url(url)
        self.schema = schema
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._pool_timeout = pool_timeout
        self._sqlite_cache_mb = sqlite_cache_mb
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._lock = asyncio.Lock()
        # The process's one inline SQLite connection, while the pool holds it open.
        self._inline: sqlite3.Connection | None = None
        self._checkpointer: WalCheckpointer | None = None
        # True while the checkpointer holds the connection (no direct writes meanwhile).
        self._exclusive = False
        # Direct writes and reads share the pool's steady connections: past `pool_size`
        # at once they wait here rather than open overflow connections, which the pool
        # closes again on return (a Postgres connection per request under load).
        self._direct_slots = asyncio.Semaphore(pool_size)
        # Run writes of concurrent turns share transactions (`write`).
        self._group: GroupCommit[list[Bound]] = GroupCommit(
            self._commit_batch, observe=_observe_batch
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The connected engine; raises if `connect()` has not run."""
        if self._engine is None:
            raise RuntimeError("Database.connect() has not been called")
        return self._engine

    def _sqlite_on_connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        # A negative cache_size is in KiB. A large cache (the default 32 MB, SQLite's own is
        # 2 MB) matters because ids are random UUIDs: every insert lands on a random index
        # page, which a small cache reads back from disk each time as the database grows.
        cursor.execute(f"PRAGMA cache_size=-{self._sqlite_cache_mb * 1024}")
        cursor.close()

    async def connect(self) -> None:
        """Create the engine and apply pending migrations; a no-op when already connected."""
        async with self._lock:
            if self._engine is not None:
                return
            engine = self._create_engine()
            try:
                async with engine.connect() as conn:
                    await conn.run_sync(self._upgrade)
                    await conn.commit()
            except BaseException:
                await engine.dispose()
                raise
            _count_checkouts(engine)
            self._engine = engine
            self._sessions = async_sessionmaker(engine, expire_on_commit=False)
            if self._checkpointer is not None:
                self._checkpointer.start()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        if self._sessions is None:
            raise RuntimeError("Database.connect() has not been called")
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def write(self, writes: Sequence[Write | WriteMany]) -> None:
        """Run `writes` in one transaction straight on the driver connection; returns
        once they are committed. Concurrent calls are committed together (`chatflow/batching.py`),
        each still all or nothing and failing on its own. On Postgres a call's writes run
        as one statement when they allow it (see `direct.single_statement`): so no write
        may depend on another's effects."""
        dialect = self.engine.dialect
        await self._group.submit([w.bound(dialect) for w in writes])

    async def _commit_batch(self, batch: list[list[Bound]]) -> Sequence[BaseException | None]:
        """`GroupCommit`'s flush: the batch in one transaction, one outcome per write."""
        free = self._free_sqlite()
        if free is not None:
            return _write_sqlite_batch(free, batch)
        async with self._direct_slots, self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            if self.dialect == "sqlite":
                return _write_sqlite_batch(driver, batch)
            return await _write_asyncpg_batch(driver, batch)

    async def write_counted(self, writes: Sequence[Write | WriteMany]) -> int:
        """`write`, statement by statement in one transaction, returning the rows the
        last write changed (for a guarded UPDATE whose count decides: did this write end
        the row's state, or had someone else)."""
        dialect = self.engine.dialect
        free = self._free_sqlite()
        if free is not None:
            return _write_sqlite(free, [w.bound(dialect) for w in writes])
        async with self._direct_slots, self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            bound = [w.bound(dialect) for w in writes]
            if self.dialect == "sqlite":
                return _write_sqlite(driver, bound)
            return await _write_asyncpg(driver, bound, merge=False)

    async def read_one(
        self, statement: Statement, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row (driver values) of a SELECT run straight on the driver, or None."""
        compiled = statement.compiled(self.engine.dialect)
        args = compiled.args(params)
        free = self._free_sqlite()
        if free is not None:
            found = free.execute(compiled.sql, args).fetchone()
        else:
            async with self._direct_slots, self.engine.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                if self.dialect == "sqlite":
                    found = driver.execute(compiled.sql, args).fetchone()
                else:
                    found = await driver.fetchrow(compiled.sql, *args)
        return None if found is None else tuple(found)

    @asynccontextmanager
    async def _hold_connection(self) -> AsyncIterator[None]:
        """Keep this process's connection checked out (and so idle) for the block."""
        async with self.engine.connect():
            self._exclusive = True
            try:
                yield
            finally:
                self._exclusive = False

    def _free_sqlite(self) -> sqlite3.Connection | None:
        """The inline SQLite connection when no transaction is open on it, else None.

        A session may hold it checked out between statements: a whole synchronous
        transaction in between is then like another connection's commit. Waiting for
        the pool instead would make every request queue behind the first that did.
        """
        connection = self._inline
        if connection is None or self._exclusive or connection.in_transaction:
            return None
        return connection

    def _track_inline(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        driver = record.driver_connection
        if is_sqlite(driver):
            self._inline = driver

    def _forget_inline(self, dbapi_connection: Any, record: ConnectionPoolEntry, *_: Any) -> None:
        if record.driver_connection is self._inline:
            self._inline = None

    async def close(self) -> None:
        """Dispose of the pool; `connect()` may be called again afterwards."""
        async with self._lock:
            await self._group.drain()  # writes already handed over still commit
            if self._checkpointer is not None:
                await self._checkpointer.stop()
                self._checkpointer = None
            if self._engine is not None:
                await self._engine.dispose()
            self._engine = None
            self._sessions = None
            self._inline = None

    def _create_engine(self) -> AsyncEngine:
        kwargs: dict[str, Any] = {"echo": self._echo, "json_serializer": _json_dumps}
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if database in ("", ":memory:"):
                # One shared connection, or every session would see its own empty database.
                database = ":memory:"
                kwargs["poolclass"] = StaticPool
            else:
                if not database.startswith("file:"):
                    database = str(Path(database).expanduser())
                    _private_database_file(Path(database))
                self._checkpointer = WalCheckpointer(database, self._hold_connection)
                # One connection for the process (see the module docstring); waiting for
                # it is asynchronous, and long enough to ride out a burst of requests.
                kwargs.update(pool_size=1, max_overflow=0, pool_timeout=self._pool_timeout)
            kwargs["creator"] = connector(database)
            engine = create_async_engine(self.url.set(drivername=INLINE_DRIVER), **kwargs)
            event.listen(engine.sync_engine, "connect", self._sqlite_on_connect)
            event.listen(engine.sync_engine, "connect", self._track_inline)
            for closing in ("close", "invalidate", "soft_invalidate", "detach"):
                event.listen(engine.sync_engine.pool, closing, self._forget_inline)
            return engine
        kwargs.update(
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            pool_timeout=self._pool_timeout,
            pool_recycle=1800,
        )
        if self.schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
        engine = create_async_engine(self.url, **kwargs)
        _ping_when_idle(engine)
        return engine

    def _upgrade(self, conn: Connection) -> None:
        """Run `alembic upgrade head` on `conn`, serialised against other workers."""
        if self.dialect == "sqlite":
            # Take the write lock up front: the whole upgrade is one transaction, and a
            # second worker waits (busy_timeout) and then finds nothing left to do.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            if self.schema:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _write_sqlite(connection: sqlite3.Connection, writes: list[Bound]) -> int:
    """Run `writes` in one transaction; the rows the last one changed."""
    try:
        changed = _run_sqlite(connection, writes)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return changed


def _run_sqlite(connection: sqlite3.Connection, writes: list[Bound]) -> int:
    """Run `writes` in the open transaction; the rows the last one changed."""
    changed = 0
    for sql, args in writes:
        if isinstance(args, list):
            changed = connection.executemany(sql, args).rowcount
        else:
            changed = connection.execute(sql, args).rowcount
    return changed


def _write_sqlite_batch(
    connection: sqlite3.Connection, batch: list[list[Bound]]
) -> list[BaseException | None]:
    """The batch in one transaction. First as one `executemany` per statement (`_merged`):
    when a statement fails, that is rolled back and the batch rerun with each write in a
    SAVEPOINT of its own, so a failing write is rolled back to it and reported, the
    others commit."""
    if len(batch) == 1:  # its own transaction: no savepoint needed
        try:
            _write_sqlite(connection, batch[0])
        except Exception as error:
            return [error]
        return [None]
    merged = _merged(batch)
    if merged is not None:
        try:
            connection.execute("BEGIN")
            try:
                for sql, rows in merged:
                    connection.executemany(sql, rows)
            except Exception:
                connection.rollback()  # a write failed: find it, write by write, below
            else:
                connection.commit()
                return [None] * len(batch)
        except BaseException:
            connection.rollback()
            raise
    outcomes: list[BaseException | None] = []
    try:
        connection.execute("BEGIN")
        for writes in batch:
            connection.execute("SAVEPOINT turn")
            try:
                _run_sqlite(connection, writes)
            except Exception as error:
                connection.execute("ROLLBACK TO turn")
                outcomes.append(error)
            else:
                outcomes.append(None)
            connection.execute("RELEASE turn")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return outcomes


def _merged(batch: list[list[Bound]]) -> list[tuple[str, list[tuple[Any, ...]]]] | None:
    """The batch's rows grouped by statement, the statements in the order they first
    appear: one `executemany` each instead of one call per row and a savepoint per write.
    None when a write runs its statements in another order (then it could not keep its
    own). Rows of one statement keep the batch's order; the writes of a batch are
    concurrent, so statements of different writes need no order between them."""
    grouped: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}
    for writes in batch:
        at = 0  # each write's statements must come in the merged order
        for sql, args in writes:
            group = grouped.get(sql)
            if group is None:
                group = grouped[sql] = (len(grouped), [])
            elif group[0] < at:
                return None
            at = group[0]
            if isinstance(args, list):
                group[1].extend(args)
            else:
                group[1].append(args)
    return [(sql, rows) for sql, (_, rows) in grouped.items()]


async def _write_asyncpg(driver: Any, writes: list[Bound], *, merge: bool = True) -> int:
    """Run `writes` in one transaction (`merge`: as one statement when they allow it,
    whose count is then not the last write's); the rows the last one changed."""
    statement = single_statement(writes) if merge else None
    if statement is not None:  # one round trip, atomic on its own
        await driver.execute(statement[0], *statement[1])
        return 0
    async with driver.transaction():
        return await _run_asyncpg(driver, writes)


async def _run_asyncpg(driver: Any, writes: list[Bound]) -> int:
    """Run `writes` in the open transaction; the rows the last one changed."""
    changed = 0
    for sql, args in writes:
        if isinstance(args, list):
            await driver.executemany(sql, args)
            changed = len(args)
        else:
            # asyncpg answers with the command tag: "UPDATE 1", "INSERT 0 3".
            changed = int((await driver.execute(sql, *args)).rsplit(" ", 1)[-1] or 0)
    return changed


async def _write_asyncpg_batch(driver: Any, batch: list[list[Bound]]) -> list[BaseException | None]:
    """The batch in one transaction: the writes that make one statement grouped by its
    text, each group one pipelined `executemany` (a few round trips for the whole batch).
    A failing write aborts the transaction: then every write is rerun in its own, so
    only the bad one fails."""
    if len(batch) > 1:
        grouped: dict[str, list[list[Any]]] = {}
        apart: list[list[Bound]] = []
        for writes in batch:
            statement = single_statement(writes)
            if statement is None:
                apart.append(writes)
            else:
                grouped.setdefault(statement[0], []).append(statement[1])
        try:
            async with driver.transaction():
                for sql, rows in grouped.items():
                    if len(rows) == 1:
                        await driver.execute(sql, *rows[0])
                    else:
                        await driver.executemany(sql, rows)
                for writes in apart:
                    await _run_asyncpg(driver, writes)
            return [None] * len(batch)
        except Exception as error:
            if driver.is_closed():
                return [error] * len(batch)
    outcomes: list[BaseException | None] = []
    for writes in batch:
        try:
            await _write_asyncpg(driver, writes)
        except Exception as error:
            if driver.is_closed():
                raise
            outcomes.append(error)
        else:
            outcomes.append(None)
    return outcomes


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled Postgres connection only when it sat idle for a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip, ~300 µs of this
    process's CPU, on every request. A connection in steady use cannot have gone stale
    unnoticed, so only one idle for `_PING_AFTER_IDLE_SECONDS` is pinged (a server
    restart or an idle timeout is then caught before a request uses it); a failed ping
    makes the pool drop it and connect again (SQLAlchemy's "pessimistic" checkout event).
    """
    dialect = engine.dialect

    def checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["checked_in"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.get("checked_in")
        if idle_since is None or time.monotonic() - idle_since < _PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"stale connection: {error}") from error

    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "checkout", checkout)


def _private_database_file(path: Path) -> None:
    """The data dir 0700 when we create it, the database file 0600 (SQLite gives its WAL
    and shared-memory files the same mode): conversations and key hashes are private."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _observe_batch(size: int) -> None:
    from chatflow.observability import metrics as m

    m.DB_GROUP_COMMIT_WRITES.observe(size)


def _count_checkouts(engine: AsyncEngine) -> None:
    """Keep `chatflow_db_pool_checked_out` current (the pool tells us each hand-out)."""
    from chatflow.observability import metrics as m

    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", lambda *_: m.DB_POOL_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: m.DB_POOL_IN_USE.dec())
