"""`LiveServer`: where the live test server runs and which routes it has (see conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LiveServer:
    root: str
    chat_key: str
    workflow_key: str
    env: dict[str, str]
    routes: set[tuple[str, str]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def has_route(self, method: str, path: str) -> bool:
        return (method.upper(), path) in self.routes
