"""Shared pieces of the attack tests: a marker path outside every job directory, and a
check that no process of a job outlives it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatflow.sandbox._isolate import JOB_UID_BASE
from tests.api.conftest import live, server  # noqa: F401 - the real server, for HTTP attacks


@pytest.fixture
def marker() -> Iterator[Path]:
    """Where a successful escape would write (world-writable /tmp, outside the sandbox)."""
    path = Path("/tmp") / f"chatflow-attack-{uuid.uuid4().hex}"
    yield path
    path.unlink(missing_ok=True)


def job_processes() -> list[int]:
    """Live processes running under a sandbox job uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
        except FileNotFoundError:
            continue
        if uid >= JOB_UID_BASE:
            found.append(int(entry))
    return found
