"""The agent node's `agent_log` steps, shaped as Dify's agent strategies send them.

A "ROUND n" log per model turn, with a "<model> Thought" log and a "CALL <tool>" log
per tool call as its children (`parent_id`). Each is sent when it starts (`status`
"start") and again, under the same id, when it ends ("success" or "error"), with
`started_at`, `finished_at`, `elapsed_time` and, for model turns, tokens and price in
its metadata. Times are wall-clock seconds (the plugins send `perf_counter` values,
which mean nothing outside their process).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import Any

from chatflow.engine.events import AgentLog
from chatflow.engine.nodes.base import NodeContext
from chatflow.providers.base import Usage


class AgentLogs:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._started: dict[str, float] = {}

    def start(self, label: str, parent: AgentLog | None = None, **metadata: Any) -> AgentLog:
        log_id = str(uuid.uuid4())
        self._started[log_id] = now = time.time()
        return AgentLog(
            node_id=self._ctx.node_id,
            execution_id=self._ctx.execution_id,
            id=log_id,
            label=label,
            status="start",
            data={},
            parent_id=parent.id if parent is not None else None,
            metadata={"started_at": now, **metadata},
        )

    def finish(
        self, log: AgentLog, data: Mapping[str, Any], error: str | None = None, **metadata: Any
    ) -> AgentLog:
        started = self._started.pop(log.id, log.metadata.get("started_at", time.time()))
        finished = time.time()
        return dataclasses.replace(
            log,
            status="error" if error else "success",
            error=error,
            data=dict(data),
            metadata={
                **log.metadata,
                "finished_at": finished,
                "elapsed_time": round(finished - started, 6),
                **metadata,
            },
        )


def usage_metadata(usage: Usage | None) -> dict[str, Any]:
    """Dify's `total_price` / `currency` / `total_tokens` log metadata of a model turn."""
    if usage is None:
        return {"total_price": 0, "currency": "", "total_tokens": 0}
    return {
        "total_price": float(usage.total_price),
        "currency": usage.currency,
        "total_tokens": usage.total_tokens,
    }
