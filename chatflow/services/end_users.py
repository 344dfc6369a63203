"""End users as `GET /end-users/{id}` shows them (ids come from upload `created_by`)."""

from __future__ import annotations

from chatflow.errors import NotFound
from chatflow.services.apps import LoadedApp
from chatflow.store import Database
from chatflow.store import end_users as end_users_repo
from chatflow.store.models import EndUser


class EndUserService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, app: LoadedApp, end_user_id: str) -> EndUser:
        """The app's end user with this id; Dify's 404 `end_user_not_found` otherwise."""
        async with self._db.session() as session:
            end_user = await end_users_repo.get_end_user(session, app.id, end_user_id)
        if end_user is None:
            raise NotFound("End user not found.", code="end_user_not_found")
        return end_user
