"""Every known sandbox bypass, run as a real job, fails — both with every layer on and
with the kernel walls alone (no audit hook, no Landlock), as on a kernel without Landlock
where Python-level checks are known to be bypassable. Meanwhile a normal job still runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatflow.sandbox import SandboxError, SandboxExecutor, SandboxInfo
from tests.security import attacks
from tests.security.conftest import job_processes

NORMAL = "def main(a: int) -> dict:\n    return {'double': a * 2}\n"


@pytest.fixture(params=["all-layers", "kernel-only"])
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[SandboxExecutor]:
    kernel_only = request.param == "kernel-only"
    executor = SandboxExecutor(
        workers=3, memory_mb=128, landlock=not kernel_only, audit_hook=not kernel_only
    )
    await executor.start()
    if not executor.info.strong:
        message = f"this kernel gives no strong sandbox: {executor.info.missing()}"
        await executor.close()
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield executor
    await executor.close()


async def attempt(sandbox: SandboxExecutor, code: str, *, limit: float = 3.0) -> str:
    """Run an attack beside a normal job; the normal job must succeed meanwhile.
    Returns what the attack achieved, or the error it failed with."""

    async def attack() -> str:
        try:
            result = await sandbox.run("python3", code, {}, timeout=limit)
        except SandboxError as exc:
            return f"failed[{exc.kind}]: {exc}"
        return str(result.get("achieved", result))

    task = asyncio.create_task(attack())
    await asyncio.sleep(0.05)
    assert await sandbox.run("python3", NORMAL, {"a": 21}, timeout=5) == {"double": 42}
    outcome = await task
    assert not job_processes(sandbox.pid), "a process of the job outlived it"
    assert "ImportError" not in outcome, outcome  # the attack itself must work up to the wall
    return outcome


def escaped(marker: Path) -> bool:
    """Whether an escape wrote its marker (a stat: no need for a thread)."""
    return marker.is_file()


def fill(template: str, **values: Any) -> str:
    defaults: dict[str, Any] = {"marker": "", "target_pid": 0, "port": 0, "path": ""}
    return template.format(**{**defaults, **values})


async def test_renamed_posixsubprocess_cannot_spawn(sandbox: SandboxExecutor, marker: Path) -> None:
    outcome = await attempt(sandbox, fill(attacks.RENAMED_POSIXSUBPROCESS, marker=marker))
    assert outcome.startswith("failed"), outcome
    await asyncio.sleep(0.2)
    assert not escaped(marker)


async def test_renamed_ctypes_cannot_reach_libc(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, attacks.RENAMED_CTYPES)
    if sandbox.audit_hook:
        assert outcome.startswith("failed[violation]"), outcome
    else:
        # Without the hook ctypes loads, but every call it could make meets the kernel
        # walls the other tests probe (the seccomp filter, the jail, the job's own uid).
        assert outcome.startswith("libc handle") or outcome.startswith("failed"), outcome


async def test_fchdir_and_symlink_cannot_escape(sandbox: SandboxExecutor, marker: Path) -> None:
    outcome = await attempt(sandbox, fill(attacks.FCHDIR_SYMLINK, marker=marker))
    assert outcome.startswith("failed"), outcome
    assert not escaped(marker)


async def test_pidfd_cannot_signal_the_server(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, fill(attacks.PIDFD_SIGNAL, target_pid=os.getpid()))
    assert outcome.startswith("failed"), outcome


async def test_kill_cannot_signal_the_sandbox_process(sandbox: SandboxExecutor) -> None:
    assert sandbox.pid is not None
    outcome = await attempt(sandbox, fill(attacks.KILL_SIGNAL, target_pid=sandbox.pid))
    assert outcome.startswith("failed"), outcome


async def test_fork_bomb_spawns_nothing(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, attacks.FORK_BOMB)
    assert outcome.startswith("failed"), outcome


async def test_no_process_outlives_the_timeout(sandbox: SandboxExecutor, marker: Path) -> None:
    outcome = await attempt(sandbox, fill(attacks.OUTLIVE_TIMEOUT, marker=marker), limit=1)
    assert outcome.startswith("failed"), outcome
    await asyncio.sleep(3.5)
    assert not escaped(marker)
    assert not job_processes(sandbox.pid)


async def test_memory_bomb_is_stopped(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, attacks.MEMORY_BOMB)
    assert outcome.startswith("failed[memory]") or outcome.startswith("failed[killed]"), outcome


async def test_cpu_loop_is_stopped(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, attacks.CPU_LOOP, limit=1)
    assert outcome.startswith("failed[timeout]"), outcome


async def test_socket_connect_is_refused(sandbox: SandboxExecutor) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        outcome = await attempt(sandbox, fill(attacks.SOCKET_CONNECT, port=port))
    assert outcome.startswith("failed"), outcome


async def test_write_outside_the_job_directory(sandbox: SandboxExecutor, marker: Path) -> None:
    outcome = await attempt(sandbox, fill(attacks.WRITE_OUTSIDE, marker=marker))
    assert outcome.startswith("failed"), outcome
    assert not escaped(marker)


async def test_database_is_unreadable(sandbox: SandboxExecutor, tmp_path: Path) -> None:
    database = tmp_path / "chatflow.db"
    database.write_bytes(b"secret rows")
    database.chmod(0o644)  # even a world-readable file: the jail does not contain it
    outcome = await attempt(sandbox, fill(attacks.READ_FILE, path=database))
    assert outcome.startswith("failed"), outcome


async def test_environ_of_other_processes_is_unreadable(sandbox: SandboxExecutor) -> None:
    outcome = await attempt(sandbox, fill(attacks.READ_ENVIRON, target_pid=os.getpid()))
    assert outcome.startswith("failed"), outcome


async def test_code_nodes_still_work(sandbox: SandboxExecutor) -> None:
    code = (
        "import json, re, datetime, hashlib, zlib, decimal, tempfile\n"
        "def main(a: int) -> dict:\n"
        "    with tempfile.NamedTemporaryFile('w+') as f:\n"
        "        f.write('x'); f.seek(0); text = f.read()\n"
        "    return {'v': a, 't': text, 'h': hashlib.md5(b'a').hexdigest()[:4]}\n"
    )
    assert await sandbox.run("python3", code, {"a": 3}, timeout=5) == {
        "v": 3,
        "t": "x",
        "h": "0cc1",
    }
    js = "function main({a}) { return {v: a + 1} }"
    assert await sandbox.run("javascript", js, {"a": 3}, timeout=5) == {"v": 4}


@pytest.mark.skipif(os.geteuid() != 0, reason="PID namespaces per job need root")
def test_killing_the_holder_ends_every_process_of_the_namespace() -> None:
    """The last wall for a process that escaped every other: the job's namespace dies
    with its holder, grandchildren included."""
    from chatflow.sandbox._isolate import PidNamespaces

    spaces = PidNamespaces.probe()
    assert spaces is not None
    holder = spaces.open()
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        grandchild = os.fork()
        if grandchild == 0:
            os.close(read_fd)
            os.write(write_fd, b"%d\n" % os.getpid())
            while True:
                signal.pause()
        os._exit(0)
    spaces.close()
    os.close(write_fd)
    inner_pid = int(os.read(read_fd, 64).split()[0])
    os.close(read_fd)
    os.waitpid(child, 0)
    assert inner_pid >= 2  # numbered inside the job's own namespace
    namespace = os.readlink(f"/proc/{holder}/ns/pid")
    members = [p for p in os.listdir("/proc") if p.isdigit() and _in_namespace(p, namespace)]
    assert len(members) == 2  # the holder and the orphaned grandchild
    os.kill(holder, 9)
    os.waitpid(holder, 0)
    for _ in range(100):
        if not [p for p in os.listdir("/proc") if p.isdigit() and _in_namespace(p, namespace)]:
            break
        time.sleep(0.02)
    else:
        pytest.fail("a process of the namespace survived its holder")


def _in_namespace(pid: str, namespace: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") == namespace
    except OSError:
        return False


async def test_a_weak_kernel_refuses_code_unless_the_operator_accepts_it() -> None:
    """Where the kernel gave no strong sandbox, code nodes fail with a clear error (the
    pool, and so the server, stays up) unless weaker isolation was accepted."""
    for allow_weak in (False, True):
        executor = SandboxExecutor(workers=1, allow_weak=allow_weak)
        await executor.start()
        try:
            process = executor._process
            assert process is not None
            # What a kernel without seccomp, namespaces or Landlock reports.
            process.info = SandboxInfo(network_namespace=False, landlock_abi=0)
            if allow_weak:
                assert await executor.run("python3", NORMAL, {"a": 1}, timeout=5) == {"double": 2}
                continue
            with pytest.raises(SandboxError) as caught:
                await executor.run("python3", NORMAL, {"a": 1}, timeout=5)
            assert caught.value.kind == "unavailable"
            assert "code nodes are disabled" in str(caught.value)
            assert "seccomp" in str(caught.value)
            assert "CHATFLOW_CODE_ALLOW_WEAK_SANDBOX" in str(caught.value)
        finally:
            await executor.close()
