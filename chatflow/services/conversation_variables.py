"""`PUT /conversations/{id}/variables/{variable_id}`: set one conversation variable.

The new value must have the variable's declared type (Dify's `value_type` check);
a mismatch is Dify's 400 `bad_request`.
"""

from __future__ import annotations

from typing import Any

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services.apps import LoadedApp
from chatflow.services.conversations import ConversationService
from chatflow.store import Database
from chatflow.store import conversation_variables as variables_repo
from chatflow.store.models import ConversationVariable

_CHAT_MODES = ("advanced-chat", "chat", "agent-chat")


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is(kind: str, value: Any) -> bool:
    if kind in ("string", "secret", "select", "paragraph", "text-input"):
        return isinstance(value, str)
    if kind in ("number", "integer", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("object", "file"):
        return isinstance(value, dict)
    if kind.startswith("array[") and kind.endswith("]"):
        inner = kind[len("array[") : -1]
        return isinstance(value, list) and (inner == "any" or all(_is(inner, v) for v in value))
    if kind == "array":
        return isinstance(value, list)
    return True  # an unknown declared type: nothing to check against


def check_value(value_type: str, value: Any) -> None:
    if not _is(value_type, value):
        raise InvalidRequest(
            f"Value type mismatch: expected {value_type}, got {json_type(value)}.",
            code="bad_request",
        )


class ConversationVariableService:
    def __init__(self, db: Database, conversations: ConversationService) -> None:
        self._db = db
        self._conversations = conversations

    async def update(
        self,
        app: LoadedApp,
        user: str | None,
        conversation_id: str,
        variable_id: str,
        value: Any,
    ) -> ConversationVariable:
        if app.mode not in _CHAT_MODES:
            raise InvalidRequest(
                "Please check if your app mode matches the right API route.", code="not_chat_app"
            )
        conversation = await self._conversations.get(app, user, conversation_id)
        async with self._db.session() as session:
            row = await variables_repo.get_conversation_variable(
                session, conversation.id, variable_id
            )
            if row is None:
                raise NotFound("Conversation Variable Not Exists.")
            check_value(row.value_type, value)
            updated = await variables_repo.set_conversation_variable(
                session, conversation.id, variable_id, value
            )
            assert updated is not None
            return updated
