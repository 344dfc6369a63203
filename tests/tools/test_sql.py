"""SQL tools on a real SQLite file and a real Postgres: results in each format, and
read-only enforced by the database itself (writes, CTE writes, stacked statements,
ATTACH and mode switches all fail), writes only when the operator allows them."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import openpyxl
import pytest
from sqlalchemy import make_url

from chatflow.providers.base import LLMRequest
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.tools.base import BlobMessage, JsonMessage, ToolError, ToolNotConfigured
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService
from tests.tools.conftest import call, postgres_or_skip, settings, texts

SQL = "hjlarry/database/database"
ROOKIE = "jaguarliuu/rookie_text2data/rookie_text2data"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, price REAL)")
        conn.executemany(
            "INSERT INTO orders (item, price) VALUES (?, ?)",
            [("pen", 1.5), ("书", 12.0), ("lamp", 30.25)],
        )
    return f"sqlite:///{path}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[tuple[str, str]]:
    url = postgres_or_skip()
    table = f"tooltest_{uuid.uuid4().hex[:10]}"
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, item text, price numeric)")
    await conn.execute(f"INSERT INTO {table} (item, price) VALUES ('pen', 1.5), ('书', 12)")
    try:
        yield url, table
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


async def test_formats_on_sqlite(tmp_path: Path, sqlite_url: str) -> None:
    query = "SELECT item, price FROM orders ORDER BY id"

    async def run(fmt: str) -> list[object]:
        params = {"query": query, "format": fmt}
        return list(await call(tmp_path, SQL, "sql_execute", params, tools_sql_url=sqlite_url))

    md = texts(await run("md"))  # type: ignore[arg-type]
    assert md.splitlines()[:3] == ["| item | price |", "| --- | --- |", "| pen | 1.5 |"]
    as_json = await run("json")
    records = [
        {"item": "pen", "price": 1.5},
        {"item": "书", "price": 12},
        {"item": "lamp", "price": 30.25},
    ]
    assert JsonMessage(records) in as_json
    assert json.loads(texts(as_json)) == records  # type: ignore[arg-type]
    assert texts(await run("csv")).splitlines()[0] == "item,price"  # type: ignore[arg-type]
    assert "- item: pen" in texts(await run("yaml"))  # type: ignore[arg-type]
    (blob,) = await run("xlsx")
    assert isinstance(blob, BlobMessage)
    sheet = openpyxl.load_workbook(io.BytesIO(blob.data)).active
    assert sheet is not None and sheet["A3"].value == "书"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM orders",
        "UPDATE orders SET price = 0",
        "CREATE TABLE evil (a)",
        "DROP TABLE orders",
        "WITH x AS (SELECT 1) INSERT INTO orders (item) SELECT 'x' FROM x",
        "SELECT 1; DELETE FROM orders",
    ],
)
async def test_sqlite_read_only_is_enforced(
    tmp_path: Path, sqlite_url: str, statement: str
) -> None:
    with pytest.raises(ToolError, match="SQL error"):
        await call(tmp_path, SQL, "sql_execute", {"query": statement}, tools_sql_url=sqlite_url)
    with sqlite3.connect(make_url(sqlite_url).database or "") as conn:
        assert conn.execute("SELECT count(*), sum(price) FROM orders").fetchone() == (3, 43.75)


async def test_sqlite_cannot_attach_or_create_files(tmp_path: Path, sqlite_url: str) -> None:
    target = tmp_path / "created.db"
    with pytest.raises(ToolError):
        await call(
            tmp_path,
            SQL,
            "sql_execute",
            {"query": f"ATTACH DATABASE '{target}' AS o"},
            tools_sql_url=sqlite_url,
        )
    assert not target.exists()
    with pytest.raises(ToolError, match="not authorized"):
        await call(
            tmp_path,
            SQL,
            "sql_execute",
            {"query": "PRAGMA query_only = OFF"},
            tools_sql_url=sqlite_url,
        )
    # Reading pragmas still works.
    info = await call(
        tmp_path,
        SQL,
        "sql_execute",
        {"query": "PRAGMA table_info(orders)"},
        tools_sql_url=sqlite_url,
    )
    assert "price" in texts(info)
    with pytest.raises(ToolError, match="readonly"):
        await call(
            tmp_path, SQL, "sql_execute", {"query": "DELETE FROM orders"}, tools_sql_url=sqlite_url
        )


async def test_writes_when_allowed(tmp_path: Path, sqlite_url: str) -> None:
    messages = await call(
        tmp_path,
        ROOKIE,
        "rookie_excute_sql",
        {"sql": "INSERT INTO orders (item, price) VALUES ('cup', 2)", "result_format": "text"},
        tools_sql_url=sqlite_url,
        tools_sql_read_only=False,
    )
    assert texts(messages) == "Statement executed; 1 rows affected."
    with sqlite3.connect(make_url(sqlite_url).database or "") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (4,)


async def test_postgres_results_and_read_only(
    tmp_path: Path, postgres_url: tuple[str, str]
) -> None:
    url, table = postgres_url
    params = {"sql": f"SELECT item, price FROM {table} ORDER BY id", "result_format": "json"}
    messages = await call(tmp_path, ROOKIE, "rookie_excute_sql", params, tools_sql_url=url)
    assert JsonMessage([{"item": "pen", "price": 1.5}, {"item": "书", "price": 12}]) in messages
    for statement in (
        f"DELETE FROM {table}",
        f"WITH d AS (DELETE FROM {table} RETURNING *) SELECT * FROM d",
        f"SELECT 1; DELETE FROM {table}",
        f"SET TRANSACTION READ WRITE; DELETE FROM {table}",
        f"CREATE TABLE {table}_evil (a int)",
    ):
        with pytest.raises(ToolError, match="SQL error"):
            await call(tmp_path, SQL, "sql_execute", {"query": statement}, tools_sql_url=url)
    # Switches alone run, but do not carry over: every call is a fresh connection and
    # one statement.
    for switch in (
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "SET TRANSACTION READ WRITE",
        "SET default_transaction_read_only = off",
    ):
        await call(tmp_path, SQL, "sql_execute", {"query": switch}, tools_sql_url=url)
    with pytest.raises(ToolError, match="read-only"):
        await call(
            tmp_path, SQL, "sql_execute", {"query": f"DELETE FROM {table}"}, tools_sql_url=url
        )
    count = await call(
        tmp_path,
        SQL,
        "sql_execute",
        {"query": f"SELECT count(*) AS n FROM {table}", "format": "md"},
        tools_sql_url=url,
    )
    assert texts(count).splitlines()[-1] == "| 2 |"


class SqlWriter(FakeLLM):
    """A model that writes fenced SQL and records what it was asked."""

    def __init__(self) -> None:
        super().__init__(["```sql\nSELECT item FROM orders WHERE price > 10\n```"])
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


async def test_text2data_writes_sql_from_the_schema(tmp_path: Path, sqlite_url: str) -> None:
    writer = SqlWriter()
    runtime = ToolRuntimeService(
        build_registry(settings(tmp_path, tools_sql_url=sqlite_url)),
        services={"models": FakeRegistry(writer)},
    )
    params = {
        "query": "expensive items?",
        "model": {"provider": "langgenius/deepseek/deepseek", "model": "deepseek-chat"},
        "db_type": "mysql",
        "host": "host.docker.internal",
        "password": "ignored",
    }
    messages = await call(tmp_path, ROOKIE, "rookie_text2data", params, runtime=runtime)
    assert texts(messages) == "SELECT item FROM orders WHERE price > 10"
    system = writer.requests[0].messages[0].content
    assert "orders(id INTEGER, item TEXT, price REAL)" in system and "sqlite" in system


async def test_missing_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ToolNotConfigured, match="set CHATFLOW_TOOLS_SQL_URL"):
        await call(tmp_path, SQL, "sql_execute", {"query": "SELECT 1"})
