"""SQLite for the async engine, run inline on the event loop through `sqlite3` itself.

A local SQLite statement takes microseconds; aiosqlite's hop to its worker thread and
back costs ~250 µs per call (several calls per statement), which made the database most
of a chat turn's latency. So SQLite runs without a driver thread: `InlineSQLiteDialect` is
SQLAlchemy's own pysqlite dialect declared async, which SQLAlchemy's asyncio layer drives
in its greenlet like any async dialect; as no call of `sqlite3` ever awaits, every
statement simply runs at once on the loop's thread. Only public APIs are used: a
registered dialect subclass (SQLAlchemy's documented way to add a driver) and `sqlite3`.

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
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool, StaticPool

INLINE_DRIVER = "sqlite+chatflow_inline"


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, run by SQLAlchemy's asyncio layer: statements execute inline."""

    driver = "chatflow_inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        # Waiting for a pooled connection must not block the loop: the asyncio queue pool.
        if cls._is_url_file_db(url):
            return AsyncAdaptedQueuePool
        return StaticPool


registry.register(INLINE_DRIVER.replace("+", "."), __name__, "InlineSQLiteDialect")


def connector(database: str) -> Callable[[], sqlite3.Connection]:
    """The `creator` of a SQLite engine: a `sqlite3` connection to `database` (a path,
    `:memory:` or a `file:` URI). `check_same_thread=False`: the WAL checkpointer's
    thread never uses it, but a pool may close it from a finaliser on another thread."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(database, check_same_thread=False, uri=database.startswith("file:"))

    return connect


def is_sqlite(driver_connection: Any) -> bool:
    return isinstance(driver_connection, sqlite3.Connection)
