"""Typed stream events: one pydantic model per `event` value in the spec (26), plus a fallback.

`parse_event` picks the model from the JSON `event` field. A name this client does not know
becomes `UnknownEvent` (never an exception), and every model keeps unknown fields
(`extra="allow"`), so a newer server never breaks an older client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, cast, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter

from ._models import MessageMetadata


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class BaseEvent(_Open):
    """Fields every chatflow frame carries (all optional: workflow-mode frames lack some)."""

    event: str
    task_id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    created_at: int | None = None
    workflow_run_id: str | None = None


# --- chat (message) events ---------------------------------------------------------------


class MessageEvent(BaseEvent):
    """A chunk of the answer; Dify ends the LLM stream with an empty-answer frame."""

    event: Literal["message"] = "message"
    id: str | None = None
    answer: str = ""


class TtsMessageEvent(BaseEvent):
    event: Literal["tts_message"] = "tts_message"
    audio: str = ""


class TtsMessageEndEvent(BaseEvent):
    event: Literal["tts_message_end"] = "tts_message_end"
    audio: str = ""


class MessageFileEvent(BaseEvent):
    event: Literal["message_file"] = "message_file"
    id: str | None = None
    type: str | None = None
    belongs_to: str | None = None
    url: str | None = None


class MessageEndEvent(BaseEvent):
    event: Literal["message_end"] = "message_end"
    id: str | None = None
    metadata: MessageMetadata = MessageMetadata()


class MessageReplaceEvent(BaseEvent):
    """The whole answer so far is replaced (output moderation)."""

    event: Literal["message_replace"] = "message_replace"
    answer: str = ""
    reason: str | None = None


class ErrorEvent(BaseEvent):
    event: Literal["error"] = "error"
    status: int | None = None
    code: str | None = None
    message: str | None = None


class PingEvent(BaseEvent):
    """Keep-alive; on the wire a bare `event: ping` line with no data."""

    event: Literal["ping"] = "ping"


# --- workflow events -----------------------------------------------------------------------


class WorkflowStartedData(_Open):
    id: str | None = None
    workflow_id: str | None = None
    inputs: dict[str, Any] | None = None
    created_at: int | None = None
    reason: str | None = None


class WorkflowFinishedData(_Open):
    id: str | None = None
    workflow_id: str | None = None
    status: str | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    total_steps: int | None = None
    created_at: int | None = None
    finished_at: int | None = None
    exceptions_count: int | None = None
    files: list[dict[str, Any]] | None = None


class NodeData(_Open):
    """`data` of node_started / node_finished / node_retry."""

    id: str | None = None
    node_id: str | None = None
    node_type: str | None = None
    title: str | None = None
    index: int | None = None
    predecessor_node_id: str | None = None
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    status: str | None = None
    error: str | None = None
    elapsed_time: float | None = None
    execution_metadata: dict[str, Any] | None = None
    created_at: int | None = None
    finished_at: int | None = None
    extras: dict[str, Any] | None = None
    files: list[dict[str, Any]] | None = None
    iteration_id: str | None = None
    loop_id: str | None = None
    retry_index: int | None = None


class StepData(_Open):
    """`data` of iteration_* and loop_* events."""

    id: str | None = None
    node_id: str | None = None
    node_type: str | None = None
    title: str | None = None
    index: int | None = None
    created_at: int | None = None
    finished_at: int | None = None
    extras: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    status: str | None = None
    error: str | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    steps: int | None = None
    pre_loop_output: Any = None


class WorkflowStartedEvent(BaseEvent):
    event: Literal["workflow_started"] = "workflow_started"
    data: WorkflowStartedData = WorkflowStartedData()


class WorkflowFinishedEvent(BaseEvent):
    event: Literal["workflow_finished"] = "workflow_finished"
    data: WorkflowFinishedData = WorkflowFinishedData()


class NodeStartedEvent(BaseEvent):
    event: Literal["node_started"] = "node_started"
    data: NodeData = NodeData()


class NodeFinishedEvent(BaseEvent):
    event: Literal["node_finished"] = "node_finished"
    data: NodeData = NodeData()


class NodeRetryEvent(BaseEvent):
    event: Literal["node_retry"] = "node_retry"
    data: NodeData = NodeData()


class IterationStartedEvent(BaseEvent):
    event: Literal["iteration_started"] = "iteration_started"
    data: StepData = StepData()


class IterationNextEvent(BaseEvent):
    event: Literal["iteration_next"] = "iteration_next"
    data: StepData = StepData()


class IterationCompletedEvent(BaseEvent):
    event: Literal["iteration_completed"] = "iteration_completed"
    data: StepData = StepData()


class LoopStartedEvent(BaseEvent):
    event: Literal["loop_started"] = "loop_started"
    data: StepData = StepData()


class LoopNextEvent(BaseEvent):
    event: Literal["loop_next"] = "loop_next"
    data: StepData = StepData()


class LoopCompletedEvent(BaseEvent):
    event: Literal["loop_completed"] = "loop_completed"
    data: StepData = StepData()


class WorkflowPausedData(_Open):
    workflow_run_id: str | None = None
    paused_nodes: list[str] | None = None
    outputs: dict[str, Any] | None = None
    reasons: list[dict[str, Any]] | None = None
    status: str | None = None
    created_at: int | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    total_steps: int | None = None


class WorkflowPausedEvent(BaseEvent):
    event: Literal["workflow_paused"] = "workflow_paused"
    data: WorkflowPausedData = WorkflowPausedData()


class HumanInputData(_Open):
    """`data` of the three human_input_* events (each uses a subset)."""

    form_id: str | None = None
    node_id: str | None = None
    node_title: str | None = None
    form_content: str | None = None
    inputs: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = None
    form_token: str | None = None
    expiration_time: int | None = None
    rendered_content: str | None = None
    action_id: str | None = None
    action_text: str | None = None


class HumanInputRequiredEvent(BaseEvent):
    event: Literal["human_input_required"] = "human_input_required"
    data: HumanInputData = HumanInputData()


class HumanInputFormFilledEvent(BaseEvent):
    event: Literal["human_input_form_filled"] = "human_input_form_filled"
    data: HumanInputData = HumanInputData()


class HumanInputFormTimeoutEvent(BaseEvent):
    event: Literal["human_input_form_timeout"] = "human_input_form_timeout"
    data: HumanInputData = HumanInputData()


class AgentLogData(_Open):
    node_execution_id: str | None = None
    id: str | None = None
    label: str | None = None
    parent_id: str | None = None
    error: str | None = None
    status: str | None = None
    data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    node_id: str | None = None


class AgentLogEvent(BaseEvent):
    event: Literal["agent_log"] = "agent_log"
    data: AgentLogData = AgentLogData()


class TextData(_Open):
    text: str = ""
    from_variable_selector: list[str] | None = None


class TextChunkEvent(BaseEvent):
    """Workflow-mode text output (advanced-chat streams `message` instead)."""

    event: Literal["text_chunk"] = "text_chunk"
    data: TextData = TextData()


class TextReplaceEvent(BaseEvent):
    event: Literal["text_replace"] = "text_replace"
    data: TextData = TextData()


class UnknownEvent(BaseEvent):
    """An event name this client version does not know; all fields are kept."""


StreamEvent = (
    MessageEvent
    | TtsMessageEvent
    | TtsMessageEndEvent
    | MessageFileEvent
    | MessageEndEvent
    | MessageReplaceEvent
    | WorkflowStartedEvent
    | WorkflowFinishedEvent
    | NodeStartedEvent
    | NodeFinishedEvent
    | NodeRetryEvent
    | IterationStartedEvent
    | IterationNextEvent
    | IterationCompletedEvent
    | LoopStartedEvent
    | LoopNextEvent
    | LoopCompletedEvent
    | WorkflowPausedEvent
    | HumanInputRequiredEvent
    | HumanInputFormFilledEvent
    | HumanInputFormTimeoutEvent
    | AgentLogEvent
    | TextChunkEvent
    | TextReplaceEvent
    | ErrorEvent
    | PingEvent
    | UnknownEvent
)

EVENT_TYPES: dict[str, type[BaseEvent]] = {
    str(cls.model_fields["event"].default): cls
    for cls in get_args(StreamEvent)
    if cls is not UnknownEvent
}
"""Every known `event` name -> its model (the spec's 26)."""


def _tag(value: Any) -> str:
    name = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return name if isinstance(name, str) and name in EVENT_TYPES else "unknown"


_CHOICES = tuple(Annotated[cls, Tag(name)] for name, cls in EVENT_TYPES.items())
# Built at run time from EVENT_TYPES, hence the cast: mypy cannot follow a dynamic Union.
_UNION: Any = Annotated[
    Union[(*_CHOICES, Annotated[UnknownEvent, Tag("unknown")])],
    Discriminator(_tag),
]
_ADAPTER = cast("TypeAdapter[StreamEvent]", TypeAdapter(_UNION))


def parse_event(payload: dict[str, Any]) -> StreamEvent:
    """Validate one decoded frame into its typed event (UnknownEvent for new names)."""
    if "event" not in payload:
        payload = {**payload, "event": "message"}
    return _ADAPTER.validate_python(payload)
