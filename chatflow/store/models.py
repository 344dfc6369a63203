"""SQLAlchemy 2 models: the tables behind Dify's Service API.

Ids are string UUIDs, timestamps aware UTC (see `_types`). The schema itself is owned by
the Alembic revisions in `store/migrations/`; a change here needs a new revision there.
Deleting an app, conversation or message removes what hangs off it (ON DELETE CASCADE).
Only parent links that have an index on the child side are foreign keys, so a cascade
never scans a table; other parent ids (`end_user_id`, a message's `app_id`) are plain
columns, reached through a parent that is a foreign key (message -> conversation -> app).
Workflow runs outlive their conversation, like Dify's run logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chatflow.store._types import JSONType, UTCDateTime, new_id, utcnow

# Stable constraint names so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


def _fk(target: str, *, index: bool = False) -> Mapped[Any]:
    """A cascading foreign key; `index` only where no composite index leads with it."""
    return mapped_column(String(36), ForeignKey(target, ondelete="CASCADE"), index=index)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class App(Base):
    """An imported DSL app; `dsl_text` is the source of truth, `dsl_hash` its sha256."""

    __tablename__ = "apps"
    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str] = mapped_column(String(255), default="")
    icon_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    icon_background: Mapped[str | None] = mapped_column(String(32), nullable=True)
    use_icon_as_answer_icon: Mapped[bool] = mapped_column(Boolean, default=False)
    dsl_text: Mapped[str] = mapped_column(Text)
    dsl_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ApiKey(Base):
    """An app's Service API key; only the sha256 of the token is kept."""

    __tablename__ = "api_keys"
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Site(Base):
    """An app's published chat page at `/chat/{code}` (Dify's web app site), on or off."""

    __tablename__ = "sites"
    app_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # scrypt hash of the optional passcode (`salt$hash`, hex); None: no passcode.
    passcode_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    show_workflow_steps: Mapped[bool] = mapped_column(Boolean, default=True)
    # Only operators signed in to the console may open a session (passcode or not).
    operator_login: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WebSession(Base):
    """A browser's end-user session on a site; only the sha256 of its cookie is kept."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The end user's `user` string, as the Service API's `user` would name it.
    user: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Operator(Base):
    """A console account; the password is kept only as an Argon2id hash."""

    __tablename__ = "operators"
    id: Mapped[str] = _id()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = _created()


class OperatorSession(Base):
    """A signed-in console browser: the cookie's sha256 and the session's CSRF token."""

    __tablename__ = "operator_sessions"
    id: Mapped[str] = _id()
    operator_id: Mapped[str] = _fk("operators.id", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EndUser(Base):
    """A Service API caller, identified per app by the request's `user` string."""

    __tablename__ = "end_users"
    __table_args__ = (UniqueConstraint("app_id", "session_id"),)
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id")
    type: Mapped[str] = mapped_column(String(32), default="service_api")
    session_id: Mapped[str] = mapped_column(String(255))
    external_user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Conversation(Base):
    """A chat thread of one end user; deleting it removes its messages and variables."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "app_id", "end_user_id", "updated_at"),
        Index(None, "app_id", "end_user_id", "created_at"),
    )
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id")
    end_user_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255), default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32), default="normal")
    introduction: Mapped[str] = mapped_column(Text, default="")
    dialogue_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ConversationVariable(Base):
    """A `conversation.*` variable's value in one conversation.

    `variable_id` is the id from the DSL, the same in every conversation, as in Dify;
    the API exposes it as the variable's `id`.
    """

    __tablename__ = "conversation_variables"
    __table_args__ = (UniqueConstraint("conversation_id", "variable_id"),)
    id: Mapped[str] = _id()
    conversation_id: Mapped[str] = _fk("conversations.id")
    variable_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    value_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Message(Base):
    """One query and its answer; `status` is running until the turn ends (`turns.py`)."""

    __tablename__ = "messages"
    __table_args__ = (Index(None, "conversation_id", "created_at"),)
    id: Mapped[str] = _id()
    app_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = _fk("conversations.id")
    end_user_id: Mapped[str] = mapped_column(String(36))
    parent_message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    query: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answer: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_tokens: Mapped[int] = mapped_column(Integer, default=0)
    answer_tokens: Mapped[int] = mapped_column(Integer, default=0)
    usage: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # retriever_resources, annotation_reply ... as in Dify's message_metadata.
    message_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latency: Mapped[float] = mapped_column(Float, default=0.0)
    workflow_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    files: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WorkflowRun(Base):
    """One execution of an app's graph; kept after its conversation is deleted."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index(None, "app_id", "created_at"),
        Index(None, "status", "created_at"),
    )
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id")
    workflow_id: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    # Plain ids, no FKs: run logs outlive the conversation and message, as in Dify.
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    triggered_from: Mapped[str] = mapped_column(String(32), default="app")
    status: Mapped[str] = mapped_column(String(32), default="running")
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    elapsed_time: Mapped[float] = mapped_column(Float, default=0.0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    exceptions_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class NodeExecution(Base):
    """One node run inside a workflow run; written in bulk when the run ends."""

    __tablename__ = "node_executions"
    __table_args__ = (Index(None, "workflow_run_id", "index"),)
    id: Mapped[str] = _id()
    workflow_run_id: Mapped[str] = _fk("workflow_runs.id")
    node_id: Mapped[str] = mapped_column(String(255))
    node_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), default="")
    index: Mapped[int] = mapped_column(Integer, default=0)
    predecessor_node_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    process_data: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    elapsed_time: Mapped[float] = mapped_column(Float, default=0.0)
    execution_metadata: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class UploadFile(Base):
    """A file uploaded through `/files/upload`; bytes live in file storage at `storage_key`."""

    __tablename__ = "upload_files"
    __table_args__ = (Index(None, "app_id", "end_user_id"),)
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id")
    end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    extension: Mapped[str] = mapped_column(String(32), default="")
    mime_type: Mapped[str] = mapped_column(String(255), default="")
    storage_key: Mapped[str] = mapped_column(String(512))
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = _created()


class MessageFeedback(Base):
    """A like/dislike on a message; one per message and source (`user` or `admin`)."""

    __tablename__ = "message_feedbacks"
    __table_args__ = (
        UniqueConstraint("message_id", "from_source"),
        Index(None, "app_id", "created_at"),
    )
    id: Mapped[str] = _id()
    app_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(36))
    message_id: Mapped[str] = _fk("messages.id")
    end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    from_source: Mapped[str] = mapped_column(String(16), default="user")
    rating: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Annotation(Base):
    """A curated question/answer pair used by annotation reply."""

    __tablename__ = "annotations"
    __table_args__ = (Index(None, "app_id", "created_at"),)
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class AnnotationSetting(Base):
    """Per-app annotation reply switch, threshold and embedding model (Dify's job result)."""

    __tablename__ = "annotation_settings"
    app_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    score_threshold: Mapped[float] = mapped_column(Float, default=0.9)
    embedding_provider_name: Mapped[str] = mapped_column(String(255), default="")
    embedding_model_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class AnnotationJob(Base):
    """An enable/disable annotation-reply job; status waiting|running|completed|failed."""

    __tablename__ = "annotation_jobs"
    id: Mapped[str] = _id()
    app_id: Mapped[str] = _fk("apps.id", index=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class AnnotationHit(Base):
    """A query answered by an annotation (Dify's annotation hit history)."""

    __tablename__ = "annotation_hits"
    __table_args__ = (Index(None, "annotation_id", "created_at"),)
    id: Mapped[str] = _id()
    annotation_id: Mapped[str] = _fk("annotations.id")
    app_id: Mapped[str] = mapped_column(String(36))
    # No FK: the hit history stays when the message's conversation is deleted.
    message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    question: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = _created()


class AnnotationEmbedding(Base):
    """An annotation question's vector for annotation reply (Dify's annotation index).

    `vector` is little-endian float32 bytes; `model` names the embedder that made it and
    `text_hash` the question it was made from, so a stale row is seen and remade.
    """

    __tablename__ = "annotation_embeddings"
    annotation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(String(36), index=True)
    model: Mapped[str] = mapped_column(String(255))
    text_hash: Mapped[str] = mapped_column(String(64))
    dimensions: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = _updated()


class WorkflowPause(Base):
    """A run paused at human-input nodes: the engine state to resume it from.

    `state` is the engine's snapshot (`RunPaused.state`), `turn` what the chat layer
    needs to continue the same message (answer so far, usage, ids). `task_id` names the
    event stream of the run's latest segment, for `GET /workflow/{run_id}/events`.
    """

    __tablename__ = "workflow_pauses"
    workflow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflow_runs.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(String(36))
    end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    task_id: Mapped[str] = mapped_column(String(36))
    # paused (waiting for a form) | resuming (a segment is running) | finished
    status: Mapped[str] = mapped_column(String(16), default="paused")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    turn: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class HumanInputForm(Base):
    """A form a human-input node is waiting on; submitted through its `form_token`.

    `status` is Dify's: waiting | submitted | timeout (the node's own deadline passed;
    the run continues on the timeout branch) | expired.
    """

    __tablename__ = "human_input_forms"
    __table_args__ = (Index(None, "status", "expiration_time"),)
    id: Mapped[str] = _id()
    workflow_run_id: Mapped[str] = _fk("workflow_runs.id", index=True)
    app_id: Mapped[str] = mapped_column(String(36))
    end_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    node_id: Mapped[str] = mapped_column(String(255))
    node_title: Mapped[str] = mapped_column(String(255), default="")
    form_token: Mapped[str] = mapped_column(String(64), unique=True)
    # form_content (rendered), inputs, user_actions, resolved_default_values, display_in_ui
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    expiration_time: Mapped[datetime] = mapped_column(UTCDateTime())
    selected_action_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_data: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ToolFile(Base):
    """A file a node made (a tool's blob or image, an http-request body).

    Served at Dify's signed `/files/tools/{id}.{ext}` URL; bytes live in file storage at
    `storage_key`. The app and end user are plain columns: files that http-request nodes
    make are stored before the run knows them.
    """

    __tablename__ = "tool_files"
    id: Mapped[str] = _id()
    app_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    extension: Mapped[str] = mapped_column(String(32), default="")
    mime_type: Mapped[str] = mapped_column(String(255), default="")
    storage_key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = _created()


# The knowledge tables live in their own module; importing it registers them on `Base`.
from chatflow.store import knowledge_models as _knowledge_models  # noqa: E402, F401
