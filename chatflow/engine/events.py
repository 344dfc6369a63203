"""The engine's one event vocabulary. `api/sse.py` turns these into Dify's wire events.

Run-level events come from the runner; container nodes (iteration, loop) re-emit their
children's events with `ContainerScope` filled in so the wire layer can label them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from chatflow.providers.base import Usage

NodeStatus = Literal["succeeded", "failed", "exception", "stopped", "paused"]
RunStatus = Literal["succeeded", "failed", "partial-succeeded", "stopped", "paused"]


@dataclass(frozen=True, slots=True)
class ContainerScope:
    """Where a node runs when it is inside an iteration or loop."""

    iteration_id: str | None = None
    iteration_index: int | None = None
    loop_id: str | None = None
    loop_index: int | None = None


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    inputs: Mapping[str, Any]
    started_at: float
    # Dify's `workflow_started.data.reason`: "initial", or "resumption" after a pause.
    reason: str = "initial"


@dataclass(frozen=True, slots=True)
class NodeStarted:
    execution_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    predecessor_node_id: str | None
    inputs: Mapping[str, Any]
    started_at: float
    scope: ContainerScope = ContainerScope()


@dataclass(frozen=True, slots=True)
class NodeRetry:
    execution_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    retry_index: int
    error: str
    started_at: float
    scope: ContainerScope = ContainerScope()


@dataclass(frozen=True, slots=True)
class NodeFinished:
    execution_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    predecessor_node_id: str | None
    status: NodeStatus
    inputs: Mapping[str, Any]
    process_data: Mapping[str, Any]
    outputs: Mapping[str, Any]
    error: str | None
    error_type: str | None
    started_at: float
    finished_at: float
    usage: Usage | None = None
    # The branch handle the node chose (if-else case id, classifier class id, "fail-branch").
    handle: str | None = None
    scope: ContainerScope = ContainerScope()

    @property
    def elapsed(self) -> float:
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class TextChunk:
    """Answer text in final stream order (advanced-chat `message`, workflow `text_chunk`)."""

    text: str
    from_node_id: str
    from_variable_selector: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TextReplace:
    """Replace all text streamed so far (Dify's `message_replace` / `text_replace`)."""

    text: str


@dataclass(frozen=True, slots=True)
class RetrieverResources:
    """An LLM node's context held knowledge-retrieval results (Dify's
    `NodeRunRetrieverResourceEvent`), sent before the model is called. `resources` are
    the citations in Dify's `retriever_resources` shape; Dify's chat pipeline keeps the
    latest list for `message_end.metadata.retriever_resources`. A plain-string context
    gives an empty list."""

    execution_id: str
    node_id: str
    resources: Sequence[Mapping[str, Any]]
    context: str
    scope: ContainerScope = ContainerScope()


# Iteration and loop nodes report their passes with one family of events, told apart by
# `kind` (Dify's `iteration_*` and `loop_*` frames carry the same fields).
ContainerKind = Literal["iteration", "loop"]


@dataclass(frozen=True, slots=True)
class ContainerStarted:
    """A container node started (Dify's `iteration_started` / `loop_started`)."""

    kind: ClassVar[ContainerKind]
    execution_id: str
    node_id: str
    title: str
    inputs: Mapping[str, Any]
    started_at: float
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerNext:
    """A container node starts its pass `index` (Dify's `iteration_next` / `loop_next`)."""

    kind: ClassVar[ContainerKind]
    execution_id: str
    node_id: str
    title: str
    index: int
    started_at: float
    # Loops only: the loop variables as the previous round left them.
    pre_loop_output: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerCompleted:
    """A container node ended (Dify's `iteration_completed` / `loop_completed`)."""

    kind: ClassVar[ContainerKind]
    execution_id: str
    node_id: str
    title: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    status: NodeStatus
    error: str | None
    steps: int
    started_at: float
    finished_at: float
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class IterationStarted(ContainerStarted):
    kind: ClassVar[ContainerKind] = "iteration"


@dataclass(frozen=True, slots=True)
class IterationNext(ContainerNext):
    kind: ClassVar[ContainerKind] = "iteration"


@dataclass(frozen=True, slots=True)
class IterationCompleted(ContainerCompleted):
    kind: ClassVar[ContainerKind] = "iteration"


@dataclass(frozen=True, slots=True)
class LoopStarted(ContainerStarted):
    kind: ClassVar[ContainerKind] = "loop"


@dataclass(frozen=True, slots=True)
class LoopNext(ContainerNext):
    kind: ClassVar[ContainerKind] = "loop"


@dataclass(frozen=True, slots=True)
class LoopCompleted(ContainerCompleted):
    kind: ClassVar[ContainerKind] = "loop"


@dataclass(frozen=True, slots=True)
class AgentLog:
    """A step of an agent node (Dify's `agent_log`): a round, a model thought or a tool
    call. Each step is sent when it starts (`status="start"`) and again, with the same
    `id`, when it ends ("success" or "error"); `parent_id` ties thoughts and tool calls
    to their round."""

    node_id: str
    execution_id: str
    id: str
    label: str
    status: str
    data: Mapping[str, Any]
    parent_id: str | None = None
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HumanInputRequired:
    """The run paused at a human-input node until a form is submitted."""

    execution_id: str
    node_id: str
    title: str
    form_id: str
    form_content: str
    inputs: Sequence[Mapping[str, Any]]
    actions: Sequence[Mapping[str, Any]]
    timeout_at: float | None
    # The token clients submit the form with (Dify's `form_token`), and the values of
    # inputs whose default comes from a variable (Dify's `resolved_default_values`).
    form_token: str = ""
    resolved_default_values: Mapping[str, Any] = field(default_factory=dict)
    display_in_ui: bool = False

    def reason(self) -> dict[str, Any]:
        """Dify's `human_input_required` pause reason (an item of `workflow_paused.reasons`)."""
        return {
            "TYPE": "human_input_required",
            "form_id": self.form_id,
            "form_content": self.form_content,
            "inputs": [dict(item) for item in self.inputs],
            "actions": [dict(item) for item in self.actions],
            "node_id": self.node_id,
            "node_title": self.title,
            "resolved_default_values": dict(self.resolved_default_values),
            "form_token": self.form_token or None,
            "expiration_time": int(self.timeout_at) if self.timeout_at is not None else None,
        }


@dataclass(frozen=True, slots=True)
class HumanInputFormFilled:
    """A paused human-input node resumed with a submitted form (Dify's
    `human_input_form_filled`); `rendered_content` has the submitted values filled in."""

    node_id: str
    title: str
    rendered_content: str
    action_id: str
    action_text: str
    submitted_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HumanInputFormTimeout:
    """A paused human-input node resumed because its form expired (Dify's
    `human_input_form_timeout`); the run continues on the node's `__timeout` branch."""

    node_id: str
    title: str
    expiration_time: float


@dataclass(frozen=True, slots=True)
class RunPaused:
    """The run stopped at one or more human-input nodes; it ends the run's event stream
    in place of `RunFinished`. `state` is everything `run_graph(resume_from=...)` needs
    to continue, as JSON-compatible data the caller stores."""

    reasons: Sequence[Mapping[str, Any]]
    outputs: Mapping[str, Any]
    run_id: str = ""
    paused_nodes: Sequence[str] = ()
    started_at: float = 0.0
    paused_at: float = 0.0
    total_tokens: int = 0
    total_steps: int = 0
    usage: Usage | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    # The forms waiting, as sent just before this event.
    forms: Sequence[HumanInputRequired] = ()

    @property
    def elapsed(self) -> float:
        return self.paused_at - self.started_at


@dataclass(frozen=True, slots=True)
class ConversationVariableUpdated:
    """An assigner node wrote a conversation variable; the service persists it."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class RunFinished:
    run_id: str
    status: RunStatus
    outputs: Mapping[str, Any]
    error: str | None
    started_at: float
    finished_at: float
    total_tokens: int
    total_steps: int
    exceptions_count: int = 0
    usage: Usage | None = None

    @property
    def elapsed(self) -> float:
        return self.finished_at - self.started_at


Event = (
    RunStarted
    | NodeStarted
    | NodeRetry
    | NodeFinished
    | TextChunk
    | TextReplace
    | RetrieverResources
    | IterationStarted
    | IterationNext
    | IterationCompleted
    | LoopStarted
    | LoopNext
    | LoopCompleted
    | AgentLog
    | HumanInputRequired
    | HumanInputFormFilled
    | HumanInputFormTimeout
    | RunPaused
    | ConversationVariableUpdated
    | RunFinished
)
