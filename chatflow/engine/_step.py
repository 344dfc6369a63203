"""One node execution's bookkeeping: its events, its id, and how its result is checked.

Split out of the runner so `runner.py` keeps to scheduling. `Abort` ends a run (a node
failed with no error strategy, or a limit was hit); `Step` builds a node execution's
`NodeStarted` / `NodeRetry` / `NodeFinished`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from random import getrandbits
from typing import Any

from chatflow.engine.events import (
    ContainerScope,
    Event,
    NodeFinished,
    NodeRetry,
    NodeStarted,
    NodeStatus,
)
from chatflow.engine.graph import GraphNode
from chatflow.engine.nodes.base import DefaultValue, NodeResult
from chatflow.errors import NodeError
from chatflow.providers.base import Usage


class Abort(Exception):
    """Ends a run: a node failed with no error strategy, or a limit was hit."""

    def __init__(self, message: str, node_id: str | None = None, error_type: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.error_type = error_type


@dataclass(slots=True)
class Step:
    """One execution of one node, for its started/retry/finished events."""

    node: GraphNode
    execution_id: str
    index: int
    predecessor: str | None
    started: float
    scope: ContainerScope

    def started_event(self) -> NodeStarted:
        node = self.node
        return NodeStarted(
            execution_id=self.execution_id, node_id=node.id, node_type=node.type,
            title=node.title, index=self.index, predecessor_node_id=self.predecessor,
            inputs={}, started_at=self.started, scope=self.scope,
        )  # fmt: skip

    def retry_event(self, attempt: int, error: str) -> NodeRetry:
        node = self.node
        return NodeRetry(
            execution_id=self.execution_id, node_id=node.id, node_type=node.type,
            title=node.title, index=self.index, retry_index=attempt, error=error,
            started_at=self.started, scope=self.scope,
        )  # fmt: skip

    def finished(
        self,
        status: NodeStatus,
        *,
        outputs: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        process_data: Mapping[str, Any] | None = None,
        error: str | None = None,
        error_type: str | None = None,
        usage: Usage | None = None,
        handle: str | None = None,
    ) -> NodeFinished:
        node = self.node
        return NodeFinished(
            execution_id=self.execution_id, node_id=node.id, node_type=node.type,
            title=node.title, index=self.index, predecessor_node_id=self.predecessor,
            status=status, inputs=inputs or {}, process_data=process_data or {},
            outputs=outputs, error=error, error_type=error_type, started_at=self.started,
            finished_at=time.time(), usage=usage, handle=handle, scope=self.scope,
        )  # fmt: skip


def checked(node: GraphNode, result: NodeResult | None) -> NodeResult:
    if result is None:
        raise NodeError(f"node {node.id} ({node.type}) ended without a result")
    if result.status == "failed":
        error = result.outputs.get("error") or f"node {node.id} ({node.type}) failed"
        raise NodeError(str(error))
    return result


def take(buffer: list[Event]) -> list[Event]:
    """Empty `buffer` and return what it held."""
    events = buffer.copy()
    buffer.clear()
    return events


def execution_id() -> str:
    """A random (version 4) UUID string, about 4x cheaper than `str(uuid4())`.

    `random` is reseeded in forked children, so workers forked from one parent do not
    repeat each other's ids; node execution ids are labels, not secrets.
    """
    bits = getrandbits(128) & _UUID_CLEAR | _UUID_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# Version 4 and RFC 4122 variant bits of a UUID.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def default_value(value: DefaultValue) -> Any:
    """Dify stores default values as typed JSON; strings may hold numbers or JSON."""
    raw = value.value
    if not isinstance(raw, str):
        return raw
    try:
        if value.type == "number":
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if value.type.startswith(("object", "array")):
            return json.loads(raw)
    except ValueError:
        return raw
    return raw
