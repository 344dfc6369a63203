"""Helpers for tool tests: built-in providers from real settings, and calling one tool
through the real registry, parameter preparation and runtime."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from chatflow.settings import Settings
from chatflow.tools.base import ToolMessage
from chatflow.tools.catalog import build_registry
from chatflow.tools.runtime import ToolRuntimeService

PG_URL = os.environ.get(
    "CHATFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def postgres_or_skip() -> str:
    """The test Postgres URL; skipped outside CI when down, a failure in CI."""
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return PG_URL
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
        pytest.skip(f"Postgres not reachable at {PG_URL}")


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, model_backend="fake", **overrides)


async def call(
    tmp_path: Path,
    provider: str,
    tool: str,
    parameters: Mapping[str, Any],
    *,
    runtime: ToolRuntimeService | None = None,
    **overrides: Any,
) -> list[ToolMessage]:
    """The messages one tool yields, through registry, checks and parameter conversion."""
    if runtime is None:
        runtime = ToolRuntimeService(build_registry(settings(tmp_path, **overrides)))
    return [m async for m in runtime.messages(provider, tool, parameters)]


def texts(messages: list[ToolMessage]) -> str:
    return "".join(getattr(m, "text", "") for m in messages)
