"""Pydantic models of a Dify app DSL file (versions 0.1.x to 0.6.x).

Only what the server uses is typed; everything else a Dify export carries (canvas
positions, UI state, plugin dependencies) is accepted and kept as plain data. Node
`data` blocks stay raw here: `loader.py` validates them against each node module's
`Config`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from chatflow.engine.graph import Graph

AppMode = Literal["advanced-chat", "workflow", "chat", "agent-chat", "completion"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Exports write `key: null` for unset blocks; treat those as absent.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class AppInfo(_Model):
    name: str = ""
    mode: AppMode
    description: str = ""
    icon: str | None = None
    icon_type: str | None = None
    icon_background: str | None = None
    use_icon_as_answer_icon: bool = False


def _off() -> dict[str, Any]:
    return {"enabled": False}


class Features(_Model):
    """The app features `/parameters` and the chat pipeline read (Dify's feature dicts)."""

    opening_statement: str = ""
    suggested_questions: list[str] = Field(default_factory=list)
    suggested_questions_after_answer: dict[str, Any] = Field(default_factory=_off)
    speech_to_text: dict[str, Any] = Field(default_factory=_off)
    text_to_speech: dict[str, Any] = Field(default_factory=_off)
    file_upload: dict[str, Any] = Field(default_factory=_off)
    retriever_resource: dict[str, Any] = Field(default_factory=_off)
    sensitive_word_avoidance: dict[str, Any] = Field(default_factory=_off)
    annotation_reply: dict[str, Any] = Field(default_factory=_off)
    more_like_this: dict[str, Any] = Field(default_factory=_off)


class EnvironmentVariable(_Model):
    """An `env.*` variable. `value` is excluded from dumps and repr: secrets never leave."""

    id: str = ""
    name: str
    value_type: str = "string"  # string | number | secret
    value: Any = Field(default=None, exclude=True, repr=False)
    description: str = ""

    @property
    def is_secret(self) -> bool:
        return self.value_type == "secret"

    def public(self) -> dict[str, Any]:
        """What an API may show: secret values masked."""
        return {
            "id": self.id,
            "name": self.name,
            "value_type": self.value_type,
            "value": "" if self.is_secret else self.value,
            "description": self.description,
        }


class ConversationVariable(_Model):
    """A `conversation.*` variable and its initial value for a new conversation."""

    id: str = ""
    name: str
    value_type: str = "string"  # string | number | object | array[string|number|object]
    value: Any = None
    description: str = ""


class WorkflowSpec(_Model):
    graph: dict[str, Any] = Field(default_factory=dict)
    features: Features = Field(default_factory=Features)
    environment_variables: list[EnvironmentVariable] = Field(default_factory=list)
    conversation_variables: list[ConversationVariable] = Field(default_factory=list)


class ModelSpec(_Model):
    provider: str
    name: str
    mode: str = "chat"
    completion_params: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Model):
    """A `chat`/`agent-chat` app's configuration (no graph)."""

    model: ModelSpec
    pre_prompt: str = ""
    prompt_type: str = "simple"
    chat_prompt_config: dict[str, Any] = Field(default_factory=dict)
    completion_prompt_config: dict[str, Any] = Field(default_factory=dict)
    user_input_form: list[dict[str, Any]] = Field(default_factory=list)
    dataset_configs: dict[str, Any] = Field(default_factory=dict)
    agent_mode: dict[str, Any] = Field(default_factory=dict)

    def features(self) -> Features:
        known = Features.model_fields
        return Features.model_validate(
            {key: value for key, value in (self.model_extra or {}).items() if key in known}
        )


class AppDSL(_Model):
    app: AppInfo
    kind: str = "app"
    version: str = "0.1.0"
    workflow: WorkflowSpec | None = None
    model_config_: ModelConfig | None = Field(default=None, alias="model_config")
    dependencies: list[Any] = Field(default_factory=list)

    _graph: Graph | None = PrivateAttr(default=None)

    @property
    def mode(self) -> str:
        return self.app.mode

    @property
    def features(self) -> Features:
        if self.workflow is not None:
            return self.workflow.features
        if self.model_config_ is not None:
            return self.model_config_.features()
        return Features()

    @property
    def environment_variables(self) -> list[EnvironmentVariable]:
        return self.workflow.environment_variables if self.workflow else []

    @property
    def conversation_variables(self) -> list[ConversationVariable]:
        return self.workflow.conversation_variables if self.workflow else []

    def environment(self) -> dict[str, Any]:
        """`env.*` values for a run's variable pool (secrets included: runs need them)."""
        return {var.name: var.value for var in self.environment_variables}

    def initial_conversation_variables(self) -> dict[str, Any]:
        """`conversation.*` values for a new conversation."""
        return {var.name: var.value for var in self.conversation_variables}

    def start_variables(self) -> list[dict[str, Any]]:
        """The start node's input variables, in Dify's variable-entity shape."""
        if self.workflow is None:
            return [
                {**inner, "type": kind}
                for item in (self.model_config_.user_input_form if self.model_config_ else [])
                for kind, inner in item.items()
                if isinstance(inner, dict)
            ]
        for node in self.workflow.graph.get("nodes") or []:
            data = node.get("data") or {}
            if data.get("type") == "start" and not node.get("parentId"):
                return list(data.get("variables") or [])
        return []

    def user_input_form(self) -> list[dict[str, Any]]:
        """Dify's `/parameters` `user_input_form`: `[{type: variable}, ...]`."""
        if self.workflow is None and self.model_config_ is not None:
            return list(self.model_config_.user_input_form)
        return [
            {variable.get("type", "text-input"): variable} for variable in self.start_variables()
        ]
