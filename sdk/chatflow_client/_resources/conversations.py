"""`client.conversations`: list, rename, delete conversations; read and write their variables."""

from __future__ import annotations

from typing import Any

from .._base import Operation, body, parse_json, parse_none
from .._models import Conversation, ConversationList, ConversationVariable, SortBy
from .._models import ConversationVariableList as VariableList
from ._resource import AsyncResource, SyncResource


def _list(
    user: str | None, last_id: str | None, limit: int | None, sort_by: SortBy | None
) -> Operation[ConversationList]:
    params = {"user": user, "last_id": last_id, "limit": limit, "sort_by": sort_by}
    return Operation("GET", "/conversations", parse_json(ConversationList), params=params)


def _rename(
    conversation_id: str, name: str | None, auto_generate: bool | None, user: str
) -> Operation[Conversation]:
    return Operation(
        "POST",
        f"/conversations/{conversation_id}/name",
        parse_json(Conversation),
        json=body(name=name, auto_generate=auto_generate, user=user),
    )


def _delete(conversation_id: str, user: str) -> Operation[None]:
    path = f"/conversations/{conversation_id}"
    return Operation("DELETE", path, parse_none, json={"user": user})


def _variables(
    conversation_id: str,
    user: str | None,
    last_id: str | None,
    limit: int | None,
    variable_name: str | None,
) -> Operation[VariableList]:
    params = {"user": user, "last_id": last_id, "limit": limit, "variable_name": variable_name}
    path = f"/conversations/{conversation_id}/variables"
    return Operation("GET", path, parse_json(VariableList), params=params)


def _update_variable(
    conversation_id: str, variable_id: str, value: Any, user: str
) -> Operation[ConversationVariable]:
    return Operation(
        "PUT",
        f"/conversations/{conversation_id}/variables/{variable_id}",
        parse_json(ConversationVariable),
        json={"value": value, "user": user},
    )


class Conversations(SyncResource):
    def list(
        self,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int | None = None,
        sort_by: SortBy | None = None,
    ) -> ConversationList:
        return self._client.request(_list(user, last_id, limit, sort_by))

    def rename(
        self,
        conversation_id: str,
        *,
        user: str,
        name: str | None = None,
        auto_generate: bool | None = None,
    ) -> Conversation:
        return self._client.request(_rename(conversation_id, name, auto_generate, user))

    def delete(self, conversation_id: str, *, user: str) -> None:
        self._client.request(_delete(conversation_id, user))

    def variables(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int | None = None,
        variable_name: str | None = None,
    ) -> VariableList:
        """Values come back as strings, as in Dify."""
        return self._client.request(
            _variables(conversation_id, user, last_id, limit, variable_name)
        )

    def update_variable(
        self, conversation_id: str, variable_id: str, *, value: Any, user: str
    ) -> ConversationVariable:
        return self._client.request(_update_variable(conversation_id, variable_id, value, user))


class AsyncConversations(AsyncResource):
    async def list(
        self,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int | None = None,
        sort_by: SortBy | None = None,
    ) -> ConversationList:
        return await self._client.request(_list(user, last_id, limit, sort_by))

    async def rename(
        self,
        conversation_id: str,
        *,
        user: str,
        name: str | None = None,
        auto_generate: bool | None = None,
    ) -> Conversation:
        return await self._client.request(_rename(conversation_id, name, auto_generate, user))

    async def delete(self, conversation_id: str, *, user: str) -> None:
        await self._client.request(_delete(conversation_id, user))

    async def variables(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int | None = None,
        variable_name: str | None = None,
    ) -> VariableList:
        return await self._client.request(
            _variables(conversation_id, user, last_id, limit, variable_name)
        )

    async def update_variable(
        self, conversation_id: str, variable_id: str, *, value: Any, user: str
    ) -> ConversationVariable:
        op = _update_variable(conversation_id, variable_id, value, user)
        return await self._client.request(op)
