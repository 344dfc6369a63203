"""Collects what a run must save while its events go by, and what the store writes of it.

Nothing is written per event: the answer, node executions, conversation-variable
writes and citations are kept in memory and stored in one transaction when the run ends
(succeeded, failed or stopped) or pauses: `run_end` is what `RunStore.finish` and
`RunStore.pause` write, the same for chat turns, workflow runs and resumed segments.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from chatflow.dsl import ConversationVariable
from chatflow.engine import events as ev
from chatflow.engine.files import to_json
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import Usage
from chatflow.services.agent_thoughts import AgentThoughts
from chatflow.services.turn import TurnEnded, TurnInfo, utc
from chatflow.store import conversation_variables as variables_repo
from chatflow.store import runs as runs_repo
from chatflow.store.lifecycle import MessageEnd, RunEnd

STOPPED_MESSAGE = "Stopped by user."
# A node that failed this way failed calling its model (a prompt that cannot fit, the
# model refusing the request). Dify's chat and agent-chat apps report that turn as
# `completion_request_error`; its workflow-based apps (advanced-chat) report any failed
# run as `invalid_param` "Run failed: ...", the node's message included.
MODEL_REQUEST_ERROR = "completion_request_error"
REQUEST_ERROR_MODES = frozenset({"chat", "agent-chat", "completion"})
_MESSAGE_STATUS = {"failed": "error", "stopped": "stopped"}


class TurnRecorder:
    """The in-memory record of one turn."""

    def __init__(self, started_at: float | None = None, *, mode: str = "advanced-chat") -> None:
        self.started_at = started_at or time.time()
        self._request_errors_surface = mode in REQUEST_ERROR_MODES
        self.parts: list[str] = []
        self.nodes: list[runs_repo.NodeExecutionRecord] = []
        self.updated_variables: set[str] = set()
        self.retriever_resources: list[dict[str, Any]] = []
        self.node_usage = Usage()
        self.steps = 0
        self.agent_thoughts = AgentThoughts("")  # the message id is set when saved
        # The message of the first node that failed calling its model, if one did and
        # the app's mode reports it as such.
        self.model_request_error: str | None = None
        # Agent nodes' logs by node execution, then log id: stored with the node (Dify's
        # `execution_metadata.agent_log`), so a reloaded trace shows rounds and tool calls.
        self._agent_logs: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def answer(self) -> str:
        return "".join(self.parts)

    def add(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextChunk):
            self.parts.append(event.text)
        elif isinstance(event, ev.TextReplace):
            self.parts = [event.text]
        elif isinstance(event, ev.NodeFinished):
            self._node(event)
        elif isinstance(event, ev.ConversationVariableUpdated):
            self.updated_variables.add(event.name)
        elif isinstance(event, ev.AgentLog):
            self.agent_thoughts.update(event)
            self._agent_log(event)
        elif isinstance(event, ev.RetrieverResources):
            # Dify keeps the citations of the latest LLM context for `message_end`.
            self.retriever_resources = [dict(r) for r in event.resources]

    def _agent_log(self, event: ev.AgentLog) -> None:
        """The step's latest state (a step is sent at its start and again at its end)."""
        logs = self._agent_logs.setdefault(event.execution_id, {})
        logs[event.id] = {
            "id": event.id,
            "parent_id": event.parent_id,
            "label": event.label,
            "status": event.status,
            "error": event.error,
            "data": to_json(dict(event.data)),
            "metadata": to_json(dict(event.metadata)),
            "node_id": event.node_id,
        }

    def _node(self, event: ev.NodeFinished) -> None:
        self.steps += 1
        if (
            event.status == "failed"
            and self._request_errors_surface
            and event.error_type == MODEL_REQUEST_ERROR
            and self.model_request_error is None
        ):
            self.model_request_error = event.error or ""
        if event.usage is not None:
            self.node_usage = self.node_usage.plus(event.usage)
        meta: dict[str, Any] = {}
        if event.usage is not None:
            meta = {
                "total_tokens": event.usage.total_tokens,
                "total_price": str(event.usage.total_price),
                "currency": event.usage.currency,
            }
        scope = event.scope  # where the node ran: a stored trace folds it there too
        if scope.iteration_id is not None:
            meta.update(iteration_id=scope.iteration_id, iteration_index=scope.iteration_index)
        if scope.loop_id is not None:
            meta.update(loop_id=scope.loop_id, loop_index=scope.loop_index)
        logs = self._agent_logs.pop(event.execution_id, None)
        if logs:
            meta["agent_log"] = list(logs.values())
        self.nodes.append(
            runs_repo.NodeExecutionRecord(
                id=event.execution_id,
                node_id=event.node_id,
                node_type=event.node_type,
                status=event.status,
                index=event.index,
                title=event.title,
                predecessor_node_id=event.predecessor_node_id,
                inputs=dict(event.inputs),
                process_data=dict(event.process_data),
                outputs=dict(event.outputs),
                error=event.error,
                elapsed_time=event.elapsed,
                execution_metadata=meta or None,
                created_at=utc(event.started_at),
                finished_at=utc(event.finished_at),
            )
        )

    def synthetic_end(self, run_id: str, status: ev.RunStatus, error: str | None) -> ev.RunFinished:
        """A `RunFinished` for a run that never sent one (stopped, or crashed)."""
        return ev.RunFinished(
            run_id=run_id,
            status=status,
            outputs={},
            error=error,
            started_at=self.started_at,
            finished_at=time.time(),
            total_tokens=self.node_usage.total_tokens,
            total_steps=self.steps,
            usage=self.node_usage,
        )


def changed_variables(
    recorder: TurnRecorder, pool: VariablePool, declared: Sequence[ConversationVariable]
) -> list[variables_repo.VariableValue]:
    """The declared conversation variables the run wrote, with their new values."""
    values = pool.conversation_variables()
    return [
        variables_repo.VariableValue(
            variable_id=var.id or var.name,
            name=var.name,
            value_type=var.value_type,
            value=values.get(var.name),
            description=var.description,
        )
        for var in declared
        if var.name in recorder.updated_variables
    ]


def run_end(
    info: TurnInfo,
    end: TurnEnded,
    recorder: TurnRecorder,
    *,
    variables: Sequence[variables_repo.VariableValue] = (),
    resumed: bool = False,
) -> RunEnd:
    """What the store writes for a run's end or pause: the run's record, the message of
    a chat turn (none for a workflow run), node executions and changed variables."""
    run = end.run
    message = None
    if info.message_id:  # workflow runs have no message
        usage = end.usage
        status = "paused" if end.paused is not None else _MESSAGE_STATUS.get(run.status, "normal")
        metadata = _stored_metadata(end, info.message_id)
        message = MessageEnd(
            message_id=info.message_id,
            answer=end.answer,
            status=status,
            error=run.error if run.status == "failed" else None,
            message_tokens=usage.prompt_tokens,
            answer_tokens=usage.completion_tokens,
            usage=metadata["usage"],  # the same `usage.to_dict()`, built once
            latency=run.elapsed,
            metadata=metadata,
        )
    return RunEnd(
        run_id=info.workflow_run_id,
        status=run.status,
        outputs=dict(run.outputs),
        error=run.error,
        elapsed_time=run.elapsed,
        total_tokens=run.total_tokens,
        total_steps=run.total_steps,
        exceptions_count=run.exceptions_count,
        finished_at=utc(run.finished_at),
        nodes=recorder.nodes,
        message=message,
        conversation_id=info.conversation_id,
        variables=variables,
        resumed=resumed,
    )


def _stored_metadata(end: TurnEnded, message_id: str) -> dict[str, Any]:
    """The message's metadata: what `message_end` sends, plus an agent app's thoughts."""
    metadata = end.metadata()
    if end.agent_thoughts:
        metadata["agent_thoughts"] = [
            {**thought, "message_id": message_id} for thought in end.agent_thoughts
        ]
    return metadata
