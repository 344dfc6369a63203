"""The kernel-level layers on their own, without the audit hook: Landlock, rlimits, netns.

Each check runs in a forked child so the test process itself stays unconfined.
"""

from __future__ import annotations

import os
import signal
import socket
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from chatflow.sandbox import SandboxExecutor, _confine, _landlock


def in_child(action: Callable[[], str]) -> tuple[str, int]:
    """Run `action` in a forked child; return what it wrote and its wait status."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            text = action()
        except BaseException as exc:
            text = f"{type(exc).__name__}"
        os.write(write_fd, text.encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return data, status


needs_landlock = pytest.mark.skipif(_landlock.abi_version() < 1, reason="no Landlock here")


@needs_landlock
def test_landlock_denies_files_outside_the_allow_list(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("ok")

    def action() -> str:
        _landlock.restrict(read=(sysconfig.get_paths()["stdlib"],), write=(str(tmp_path),))
        mine = (tmp_path / "mine.txt").read_text()
        try:
            open("/etc/passwd").close()
        except PermissionError:
            return mine + ":denied"
        return mine + ":allowed"

    assert in_child(action)[0] == "ok:denied"


@pytest.mark.skipif(_landlock.abi_version() < 4, reason="Landlock without TCP rules")
def test_landlock_denies_tcp_connect(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def action() -> str:
        _landlock.restrict(read=(), write=(str(tmp_path),))
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"

    try:
        assert in_child(action)[0] == "PermissionError"
    finally:
        server.close()


def test_cpu_rlimit_kills_a_busy_process() -> None:
    def action() -> str:
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        _confine.set_rlimits(_confine.Limits(cpu_seconds=1, memory_bytes=1 << 30, javascript=False))
        while True:
            pass

    _, status = in_child(action)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL)


def test_memory_rlimit_raises_memory_error() -> None:
    def action() -> str:
        _confine.set_rlimits(
            _confine.Limits(cpu_seconds=5, memory_bytes=128 << 20, javascript=False)
        )
        _ = bytearray(512 << 20)
        return "allocated"

    assert in_child(action)[0] == "MemoryError"


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
async def test_sandbox_has_its_own_empty_network_namespace() -> None:
    async with SandboxExecutor(workers=1) as sandbox:
        assert sandbox.info.network_namespace
        pid = sandbox.pid
        assert pid is not None
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
