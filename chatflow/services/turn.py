"""Values that describe one chat turn, shared by the chat service, the API and the CLI,
and the few helpers every kind of run shares (its owner key, its LLM memory, timestamps).

A turn's event stream carries the engine's events as they happen and ends with one
`TurnEnded`, published only after the turn has been saved: a client that sees the end of
the stream can read the message back at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from chatflow.engine.events import Event, RunFinished, RunPaused
from chatflow.engine.nodes.base import EngineServices, Turn
from chatflow.providers.base import Usage
from chatflow.runtime.base import EventStream, TaskRegistry
from chatflow.services.request_limits import RequestLimits
from chatflow.services.run_slots import LocalRunSlots, RunLimits, RunSlots
from chatflow.store import Database
from chatflow.store.lifecycle import RunStore

if TYPE_CHECKING:
    from chatflow.services.files import FileService
    from chatflow.services.tool_files import ToolFileService

# Earlier turns handed to the engine for LLM memory; each LLM node applies its own window.
HISTORY_TURNS = 100


class _Exchange(Protocol):
    """An earlier query and answer as the store reads it (`messages.HistoryTurn`)."""

    @property
    def query(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def files(self) -> tuple[Any, ...]: ...


def owner_key(app_id: str, end_user_id: str) -> str:
    """Who may stop a run: the same end user of the same app."""
    return f"{app_id}:{end_user_id}"


def engine_history(exchanges: Sequence[_Exchange]) -> list[Turn]:
    """Stored exchanges as the engine's LLM memory."""
    return [Turn(query=h.query, answer=h.answer, files=h.files) for h in exchanges]


def utc(timestamp: float) -> datetime:
    """An engine timestamp (`time.time()`) as an aware UTC datetime for the store."""
    return datetime.fromtimestamp(timestamp, UTC)


@dataclass(frozen=True, slots=True)
class TurnInfo:
    """The ids every wire frame of a turn carries."""

    task_id: str
    message_id: str
    conversation_id: str
    workflow_run_id: str
    workflow_id: str
    created_at: int
    mode: str  # "advanced-chat", "chat" or "agent-chat"
    end_user_id: str
    user: str


@dataclass(frozen=True, slots=True)
class TurnError:
    """How a failed turn is reported: Dify's error code, HTTP status and message."""

    code: str
    status: int
    message: str


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The last item of a turn's stream: the run's end and the saved message's metadata."""

    run: RunFinished
    answer: str
    usage: Usage
    retriever_resources: Sequence[Mapping[str, Any]] = ()
    error: TurnError | None = None
    # Set when an annotation answered instead of the graph: `{id, account: {id, name}}`.
    annotation_reply: Mapping[str, Any] | None = None
    # False when the answer came without running the graph (moderation, annotation
    # reply): like Dify, such a turn sends no workflow events.
    graph_ran: bool = True
    # Set when the run paused at human-input nodes (`run.status` is "paused"): the
    # stream ends with `workflow_paused` instead of `message_end`/`workflow_finished`.
    paused: RunPaused | None = None
    # Agent-chat apps: the turn's agent thoughts, stored with the message.
    agent_thoughts: Sequence[Mapping[str, Any]] = ()

    @property
    def status(self) -> str:
        return self.run.status

    def metadata(self) -> dict[str, Any]:
        """`metadata` of `message_end` and of the blocking response."""
        metadata: dict[str, Any] = {}
        if self.annotation_reply is not None:
            metadata["annotation_reply"] = dict(self.annotation_reply)
        metadata["usage"] = self.usage.to_dict()
        metadata["retriever_resources"] = [dict(r) for r in self.retriever_resources]
        return metadata


StreamItem = Event | TurnEnded


@dataclass(frozen=True, slots=True)
class TurnHandle:
    """A started turn: its ids and the task that runs it (its result is the `TurnEnded`)."""

    info: TurnInfo
    task: asyncio.Task[TurnEnded]

    async def wait(self) -> TurnEnded:
        """The turn's end. Shielded: a caller that goes away does not stop the run."""
        return await asyncio.shield(self.task)


@dataclass(frozen=True, slots=True)
class RunDeps:
    """What every service that runs graphs shares: the database and the lifecycle store
    over it, the engine's services, the runtime's task registry and event streams, the
    files runs read and save, the request caps and the run slots. The container
    (`Services.open`) builds it once; the chat, workflow and human-input services are
    constructed from it, nothing is wired into them afterwards."""

    db: Database
    store: RunStore
    engine: EngineServices
    tasks: TaskRegistry
    streams: EventStream[StreamItem]
    # Uploads runs read and tool files they save; None: runs read and save no files.
    files: FileService | None = None
    tool_files: ToolFileService | None = None
    limits: RequestLimits = field(default_factory=RequestLimits)
    # One count for chat turns and workflow runs together (per app, key, web session).
    run_slots: RunSlots = field(default_factory=lambda: LocalRunSlots(RunLimits()))
