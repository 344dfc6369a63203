"""The store seam of a run's lifecycle: what services write when a chat turn or a workflow
run starts, ends, pauses and resumes (`RunStore`), and the values they hand it.

`turns.TurnStore` is the one implementation. Services depend on this protocol only, so a
reader (or a test) sees in one place every write a run makes; the rule of which path a
write takes is in the package docstring (`store/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chatflow.store.conversation_variables import VariableValue
from chatflow.store.direct import Write, WriteMany
from chatflow.store.runs import NodeExecutionRecord


@dataclass(frozen=True, slots=True)
class RunStart:
    """A run's start rows, built (`turns.start_turn_rows`, `turns.start_run_rows`) but
    not yet written; `created_at` is the timestamp the wire frames carry."""

    writes: Sequence[Write | WriteMany]
    run_id: str
    created_at: datetime
    conversation_id: str = ""
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class MessageEnd:
    """How a turn's message ends (or pauses): the answer and what it cost."""

    message_id: str
    answer: str
    status: str  # normal | error | stopped | paused
    error: str | None
    message_tokens: int
    answer_tokens: int
    usage: dict[str, Any] | None
    latency: float
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ends (or pauses): its record's final fields, the node executions it
    collected, and the conversation variables it changed."""

    run_id: str
    status: str
    outputs: dict[str, Any] | None
    error: str | None
    elapsed_time: float
    total_tokens: int
    total_steps: int
    exceptions_count: int
    finished_at: datetime
    nodes: Sequence[NodeExecutionRecord] = ()
    # A chat turn's message; None for a workflow run.
    message: MessageEnd | None = None
    conversation_id: str = ""
    variables: Sequence[VariableValue] = ()
    # A resumed segment: its pause record is finished in the same transaction.
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class NewForm:
    """A human-input form to record when a run pauses."""

    id: str
    node_id: str
    node_title: str
    form_token: str
    definition: dict[str, Any]
    expiration_time: datetime


@dataclass(frozen=True, slots=True)
class RunPause:
    """What a paused run keeps: the engine's resume state, what the chat layer needs to
    continue the same message (`turn`), and the forms it waits on."""

    app_id: str
    end_user_id: str | None
    task_id: str
    state: Mapping[str, Any]
    turn: Mapping[str, Any]
    forms: Sequence[NewForm] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Resumed:
    """A paused run claimed for its next segment: the state and turn it paused with."""

    state: dict[str, Any]
    turn: dict[str, Any]


class RunStore(Protocol):
    """Every write of a run's lifecycle. Each method is one transaction."""

    async def start(self, start: RunStart) -> None:
        """Write a run's start rows (a turn's conversation, message and run; a workflow
        run's record), `running`."""
        ...

    async def finish(self, end: RunEnd, *, held: RunStart | None = None) -> None:
        """Complete the run (and its message), write its node executions and changed
        conversation variables. `held`: start rows that were not written yet; they go in
        the same transaction, the message and run inserted complete."""
        ...

    async def pause(self, end: RunEnd, pause: RunPause) -> None:
        """Keep a paused run: the message so far (status `paused`), node executions,
        changed variables, the run `paused`, its resume state and its new forms."""
        ...

    async def fail_interrupted(self, run_id: str, answer: str) -> bool:
        """Fail a run whose worker died, and its message with the `answer` it had
        streamed (as a stop keeps it); False when it was no longer `running` (it ended
        meanwhile: nothing is changed)."""
        ...

    async def fail_runs(self, run_ids: Sequence[str]) -> int:
        """Fail these runs and their messages (answers kept) where still `running`: the
        multi-worker sweeper's write for runs whose worker it found gone. Returns how
        many runs this call failed."""
        ...

    async def fail_stale(self, started_before: datetime) -> int:
        """Fail every run (and its message) still `running` that started before the
        cutoff: the one-process sweep at start-up, when no run can be alive. Returns how
        many runs it failed."""
        ...

    async def claim(self, run_id: str, task_id: str) -> Resumed | None:
        """paused -> resuming for the segment `task_id` (the run `running` again); None
        when the run is not paused (a segment already runs, or it finished)."""
        ...
