"""The essential work of a blocking chat, served bare: a lower bound for any design of ours.

`python -m bench._server essentials --port P` (after importing the benchmark apps as
`ours` does) serves `POST /v1/chat-messages` doing only what a blocking turn cannot do
without, with the same parts our server uses for it:

- read the JSON body (orjson) and check `query` and `user`;
- find the app by its key's hash (`hash_token`, a dict filled at start-up);
- run the app's graph on our engine (`run_graph`, the app as `chatflow.dsl` loads it);
- write the turn's rows to the real schema (a new conversation, its message, the workflow
  run, one node execution per node: five for echo.yml) with `chatflow.store`'s own JSON
  and timestamp encoders, the requests of one event-loop pass in one transaction
  (`executemany` per table, as our group commit does);
- answer the blocking response's JSON (`chatflow.api._json.dumps`, as ours does).

Nothing else: no middleware, request ids, metrics or logs, no run limits, stop registry
or stream kept for resuming, no moderation, annotations, pauses, conversation naming or
error envelopes. `python -m bench.server_cpu CHECKOUT --floor --essentials` measures it
beside ours and the bare floor, so our server's CPU per chat splits into the work itself
(this server) and what our design adds around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatflow.api._json import dumps
from chatflow.engine.events import NodeFinished, RunFinished, TextChunk
from chatflow.engine.graph import Graph
from chatflow.engine.nodes.base import EngineServices
from chatflow.engine.runner import run_graph
from chatflow.engine.variables import VariablePool
from chatflow.ids import uuid4, uuid7
from chatflow.store._types import _sqlite_text
from chatflow.store.apps import hash_token
from chatflow.store.checkpoint import WalCheckpointer
from chatflow.store.db import _SQLITE_PRAGMAS, DEFAULT_SQLITE_CACHE_MB, _json_dumps

# What the fake model reports for a turn that used none: our answer's `metadata.usage`.
USAGE = {
    "prompt_tokens": 0,
    "prompt_unit_price": "0",
    "prompt_price_unit": "0",
    "prompt_price": "0",
    "completion_tokens": 0,
    "completion_unit_price": "0",
    "completion_price_unit": "0",
    "completion_price": "0",
    "total_tokens": 0,
    "total_price": "0",
    "currency": "USD",
    "latency": 0.0,
}
_USAGE_TEXT = _json_dumps(USAGE)
_METADATA_TEXT = _json_dumps({"usage": USAGE, "retriever_resources": []})

# The columns a turn sets, per table (the rest keep their defaults).
COLUMNS = {
    "conversations": (
        "id", "app_id", "end_user_id", "name", "inputs", "status", "introduction",
        "dialogue_count", "created_at", "updated_at",
    ),
    "messages": (
        "id", "app_id", "conversation_id", "end_user_id", "parent_message_id", "query",
        "inputs", "answer", "status", "error", "message_tokens", "answer_tokens", "usage",
        "message_metadata", "latency", "workflow_run_id", "files", "created_at", "updated_at",
    ),
    "workflow_runs": (
        "id", "app_id", "workflow_id", "version", "conversation_id", "message_id",
        "triggered_from", "status", "inputs", "outputs", "error", "elapsed_time",
        "total_tokens", "total_steps", "exceptions_count", "created_by_end_user_id",
        "created_at", "finished_at",
    ),
    "node_executions": (
        "id", "workflow_run_id", "node_id", "node_type", "title", "index",
        "predecessor_node_id", "inputs", "process_data", "outputs", "status", "error",
        "elapsed_time", "execution_metadata", "created_at", "finished_at",
    ),
}  # fmt: skip
INSERTS = {
    table: f"INSERT INTO {table} ({', '.join(f'{c!r}' for c in columns)}) "
    f"VALUES ({', '.join('?' * len(columns))})"
    for table, columns in COLUMNS.items()
}

Row = tuple[Any, ...]
Turn = list[tuple[str, Row]]


def text_time(seconds: float) -> str:
    """A time as our rows store it (SQLAlchemy's SQLite DATETIME text, UTC)."""
    return str(_sqlite_text(datetime.fromtimestamp(seconds, UTC)))


def connect(database: Path) -> sqlite3.Connection:
    """A connection set up as our server's (`chatflow.store.db`): WAL, the same pragmas."""
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    for pragma in _SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.execute(f"PRAGMA cache_size=-{DEFAULT_SQLITE_CACHE_MB * 1024}")
    return connection


class EndUsers:
    """End-user ids by (app id, user), created on first use and then cached, as ours are."""

    def __init__(self, connection: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._connection = connection
        self._clock = clock
        self._ids: dict[tuple[str, str], str] = {}

    def get(self, app_id: str, user: str) -> str:
        found = self._ids.get((app_id, user))
        if found is None:
            now = text_time(self._clock())
            self._connection.execute(
                "INSERT INTO end_users (id, app_id, type, session_id, external_user_id, "
                "is_anonymous, created_at, updated_at) VALUES (?, ?, 'service_api', ?, ?, 0, ?, ?) "
                "ON CONFLICT (app_id, session_id) DO NOTHING",
                (uuid7(), app_id, user, user, now, now),
            )
            row = self._connection.execute(
                "SELECT id FROM end_users WHERE app_id = ? AND session_id = ?", (app_id, user)
            ).fetchone()
            found = self._ids[(app_id, user)] = str(row[0])
        return found


class Batches:
    """The turns submitted during one event-loop pass, written in one transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._turns: list[Turn] = []
        self._waiting: list[asyncio.Future[None]] = []

    def submit(self, turn: Turn) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if not self._turns:
            loop.call_soon(self._flush)
        future: asyncio.Future[None] = loop.create_future()
        self._turns.append(turn)
        self._waiting.append(future)
        return future

    def _flush(self) -> None:
        turns, waiting = self._turns, self._waiting
        self._turns, self._waiting = [], []
        rows: dict[str, list[Row]] = {table: [] for table in COLUMNS}
        for turn in turns:
            for table, row in turn:
                rows[table].append(row)
        error: BaseException | None = None
        try:
            self._connection.execute("BEGIN")
            for table, values in rows.items():
                self._connection.executemany(INSERTS[table], values)
            self._connection.execute("COMMIT")
        except Exception as exc:  # every turn of the batch fails with it
            self._connection.rollback()
            error = exc
        for future in waiting:
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


def turn_rows(
    *,
    app_id: str,
    workflow_id: str,
    end_user_id: str,
    ids: tuple[str, str, str],
    query: str,
    answer: str,
    outputs: Any,
    nodes: Sequence[NodeFinished],
    started: float,
    ended: float,
) -> Turn:
    """The five rows (for echo.yml) of a finished blocking turn that started a conversation."""
    conversation_id, message_id, run_id = ids
    created, finished, elapsed = text_time(started), text_time(ended), ended - started
    turn: Turn = [
        ("conversations", (
            conversation_id, app_id, end_user_id, query, "{}", "normal", "", 1, created, created,
        )),
        ("messages", (
            message_id, app_id, conversation_id, end_user_id, None, query, "{}", answer,
            "normal", None, 0, 0, _USAGE_TEXT, _METADATA_TEXT, elapsed, run_id, "[]",
            created, finished,
        )),
        ("workflow_runs", (
            run_id, app_id, workflow_id, "", conversation_id, message_id, "app", "succeeded",
            "{}", _json_dumps(outputs), None, elapsed, 0, len(nodes), 0, end_user_id, created,
            finished,
        )),
    ]  # fmt: skip
    for node in nodes:
        turn.append(("node_executions", (
            node.execution_id, run_id, node.node_id, node.node_type, node.title, node.index,
            node.predecessor_node_id, _json_dumps(node.inputs), _json_dumps(node.process_data),
            _json_dumps(node.outputs), node.status, node.error, node.finished_at - node.started_at,
            "null", text_time(node.started_at), text_time(node.finished_at),
        )))  # fmt: skip
    return turn


def essentials_app(
    *,
    database: Path,
    keys: dict[str, tuple[str, str, Graph]],
    services: EngineServices,
    clock: Callable[[], float],
) -> Starlette:
    """The bare server on the SQLite file `database`. `keys`: the SHA-256 of each key ->
    (app id, workflow id, graph)."""
    connection = connect(database)
    batches = Batches(connection)
    end_users = EndUsers(connection, clock)

    @contextlib.asynccontextmanager
    async def no_hold() -> AsyncIterator[None]:
        yield  # a transaction is open only inside `Batches._flush`, never across an await

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # WAL checkpoints on a thread, as our server runs them.
        checkpointer = WalCheckpointer(str(database), no_hold)
        checkpointer.start()
        try:
            yield
        finally:
            await checkpointer.stop()
            connection.close()

    async def chat(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        found = keys.get(hash_token(token))
        if found is None:
            return Response(b'{"code":"unauthorized"}', 401, media_type="application/json")
        app_id, workflow_id, graph = found
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return Response(b'{"code":"invalid_param"}', 400, media_type="application/json")
        query, user = payload.get("query"), payload.get("user")
        if not isinstance(query, str) or not isinstance(user, str) or not user:
            return Response(b'{"code":"invalid_param"}', 400, media_type="application/json")
        end_user_id = end_users.get(app_id, user)
        task_id, message_id, run_id, conversation_id = uuid4(), uuid7(), uuid7(), uuid7()
        started = clock()
        pool = VariablePool(
            system={
                "query": query,
                "files": [],
                "conversation_id": conversation_id,
                "user_id": user,
                "dialogue_count": 1,
                "app_id": app_id,
                "workflow_id": workflow_id,
                "workflow_run_id": run_id,
            }
        )
        parts: list[str] = []
        nodes: list[NodeFinished] = []
        outputs: Any = {}
        async for event in run_graph(graph, pool=pool, services=services, run_id=run_id):
            if isinstance(event, TextChunk):
                parts.append(event.text)
            elif isinstance(event, NodeFinished):
                nodes.append(event)
            elif isinstance(event, RunFinished):
                outputs = event.outputs
        answer = "".join(parts)
        await batches.submit(
            turn_rows(
                app_id=app_id,
                workflow_id=workflow_id,
                end_user_id=end_user_id,
                ids=(conversation_id, message_id, run_id),
                query=query,
                answer=answer,
                outputs=outputs,
                nodes=nodes,
                started=started,
                ended=clock(),
            )
        )
        body = {
            "event": "message",
            "task_id": task_id,
            "id": message_id,
            "message_id": message_id,
            "conversation_id": conversation_id,
            "mode": "advanced-chat",
            "answer": answer,
            "metadata": {"usage": USAGE, "retriever_resources": []},
            "created_at": int(started),
        }
        return Response(dumps(body), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat-messages", chat, methods=["POST"])], lifespan=lifespan)
