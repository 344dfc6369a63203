"""`LiveServer` (where the live test server runs) and `Tally` (which operations the live
tests called successfully, per client kind), shared by conftest and the live tests."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SPEC = Path(__file__).parents[2] / "chatflow" / "api" / "openapi" / "seed.json"
# Beyond Dify's Chatflow API (28 operations): the Workflow App API's run and stop.
EXTRA = [("POST", "/workflows/run"), ("POST", "/workflows/tasks/{task_id}/stop")]
KINDS = ("sync", "async")


def chatflow_cli() -> str:
    """The `chatflow` CLI installed beside this interpreter (live tests start servers with it)."""
    exe = Path(sys.executable).with_name("chatflow")
    if not exe.exists():
        pytest.fail(f"the `chatflow` CLI is not installed next to {sys.executable}")
    return str(exe)


def spec_operations() -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation in the Chatflow API spec."""
    paths = json.loads(SPEC.read_text())["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if m != "parameters"]


@dataclass
class LiveServer:
    root: str
    chat_key: str
    workflow_key: str
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.root + "/v1"


@dataclass
class Tally:
    """Counts 2xx answers per (kind, METHOD, template) seen by the live tests' clients."""

    operations: list[tuple[str, str]] = field(default_factory=lambda: spec_operations() + EXTRA)
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._patterns = [
            (method, path, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
            for method, path in self.operations
        ]

    def record(self, kind: str, response: httpx.Response) -> None:
        if not response.is_success:
            return
        request = response.request
        path = request.url.path.removeprefix("/v1")
        for method, template, pattern in self._patterns:
            if method == request.method and pattern.match(path):
                self.counts[(kind, method, template)] += 1
                return

    def missing(self) -> list[str]:
        return [
            f"{kind} {method} {path}"
            for method, path in self.operations
            for kind in KINDS
            if not self.counts[(kind, method, path)]
        ]

    def table(self) -> list[str]:
        rows = [f"{'operation':62} sync async"]
        for method, path in self.operations:
            sync, async_ = (self.counts[(k, method, path)] for k in KINDS)
            rows.append(f"{method + ' ' + path:62} {sync:4} {async_:5}")
        return rows
