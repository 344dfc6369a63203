"""Request bodies of the Service API, parsed the tolerant way real clients need.

Published SDKs send `"files": null`, `"conversation_id": ""`, `"inputs": null`, and
fields this server does not know; all of that is accepted. Only what Dify itself
rejects (a missing or non-string `query`, an unknown `response_mode`) is an error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessageBody(_Body):
    query: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    response_mode: Literal["streaming", "blocking"] = "blocking"
    user: str | None = None
    conversation_id: str | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)
    auto_generate_name: bool = True
    workflow_id: str | None = None

    @field_validator("inputs", "files", "response_mode", "auto_generate_name", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: Any) -> Any:
        if value is None:
            return {"inputs": {}, "files": [], "response_mode": "blocking"}.get(
                info.field_name, True
            )
        return value

    @field_validator("conversation_id", "user", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class UserBody(_Body):
    """A body that only names the user (stop, delete)."""

    user: str | None = None


class RenameBody(_Body):
    name: str | None = None
    auto_generate: bool = False
    user: str | None = None

    @field_validator("auto_generate", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value
