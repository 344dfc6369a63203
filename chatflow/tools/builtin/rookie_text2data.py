"""The `rookie_text2data` provider (`jaguarliuu/rookie_text2data`): natural language to
SQL with the app's model (`rookie_text2data`), and `rookie_excute_sql`.

Both use the operator's `tools_sql_url` (read-only by default); the DSL's host, port,
user and password fields are ignored. `rookie_text2data` answers with the SQL as text
(the next node usually executes it), written by the model named in its `model`
configuration from the tables' columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from chatflow.providers.base import ChatMessage, LLMRequest, ModelRegistry
from chatflow.tools.base import (
    JsonMessage,
    TextMessage,
    ToolContext,
    ToolDescriptor,
    ToolError,
    ToolMessage,
    ToolParameter,
)
from chatflow.tools.builtin._kit import BuiltinProvider, FunctionTool, required_text, text_param
from chatflow.tools.builtin._sql import SETTING, markdown_table
from chatflow.tools.builtin.database import shared_database

if TYPE_CHECKING:
    from chatflow.settings import Settings

ID = "rookie_text2data"
FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)

PROMPT = """You write one {dialect} SQL query that answers the question.
Tables and columns:
{schema}
Rules: only SELECT; at most {limit} rows; answer with the SQL only.{custom}"""


def extract_sql(text: str) -> str:
    """The SQL in a model's answer: a fenced block's content, else the whole text."""
    found = FENCE.search(text)
    return (found.group(1) if found else text).strip()


async def _ask(models: ModelRegistry, model: Mapping[str, Any], system: str, query: str) -> str:
    provider = str(model.get("provider") or "")
    name = str(model.get("model") or "")
    llm = models.llm(provider, name)
    request = LLMRequest(
        [ChatMessage(role="system", content=system), ChatMessage(role="user", content=query)],
        params=dict(model.get("completion_params") or {}),
    )
    return "".join([chunk.text async for chunk in llm.stream(request)])


def provider(settings: Settings) -> BuiltinProvider:
    database = shared_database(settings)

    def need() -> Any:
        if database is None:
            raise ToolError(f"the SQL tools need {SETTING}")
        return database

    async def text2data(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        db = need()
        models = ctx.services.get("models")
        if models is None:
            raise ToolError("rookie_text2data needs a model registry")
        model = params.get("model")
        if not isinstance(model, Mapping):
            raise ToolError("rookie_text2data needs its 'model' configuration")
        tables = [t.strip() for t in text_param(params, "table_names").split(",") if t.strip()]
        schema = await db.schema(tables, comments=bool(params.get("with_comment")))
        described = "\n".join(f"- {table}({', '.join(cols)})" for table, cols in schema.items())
        custom = text_param(params, "custom_prompt").strip()
        system = PROMPT.format(
            dialect=db.dialect,
            schema=described or "(none)",
            limit=int(params.get("limit") or 100),
            custom=f"\n{custom}" if custom else "",
        )
        answer = await _ask(models, model, system, required_text(params, "query"))
        yield TextMessage(extract_sql(answer))

    async def execute(params: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        result = await need().execute(required_text(params, "sql"))
        if text_param(params, "result_format", "json") == "json" and result.returns_rows:
            records = result.records()
            yield TextMessage(json.dumps(records, ensure_ascii=False))
            yield JsonMessage(records)
        else:
            yield TextMessage(markdown_table(result))

    formats = ("json", "text")
    tools = [
        FunctionTool(
            ToolDescriptor(
                ID,
                "rookie_text2data",
                "rookie_text2data",
                "Write the SQL that answers a question about the configured database.",
                (
                    ToolParameter("query", "string", "Question", required=True),
                    ToolParameter("model", "object", "Model", form="form"),
                    ToolParameter("table_names", "string", "Tables", "comma-separated"),
                    ToolParameter("custom_prompt", "string", "Extra instructions"),
                    ToolParameter("limit", "number", "Row limit", default=100),
                    ToolParameter(
                        "with_comment", "boolean", "Use column comments", default=False, form="form"
                    ),
                ),
            ),
            text2data,
        ),
        FunctionTool(
            ToolDescriptor(
                ID,
                "rookie_excute_sql",
                "rookie_excute_sql",
                "Run one SQL statement on the configured database.",
                (
                    ToolParameter("sql", "string", "SQL", required=True),
                    ToolParameter(
                        "result_format", "select", "Format", default="json", options=formats
                    ),
                ),
            ),
            execute,
        ),
    ]
    return BuiltinProvider(
        ID,
        ("jaguarliuu/rookie_text2data/rookie_text2data", "jaguarliuu/rookie_text2data"),
        "rookie_text2data",
        tools,
        needs=lambda: None if settings.tools_sql_url else SETTING,
    )
