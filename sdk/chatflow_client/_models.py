"""Pydantic models of the API's JSON responses (and the file reference sent in requests).

Fields follow the spec; all are optional with defaults and unknown fields are kept, because
Dify versions add fields freely and a client must not break on them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Base of every response model: tolerant of missing and extra fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


FileType = Literal["image", "document", "audio", "video", "custom"]
TransferMethod = Literal["remote_url", "local_file"]
Rating = Literal["like", "dislike"]
SortBy = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
AnnotationAction = Literal["enable", "disable"]


class InputFile(Model):
    """A file attached to a chat message: an uploaded file id or a remote URL."""

    type: FileType = "image"
    transfer_method: TransferMethod = "local_file"
    url: str | None = None
    upload_file_id: str | None = None


class Result(Model):
    """`{"result": "success"}` answers (stop, feedback)."""

    result: str = "success"


class BinaryContent(Model):
    """A binary body (file preview, text-to-audio) with its content type."""

    content: bytes = b""
    content_type: str = "application/octet-stream"


class Usage(Model):
    """Dify's 12-field usage; prices are decimal strings."""

    prompt_tokens: int = 0
    prompt_unit_price: str = "0"
    prompt_price_unit: str = "0"
    prompt_price: str = "0"
    completion_tokens: int = 0
    completion_unit_price: str = "0"
    completion_price_unit: str = "0"
    completion_price: str = "0"
    total_tokens: int = 0
    total_price: str = "0"
    currency: str = "USD"
    latency: float = 0.0


class RetrieverResource(Model):
    id: str | None = None
    message_id: str | None = None
    position: int | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    document_id: str | None = None
    document_name: str | None = None
    data_source_type: str | None = None
    segment_id: str | None = None
    score: float | None = None
    hit_count: int | None = None
    word_count: int | None = None
    segment_position: int | None = None
    index_node_hash: str | None = None
    content: str | None = None
    created_at: int | None = None


class MessageMetadata(Model):
    usage: Usage | None = None
    retriever_resources: list[RetrieverResource] = Field(default_factory=list)
    annotation_reply: dict[str, Any] | None = None


class ChatMessageResponse(Model):
    """Blocking-mode answer of `POST /chat-messages`."""

    event: str = "message"
    task_id: str = ""
    id: str = ""
    message_id: str = ""
    conversation_id: str = ""
    mode: str | None = None
    answer: str = ""
    metadata: MessageMetadata = MessageMetadata()
    created_at: int = 0


class UploadedFile(Model):
    id: str
    name: str = ""
    size: int = 0
    extension: str | None = None
    mime_type: str | None = None
    created_by: str | None = None
    created_at: int = 0
    preview_url: str | None = None
    source_url: str | None = None


class EndUser(Model):
    id: str
    tenant_id: str | None = None
    app_id: str | None = None
    type: str | None = None
    external_user_id: str | None = None
    name: str | None = None
    is_anonymous: bool | None = None
    session_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Feedback(Model):
    id: str | None = None
    app_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    rating: str | None = None
    content: str | None = None
    from_source: str | None = None
    from_end_user_id: str | None = None
    from_account_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class FeedbackList(Model):
    data: list[Feedback] = Field(default_factory=list)


class SuggestedQuestions(Model):
    result: str = "success"
    data: list[str] = Field(default_factory=list)


class MessageFile(Model):
    id: str | None = None
    filename: str | None = None
    type: str | None = None
    url: str | None = None
    mime_type: str | None = None
    size: int | None = None
    transfer_method: str | None = None
    belongs_to: str | None = None
    upload_file_id: str | None = None


class AgentThought(Model):
    id: str | None = None
    chain_id: str | None = None
    message_id: str | None = None
    position: int | None = None
    thought: str | None = None
    tool: str | None = None
    tool_labels: dict[str, Any] | None = None
    tool_input: str | None = None
    observation: str | None = None
    files: list[str] = Field(default_factory=list)
    created_at: int | None = None


class Message(Model):
    id: str
    conversation_id: str | None = None
    parent_message_id: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    query: str = ""
    answer: str = ""
    status: str | None = None
    error: str | None = None
    message_files: list[MessageFile] = Field(default_factory=list)
    feedback: dict[str, Any] | None = None
    retriever_resources: list[RetrieverResource] = Field(default_factory=list)
    agent_thoughts: list[AgentThought] = Field(default_factory=list)
    created_at: int | None = None
    extra_contents: list[dict[str, Any]] = Field(default_factory=list)


class MessageList(Model):
    limit: int = 20
    has_more: bool = False
    data: list[Message] = Field(default_factory=list)


class Conversation(Model):
    id: str
    name: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    introduction: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ConversationList(Model):
    limit: int = 20
    has_more: bool = False
    data: list[Conversation] = Field(default_factory=list)


class ConversationVariable(Model):
    id: str
    name: str = ""
    value_type: str | None = None
    value: Any = None
    description: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ConversationVariableList(Model):
    limit: int = 20
    has_more: bool = False
    data: list[ConversationVariable] = Field(default_factory=list)


class AudioText(Model):
    text: str = ""


class AppInfo(Model):
    name: str = ""
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    mode: str | None = None
    author_name: str | None = None


class AppParameters(Model):
    """`GET /parameters`; nested feature objects are kept as plain dicts."""

    opening_statement: str | None = None
    suggested_questions: list[str] = Field(default_factory=list)
    suggested_questions_after_answer: dict[str, Any] = Field(default_factory=dict)
    speech_to_text: dict[str, Any] = Field(default_factory=dict)
    text_to_speech: dict[str, Any] = Field(default_factory=dict)
    retriever_resource: dict[str, Any] = Field(default_factory=dict)
    annotation_reply: dict[str, Any] = Field(default_factory=dict)
    more_like_this: dict[str, Any] = Field(default_factory=dict)
    sensitive_word_avoidance: dict[str, Any] = Field(default_factory=dict)
    user_input_form: list[dict[str, Any]] = Field(default_factory=list)
    file_upload: dict[str, Any] = Field(default_factory=dict)
    system_parameters: dict[str, Any] = Field(default_factory=dict)


class AppMeta(Model):
    tool_icons: dict[str, Any] = Field(default_factory=dict)


class SiteSettings(Model):
    title: str | None = None
    chat_color_theme: str | None = None
    chat_color_theme_inverted: bool | None = None
    icon_type: str | None = None
    icon: str | None = None
    icon_background: str | None = None
    icon_url: str | None = None
    description: str | None = None
    copyright: str | None = None
    privacy_policy: str | None = None
    custom_disclaimer: str | None = None
    default_language: str | None = None
    show_workflow_steps: bool | None = None
    use_icon_as_answer_icon: bool | None = None


class Annotation(Model):
    id: str
    question: str | None = None
    answer: str | None = None
    hit_count: int | None = None
    created_at: int | None = None


class AnnotationList(Model):
    data: list[Annotation] = Field(default_factory=list)
    has_more: bool = False
    limit: int = 20
    total: int = 0
    page: int = 1


class AnnotationReplyJob(Model):
    """Job status is one of `waiting|running|completed|failed`."""

    job_id: str
    job_status: str
    error_msg: str | None = None


class WorkflowRunDetail(Model):
    """`GET /workflows/run/{id}`: Dify sends `inputs`/`outputs` as JSON strings."""

    id: str
    workflow_id: str | None = None
    status: str | None = None
    inputs: Any = None
    outputs: Any = None
    error: str | None = None
    total_steps: int | None = None
    total_tokens: int | None = None
    created_at: int | None = None
    finished_at: int | None = None
    elapsed_time: float | None = None


class WorkflowLog(Model):
    id: str
    workflow_run: dict[str, Any] = Field(default_factory=dict)
    created_from: str | None = None
    created_by_role: str | None = None
    created_by_account: dict[str, Any] | None = None
    created_by_end_user: dict[str, Any] | None = None
    created_at: int | None = None
    details: dict[str, Any] | None = None


class WorkflowLogList(Model):
    page: int = 1
    limit: int = 20
    total: int = 0
    has_more: bool = False
    data: list[WorkflowLog] = Field(default_factory=list)


class WorkflowRunData(Model):
    id: str = ""
    workflow_id: str | None = None
    status: str | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    total_steps: int | None = None
    created_at: int | None = None
    finished_at: int | None = None


class WorkflowRunResponse(Model):
    """Blocking-mode answer of the Workflow App API's `POST /workflows/run`."""

    workflow_run_id: str = ""
    task_id: str = ""
    data: WorkflowRunData = WorkflowRunData()
