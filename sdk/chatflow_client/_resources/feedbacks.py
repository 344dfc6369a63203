"""`client.feedbacks`: rate a message, list the app's feedbacks."""

from __future__ import annotations

from .._base import Operation, body, parse_json
from .._models import FeedbackList, Rating, Result
from ._resource import AsyncResource, SyncResource


def _create(
    message_id: str, rating: Rating | None, user: str, content: str | None
) -> Operation[Result]:
    # `rating: null` is meaningful (it revokes a rating), so it is always sent.
    payload = {"rating": rating, **body(user=user, content=content)}
    return Operation("POST", f"/messages/{message_id}/feedbacks", parse_json(Result), json=payload)


def _list(page: int | None, limit: int | None) -> Operation[FeedbackList]:
    params = {"page": page, "limit": limit}
    return Operation("GET", "/app/feedbacks", parse_json(FeedbackList), params=params)


class Feedbacks(SyncResource):
    def create(
        self, message_id: str, *, rating: Rating | None, user: str, content: str | None = None
    ) -> Result:
        """Like, dislike, or (rating=None) revoke."""
        return self._client.request(_create(message_id, rating, user, content))

    def list(self, *, page: int | None = None, limit: int | None = None) -> FeedbackList:
        return self._client.request(_list(page, limit))


class AsyncFeedbacks(AsyncResource):
    async def create(
        self, message_id: str, *, rating: Rating | None, user: str, content: str | None = None
    ) -> Result:
        return await self._client.request(_create(message_id, rating, user, content))

    async def list(self, *, page: int | None = None, limit: int | None = None) -> FeedbackList:
        return await self._client.request(_list(page, limit))
