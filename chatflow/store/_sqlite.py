"""SQLite for the async engine, run inline on the event loop through `sqlite3` itself.

A local SQLite statement takes microseconds; aiosqlite's hop to its worker thread and
back costs ~250 µs per call (several calls per statement), which made the database most
of a chat turn's latency. So SQLite runs without a driver thread: `InlineSQLiteDialect` is
SQLAlchemy's own pysqlite dialect declared async, which SQLAlchemy's asyncio layer drives
in its greenlet like any async dialect; as no call of `sqlite3` ever awaits, every
statement simply runs at once on the loop's thread. Only public APIs are used: a
registered dialect subclass (SQLAlchemy's documented way to add a driver) and `sqlite3`.

SQLAlchemy's asyncio layer expects two things of an async driver, and gets them: each
statement awaits something (`AsyncConnection.execute` checks; after each statement the
dialect hands the loop one finished awaitable, `_touch_loop`: one greenlet round trip,
~1 µs, where aiosqlite made several thread hops), and a result's cursor can be closed
asynchronously (`_Cursor._async_soft_close`: a `sqlite3` cursor has its rows at hand, so
there is nothing to do). `Database.write` / `read_one` run below SQLAlchemy and skip both.
There are no server-side cursors (`AsyncConnection.stream`): a local result is read at once.

Every `sqlite` URL (`sqlite+aiosqlite://...` in settings and tests) is served by it:
`Database` swaps the driver name for `INLINE_DRIVER`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import URL
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool, StaticPool

try:  # SQLAlchemy 2.1; 2.0 names it `await_only`
    from sqlalchemy.util import await_
except ImportError:  # pragma: no cover
    from sqlalchemy.util import await_only as await_

INLINE_DRIVER = "sqlite+chatflow_inline"


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, run by SQLAlchemy's asyncio layer: statements execute inline."""

    driver = "chatflow_inline"
    is_async = True
    supports_statement_cache = True

    def do_execute(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]
        _touch_loop()

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]
        _touch_loop()

    def do_execute_no_params(
        self, cursor: DBAPICursor, statement: str, context: ExecutionContext | None = None
    ) -> None:
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]
        _touch_loop()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        # Waiting for a pooled connection must not block the loop: the asyncio queue pool.
        if cls._is_url_file_db(url):
            return AsyncAdaptedQueuePool
        return StaticPool


async def _done() -> None:
    pass


def _touch_loop() -> None:
    """Await a finished coroutine: what `AsyncConnection.execute` checks for."""
    await_(_done())


registry.register(INLINE_DRIVER.replace("+", "."), __name__, "InlineSQLiteDialect")


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio results call on an async driver's cursor."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


def connector(database: str) -> Callable[[], sqlite3.Connection]:
    """The `creator` of a SQLite engine: a `sqlite3` connection to `database` (a path,
    `:memory:` or a `file:` URI). `check_same_thread=False`: the WAL checkpointer's
    thread never uses it, but a pool may close it from a finaliser on another thread."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            database,
            check_same_thread=False,
            uri=database.startswith("file:"),
            factory=_Connection,
        )

    return connect


def is_sqlite(driver_connection: Any) -> bool:
    return isinstance(driver_connection, sqlite3.Connection)
