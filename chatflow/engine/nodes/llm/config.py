"""The LLM node's DSL fields, named and defaulted as in Dify's `LLMNodeData`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatflow.engine.nodes.base import NodeConfig


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ModelConfig(_Model):
    provider: str
    name: str
    mode: Literal["chat", "completion"] = "chat"
    completion_params: dict[str, Any] = Field(default_factory=dict)


class ChatPromptMessage(_Model):
    role: Literal["system", "user", "assistant"] = "user"
    text: str = ""
    edition_type: Literal["basic", "jinja2"] | None = None
    jinja2_text: str | None = None


class CompletionPrompt(_Model):
    text: str = ""
    edition_type: Literal["basic", "jinja2"] | None = None
    jinja2_text: str | None = None


class Jinja2Variable(_Model):
    variable: str
    value_selector: list[str] = Field(default_factory=list)


class PromptConfig(_Model):
    jinja2_variables: list[Jinja2Variable] = Field(default_factory=list)

    @field_validator("jinja2_variables", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class RolePrefix(_Model):
    user: str = ""
    assistant: str = ""


class Window(_Model):
    enabled: bool = False
    size: int | None = None


class MemoryConfig(_Model):
    role_prefix: RolePrefix | None = None
    window: Window = Field(default_factory=Window)
    query_prompt_template: str | None = None


class ContextConfig(_Model):
    enabled: bool = False
    variable_selector: list[str] | None = None


class VisionOptions(_Model):
    variable_selector: list[str] = Field(default_factory=lambda: ["sys", "files"])
    detail: Literal["low", "high", "auto"] = "high"


class VisionConfig(_Model):
    enabled: bool = False
    configs: VisionOptions = Field(default_factory=VisionOptions)

    @field_validator("configs", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


class Config(NodeConfig):
    model: ModelConfig
    prompt_template: list[ChatPromptMessage] | CompletionPrompt = Field(default_factory=list)
    prompt_config: PromptConfig = Field(default_factory=PromptConfig)
    memory: MemoryConfig | None = None
    context: ContextConfig = Field(default_factory=ContextConfig)
    vision: VisionConfig = Field(default_factory=VisionConfig)
    structured_output: dict[str, Any] | None = None
    structured_output_switch_on: bool = False
    # "tagged" keeps <think> blocks in `text`; "separated" strips them into
    # `reasoning_content`. Dify defaults to "tagged" for old apps.
    reasoning_format: Literal["separated", "tagged"] = "tagged"

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "structured_output_enabled" in data:
            data.setdefault("structured_output_switch_on", data.pop("structured_output_enabled"))
        for key in ("prompt_config", "vision", "context"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @property
    def structured_output_enabled(self) -> bool:
        return self.structured_output_switch_on and self.structured_output is not None
