"""The `database` provider (`hjlarry/database`): `sql_execute` on the operator's database.

The DSL's `db_uri`/`config_options` are ignored: the database is `tools_sql_url`, read-only
unless `tools_sql_read_only` is false (see `_sql`). `format` picks the answer: md, json,
csv, yaml, html as text (json also as JSON output), xlsx as a file.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from chatflow.tools.base import (
    BlobMessage,
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param
from chatflow.tools.builtin._sql import SETTING, QueryResult, SqlDatabase, markdown_table

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "database"
FORMATS = ("json", "md", "csv", "yaml", "xlsx", "html")


def _csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return out.getvalue()


def _html(result: QueryResult) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in result.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in result.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _xlsx(result: QueryResult) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(result.columns)
    for row in result.rows:
        sheet.append([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def messages(result: QueryResult, fmt: str) -> list[ToolMessage]:
    """The answer in `fmt`, as hjlarry/database gives it."""
    if not result.returns_rows:
        return [TextMessage(markdown_table(result))]
    records = result.records()
    if fmt == "json":
        return [TextMessage(json.dumps(records, ensure_ascii=False)), JsonMessage(records)]
    if fmt == "md":
        return [TextMessage(markdown_table(result))]
    if fmt == "csv":
        return [TextMessage(_csv(result))]
    if fmt == "yaml":
        return [TextMessage(yaml.safe_dump(records, allow_unicode=True, sort_keys=False))]
    if fmt == "html":
        return [TextMessage(_html(result))]
    if fmt == "xlsx":
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return [BlobMessage(_xlsx(result), "result.xlsx", mime)]
    raise ToolError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def shared_database(settings: Settings) -> SqlDatabase | None:
    if not settings.tools_sql_url:
        return None
    return SqlDatabase(
        settings.tools_sql_url,
        read_only=settings.tools_sql_read_only,
        max_rows=settings.tools_sql_max_rows,
    )


def provider(settings: Settings) -> BuiltinProvider:
    database = shared_database(settings)

    async def sql_execute(
        params: Mapping[str, Any], ctx: ToolContext
    ) -> AsyncIterator[ToolMessage]:
        if database is None:
            raise ToolError(f"the SQL tools need {SETTING}")
        result = await database.execute(required_text(params, "query"))
        for message in messages(result, text_param(params, "format", "json") or "json"):
            yield message

    descriptor = ToolDescriptor(
        ID,
        "sql_execute",
        "SQL Execute",
        "Run one SQL statement on the configured database.",
        (
            ToolParameter("query", "string", "SQL", "The SQL statement", required=True),
            ToolParameter(
                "format", "select", "Format", default="json", options=FORMATS, form="form"
            ),
        ),
    )
    return BuiltinProvider(
        ID,
        ("hjlarry/database/database", "hjlarry/database", "sql"),
        "Database",
        [FunctionTool(descriptor, sql_execute)],
        needs=lambda: None if settings.tools_sql_url else SETTING,
    )
