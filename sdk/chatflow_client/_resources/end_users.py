"""`client.end_users`: look up an end user by id."""

from __future__ import annotations

from .._base import Operation, parse_json
from .._models import EndUser
from ._resource import AsyncResource, SyncResource


def _get(end_user_id: str) -> Operation[EndUser]:
    return Operation("GET", f"/end-users/{end_user_id}", parse_json(EndUser))


class EndUsers(SyncResource):
    def get(self, end_user_id: str) -> EndUser:
        return self._client.request(_get(end_user_id))


class AsyncEndUsers(AsyncResource):
    async def get(self, end_user_id: str) -> EndUser:
        return await self._client.request(_get(end_user_id))
