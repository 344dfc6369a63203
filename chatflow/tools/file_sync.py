"""Keep a worker's tool registry in step with the operator's tool files when another
process writes them: the console in another worker, or `chatflow tools add-openapi |
add-mcp | remove | map` on the same data dir.

The files are replaced whole (a temp file renamed over them), so a change shows as a new
inode; `check` stats both at most once per `interval` and, on a change, replaces exactly
the OpenAPI and MCP providers whose stored entry changed and applies the mappings again.
A provider that is unchanged keeps its open MCP session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from chatflow.errors import ChatflowError
from chatflow.settings import Settings
from chatflow.tools import mappings, remote
from chatflow.tools.base import ToolProvider
from chatflow.tools.mcp.provider import McpProvider
from chatflow.tools.openapi.provider import OpenApiProvider
from chatflow.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

Stamp = tuple[tuple[int, int, int] | None, ...]


def _stamp(paths: tuple[Path, ...]) -> Stamp:
    found: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((info.st_ino, info.st_mtime_ns, info.st_size))
    return tuple(found)


def _digest(entry: Any) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()


class ToolFileSync:
    def __init__(self, settings: Settings, registry: ToolRegistry, *, interval: float = 1.0):
        self._settings = settings
        self._registry = registry
        self._interval = interval
        self._paths = (remote.store_path(settings), mappings.persisted_path(settings))
        self._next = 0.0
        self.mark_current()

    def _entries(self) -> dict[str, str]:
        data = remote.load(self._settings)
        return {name: _digest(entry) for kind in remote.KINDS for name, entry in data[kind].items()}

    def mark_current(self) -> None:
        """The registry matches the files as they are now (its own writes call this)."""
        self._stamp = _stamp(self._paths)
        try:
            self._digests = self._entries()
        except ChatflowError:
            self._digests = {}  # unreadable now: the next readable version is all new

    async def check(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        stamp = _stamp(self._paths)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            await self._apply()
        except ChatflowError as exc:  # a half-edited file: keep what runs, say why
            logger.warning("tool files not applied: %s", exc.message)

    async def _apply(self) -> None:
        digests = self._entries()  # an unreadable file raises: nothing changes
        changed = {n for n in {*digests, *self._digests} if digests.get(n) != self._digests.get(n)}
        closed: list[ToolProvider] = []
        for name in changed:
            current = self._registry.provider(name)
            if isinstance(current, OpenApiProvider | McpProvider) and current.id == name:
                self._registry.unregister(name)
                closed.append(current)
        for provider in remote.providers(self._settings):
            if provider.id in changed:
                self._registry.register(provider)
        for source, target in mappings.load(self._settings).items():
            self._registry.map(source, target)
        self._digests = digests
        await remote.close(closed)
