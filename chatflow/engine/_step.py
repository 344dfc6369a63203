"""One node execution's bookkeeping: its events, its id, its step count, its error handling.

Split out of the runner so the scheduler keeps to scheduling. `Abort` ends a run (a node
failed with no error strategy, or a limit was hit); `Step` builds a node execution's
`NodeStarted` / `NodeRetry` / `NodeFinished`; `StepBudget` is the run-wide step limit;
`retries` and `handled_failure` are Dify's `retry_config` and `error_strategy`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.engine.events import (
    ContainerScope,
    Event,
    NodeFinished,
    NodeRetry,
    NodeStarted,
    NodeStatus,
)
from chatflow.engine.graph import FAIL_BRANCH_HANDLE, GraphNode
from chatflow.engine.nodes.base import DefaultValue, NodeResult
from chatflow.errors import NodeError
from chatflow.ids import uuid7
from chatflow.providers.base import Usage


class Abort(Exception):
    """Ends a run: a node failed with no error strategy, or a limit was hit."""

    def __init__(self, message: str, node_id: str | None = None, error_type: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.error_type = error_type


# A container pass's own start node: it runs, but as in Dify's iteration and loop it
# sends no node events and the step limit never counts it.
PASS_START_TYPES = frozenset(("iteration-start", "loop-start"))


@dataclass(slots=True)
class StepBudget:
    """The run-wide step limit, shared by the top level and every container pass.

    Matches Dify's `ExecutionLimitsLayer`, which sees every node start of the run, those
    inside iteration and loop passes included (but not retry attempts), and ends the run
    with "Maximum execution steps exceeded: N > limit". `total_steps` is counted apart
    (see `ScopeRun.steps`).
    """

    limit: int
    used: int = 0

    def take(self, node: GraphNode) -> None:
        if node.type in PASS_START_TYPES:
            return
        self.used += 1
        if self.used > self.limit:
            raise Abort(f"Maximum execution steps exceeded: {self.used} > {self.limit}")


@dataclass(slots=True)
class Step:
    """One execution of one node, for its started/retry/finished events."""

    node: GraphNode
    execution_id: str
    index: int
    predecessor: str | None
    started: float
    scope: ContainerScope
    # The successors the node readied, once it is done (set by the scheduler's async path).
    ready: Sequence[str] = ()

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
    """A node execution id: a UUID version 7, as Dify makes them (`uuidv7()` in its
    SQLAlchemyWorkflowNodeExecutionRepository); time-ordered, so `node_executions`'
    primary key grows at its end."""
    return uuid7()


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


def retries(node: GraphNode) -> int:
    """How many times Dify's `retry_config` lets a failed node run again."""
    retry = node.config.retry_config
    return retry.max_retries if retry.retry_enabled else 0


def error_details(exc: Exception) -> tuple[str, str]:
    """A failure's `error` and `error_type`, as Dify reports them on `node_finished`."""
    error_type = exc.error_type if isinstance(exc, NodeError) else type(exc).__name__
    return message(exc), error_type


def handled_failure(
    node: GraphNode, error: str, error_type: str
) -> tuple[dict[str, Any], str | None]:
    """The outputs and handle of a failure the node's `error_strategy` handles.

    Dify: `default-value` outputs the configured defaults and follows the normal edges,
    `fail-branch` follows the `fail-branch` handle; both add `error_message` and
    `error_type` to the outputs.
    """
    outputs: dict[str, Any] = {}
    handle: str | None = None
    if node.config.error_strategy == "default-value":
        outputs = {value.key: default_value(value) for value in node.config.default_value}
    else:
        handle = FAIL_BRANCH_HANDLE
    outputs["error_message"] = error
    outputs["error_type"] = error_type
    return outputs, handle
