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


def job_processes(sandbox_pid: int | None) -> list[int]:
    """Live processes under a sandbox job uid that descend from the sandbox process
    `sandbox_pid`, or that were orphaned (reparented to init: escaped from a job). Jobs
    running in other sandboxes on the machine (other test runs) do not count."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
        except FileNotFoundError:
            continue
        if uid >= JOB_UID_BASE and _descends_from(int(entry), sandbox_pid):
            found.append(int(entry))
    return found


def _descends_from(pid: int, ancestor: int | None) -> bool:
    if _parent(pid) == 1:
        return True
    while pid > 1:
        if pid == ancestor:
            return True
        pid = _parent(pid)
    return ancestor is None


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0
