"""`client.messages`: a conversation's message history and suggested next questions."""

from __future__ import annotations

from .._base import Operation, parse_json
from .._models import MessageList, SuggestedQuestions
from ._resource import AsyncResource, SyncResource


def _list(
    conversation_id: str, user: str | None, first_id: str | None, limit: int | None
) -> Operation[MessageList]:
    params = {"conversation_id": conversation_id, "user": user, "first_id": first_id}
    return Operation("GET", "/messages", parse_json(MessageList), params={**params, "limit": limit})


def _suggested(message_id: str, user: str) -> Operation[SuggestedQuestions]:
    return Operation(
        "GET",
        f"/messages/{message_id}/suggested",
        parse_json(SuggestedQuestions),
        params={"user": user},
    )


class Messages(SyncResource):
    def list(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        first_id: str | None = None,
        limit: int | None = None,
    ) -> MessageList:
        """Newest page first (page before `first_id`), oldest-first within the page."""
        return self._client.request(_list(conversation_id, user, first_id, limit))

    def suggested(self, message_id: str, *, user: str) -> SuggestedQuestions:
        return self._client.request(_suggested(message_id, user))


class AsyncMessages(AsyncResource):
    async def list(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        first_id: str | None = None,
        limit: int | None = None,
    ) -> MessageList:
        return await self._client.request(_list(conversation_id, user, first_id, limit))

    async def suggested(self, message_id: str, *, user: str) -> SuggestedQuestions:
        return await self._client.request(_suggested(message_id, user))
