"""The SQL tools' database: the operator's `tools_sql_url`, never a DSL's connection fields.

Read-only (the default) is enforced by the database, not by looking at the SQL text:
SQLite is opened with `mode=ro` plus `PRAGMA query_only`, and an authorizer denies ATTACH
and PRAGMA assignments; PostgreSQL connections start
with `default_transaction_read_only=on` and every call runs in a `READ ONLY` transaction
that is rolled back. Other databases are refused in read-only mode (we cannot promise
it there). One statement per call, run as the driver gets it (no bind-parameter parsing),
each on a fresh connection, with a statement timeout and a row cap.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from chatflow.tools.base import ToolError

SETTING = "CHATFLOW_TOOLS_SQL_URL"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    returns_rows: bool
    rowcount: int = -1
    truncated: bool = False

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


def _async_url(raw: str, read_only: bool) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as error:
        raise ToolError(f"{SETTING} is not a database URL: {error}") from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
        if read_only and url.database and url.database != ":memory:":
            # The driver opens the file read-only: writes fail inside SQLite itself.
            url = url.set(database=f"file:{url.database}?mode=ro").update_query_dict(
                {"uri": "true"}
            )
    elif backend == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    elif read_only:
        raise ToolError(
            f"read-only SQL is enforced on sqlite and postgresql only; {backend} needs "
            "CHATFLOW_TOOLS_SQL_READ_ONLY=false"
        )
    return url


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def single_statement(sql: str) -> str:
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise ToolError("the SQL statement is empty")
    return text


class SqlDatabase:
    """Runs one statement per call against the configured database."""

    def __init__(self, url: str, *, read_only: bool = True, max_rows: int = 1000) -> None:
        self.read_only = read_only
        self.max_rows = max_rows
        self._url = _async_url(url, read_only)
        self._engine: AsyncEngine | None = None

    @property
    def dialect(self) -> str:
        return self._url.get_backend_name()

    def _open(self) -> AsyncEngine:
        if self._engine is not None:
            return self._engine
        connect_args: dict[str, Any] = {}
        if self.dialect == "postgresql":
            settings = {"statement_timeout": str(TIMEOUT_SECONDS * 1000)}
            if self.read_only:
                settings["default_transaction_read_only"] = "on"
            connect_args["server_settings"] = settings
        try:
            engine = create_async_engine(self._url, poolclass=NullPool, connect_args=connect_args)
        except (NoSuchModuleError, ImportError) as error:
            raise ToolError(f"no driver installed for {self._url.drivername}: {error}") from error
        if self.dialect == "sqlite" and self.read_only:

            @event.listens_for(engine.sync_engine, "connect")
            def _query_only(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA query_only = ON")
                cursor.close()
                # ATTACH would create files (attached databases are not opened read-only)
                # and a PRAGMA assignment could lift query_only: the statement is denied.
                dbapi_connection.run_async(lambda conn: conn.set_authorizer(_sqlite_guard))

        self._engine = engine
        return engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _begin(self, conn: AsyncConnection) -> None:
        if self.read_only and self.dialect == "postgresql":
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    async def execute(self, sql: str) -> QueryResult:
        statement = single_statement(sql)
        try:
            async with self._open().connect() as conn:
                await conn.begin()
                await self._begin(conn)
                result = await conn.exec_driver_sql(statement)
                if result.returns_rows:
                    columns = [str(key) for key in result.keys()]
                    fetched = result.fetchmany(self.max_rows + 1)
                    rows = [[_jsonable(v) for v in row] for row in fetched[: self.max_rows]]
                    outcome = QueryResult(
                        columns, rows, True, truncated=len(fetched) > self.max_rows
                    )
                else:
                    outcome = QueryResult([], [], False, rowcount=result.rowcount)
                if self.read_only:
                    await conn.rollback()
                else:
                    await conn.commit()
                return outcome
        except DBAPIError as error:
            raise ToolError(f"SQL error: {_first_line(error.orig) or error}") from error
        except SQLAlchemyError as error:
            raise ToolError(f"SQL error: {error}") from error

    async def schema(
        self, tables: Sequence[str] = (), *, comments: bool = False
    ) -> dict[str, list[str]]:
        """Column descriptions (`name type [-- comment]`) of the named or all tables."""

        def read(sync_conn: Any) -> dict[str, list[str]]:
            inspector = inspect(sync_conn)
            names = list(tables) or inspector.get_table_names()
            out: dict[str, list[str]] = {}
            for name in names:
                columns = []
                for column in inspector.get_columns(name):
                    line = f"{column['name']} {column['type']}"
                    if comments and column.get("comment"):
                        line += f" -- {column['comment']}"
                    columns.append(line)
                out[name] = columns
            return out

        try:
            async with self._open().connect() as conn:
                return await conn.run_sync(read)
        except SQLAlchemyError as error:
            raise ToolError(f"could not read the database schema: {error}") from error


_SQLITE_ATTACH, _SQLITE_DETACH, _SQLITE_PRAGMA = 24, 25, 19
_SQLITE_OK, _SQLITE_DENY = 0, 1
# Pragmas that take an argument yet only read (schema introspection).
_READ_PRAGMAS = frozenset(
    ("table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
     "foreign_key_list", "table_list")
)  # fmt: skip


def _sqlite_guard(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action in (_SQLITE_ATTACH, _SQLITE_DETACH):
        return _SQLITE_DENY
    if action == _SQLITE_PRAGMA and arg2 is not None and (arg1 or "").lower() not in _READ_PRAGMAS:
        return _SQLITE_DENY
    return _SQLITE_OK


def _first_line(error: Any) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""


def markdown_table(result: QueryResult) -> str:
    if not result.returns_rows:
        return f"Statement executed; {result.rowcount} rows affected."

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in result.columns) + " |",
        "| " + " | ".join("---" for _ in result.columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in result.rows]
    return "\n".join(lines)
