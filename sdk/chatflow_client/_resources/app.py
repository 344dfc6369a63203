"""`client.app`: the app's info, input parameters, tool icons (meta) and web-app settings."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from .._base import Operation, parse_json
from .._models import AppInfo, AppMeta, AppParameters, SiteSettings
from ._resource import AsyncResource, SyncResource

M = TypeVar("M", bound=BaseModel)


def _get(path: str, model: type[M], user: str | None) -> Operation[M]:
    return Operation("GET", path, parse_json(model), params={"user": user})


class App(SyncResource):
    def info(self, *, user: str | None = None) -> AppInfo:
        return self._client.request(_get("/info", AppInfo, user))

    def parameters(self, *, user: str | None = None) -> AppParameters:
        return self._client.request(_get("/parameters", AppParameters, user))

    def meta(self, *, user: str | None = None) -> AppMeta:
        return self._client.request(_get("/meta", AppMeta, user))

    def site(self, *, user: str | None = None) -> SiteSettings:
        return self._client.request(_get("/site", SiteSettings, user))


class AsyncApp(AsyncResource):
    async def info(self, *, user: str | None = None) -> AppInfo:
        return await self._client.request(_get("/info", AppInfo, user))

    async def parameters(self, *, user: str | None = None) -> AppParameters:
        return await self._client.request(_get("/parameters", AppParameters, user))

    async def meta(self, *, user: str | None = None) -> AppMeta:
        return await self._client.request(_get("/meta", AppMeta, user))

    async def site(self, *, user: str | None = None) -> SiteSettings:
        return await self._client.request(_get("/site", SiteSettings, user))
