"""Message feedback: an end user's like/dislike on a message, and the app's feedback list."""

from __future__ import annotations

from chatflow.errors import InvalidRequest, NotFound
from chatflow.services.apps import LoadedApp
from chatflow.store import Database
from chatflow.store import end_users as end_users_repo
from chatflow.store import feedbacks as feedbacks_repo
from chatflow.store import messages as messages_repo
from chatflow.store.models import MessageFeedback

# Dify's `/app/feedbacks` accepts `limit` up to 101 (its int_range); larger or smaller
# values are clamped here instead of failing, as published SDKs send 101.
MAX_LIMIT = 101


class FeedbackService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rate(
        self,
        app: LoadedApp,
        user: str | None,
        message_id: str,
        *,
        rating: str | None,
        content: str | None,
    ) -> None:
        """Like, dislike or (rating None) revoke; only on the user's own message."""
        if not user:
            raise InvalidRequest("Arg user must be provided.")
        if rating is not None and rating not in ("like", "dislike"):
            raise InvalidRequest("rating: must be like, dislike or null")
        async with self._db.session() as session:
            end_user = await end_users_repo.find_end_user(session, app.id, user)
            message = None
            if end_user is not None:
                message = await messages_repo.get_message(
                    session, app_id=app.id, end_user_id=end_user.id, message_id=message_id
                )
            if message is None:
                raise NotFound("Message Not Exists.")
            await feedbacks_repo.set_feedback(session, message, rating=rating, content=content)

    async def page(self, app: LoadedApp, *, page: int, limit: int) -> list[MessageFeedback]:
        """One page of the app's feedbacks, newest first."""
        limit = min(max(limit, 1), MAX_LIMIT)
        async with self._db.session() as session:
            return await feedbacks_repo.list_feedbacks(
                session, app_id=app.id, page=max(page, 1), limit=limit
            )
