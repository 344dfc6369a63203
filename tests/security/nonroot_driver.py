"""Runs the sandbox as an unprivileged user and prints what each job achieved (JSON).

    python tests/security/nonroot_driver.py

Started by `test_sandbox_nonroot.py` as `nobody` (or as the non-root user running the
tests). The sandbox then takes its user-namespace path: no per-job uid (only our own uid
is mapped), so the jobs share this process's uid and the kernel walls alone (seccomp, the
jail, rlimits) must stop them from signalling this process, reading its environment or
its files, and writing where this uid may write. The audit hook and Landlock are off, as
on a kernel without Landlock once the hook is bypassed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]

from chatflow.sandbox import SandboxError, SandboxExecutor  # noqa: E402
from tests.security import attacks  # noqa: E402

NORMAL = "def main(a: int) -> dict:\n    return {'double': a * 2}\n"
STDLIB = (
    "import hashlib, json, zlib\n"
    "def main(a: int) -> dict:\n"
    "    return {'h': hashlib.sha256(zlib.compress(json.dumps(a).encode())).hexdigest()[:8]}\n"
)
JAVASCRIPT = "function main({a}) { return {v: a + 1}; }"


def fill(template: str, **values: Any) -> str:
    defaults: dict[str, Any] = {"marker": "", "target_pid": 0, "port": 0, "path": ""}
    return template.format(**{**defaults, **values})


async def attempt(sandbox: SandboxExecutor, code: str, limit: float = 3.0) -> str:
    try:
        result = await sandbox.run("python3", code, {}, timeout=limit)
    except SandboxError as exc:
        return f"failed[{exc.kind}]: {exc}"
    return str(result.get("achieved", result))


async def main(scratch: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": os.geteuid()}
    signals: list[int] = []
    signal.signal(signal.SIGWINCH, lambda number, _: signals.append(number))
    os.environ["CHATFLOW_DRIVER_SECRET"] = "s3cret-in-environ"
    sandbox = SandboxExecutor(workers=1, memory_mb=128, landlock=False, audit_hook=False)
    await sandbox.start()
    out["info"] = dataclasses.asdict(sandbox.info)
    if not sandbox.info.user_namespace:
        await sandbox.close()
        return out
    marker, database = scratch / "marker", scratch / "chatflow.db"
    try:
        out["normal"] = await sandbox.run("python3", NORMAL, {"a": 21}, timeout=10)
        out["stdlib"] = await sandbox.run("python3", STDLIB, {"a": 3}, timeout=10)
        try:
            out["javascript"] = await sandbox.run("javascript", JAVASCRIPT, {"a": 3}, timeout=10)
        except SandboxError as exc:
            out["javascript"] = f"failed[{exc.kind}]: {exc}"
        me = os.getpid()
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            cases = {
                "renamed_posixsubprocess": fill(attacks.RENAMED_POSIXSUBPROCESS, marker=marker),
                "fchdir_symlink": fill(attacks.FCHDIR_SYMLINK, marker=marker),
                "pidfd_signal": fill(attacks.PIDFD_SIGNAL, target_pid=me),
                "kill_signal": fill(attacks.KILL_SIGNAL, target_pid=me),
                "fork_bomb": fill(attacks.FORK_BOMB),
                "socket_connect": fill(attacks.SOCKET_CONNECT, port=port),
                "write_outside": fill(attacks.WRITE_OUTSIDE, marker=marker),
                "read_database": fill(attacks.READ_FILE, path=database),
                "read_environ": fill(attacks.READ_ENVIRON, target_pid=me),
            }
            attempts = {name: await attempt(sandbox, code) for name, code in cases.items()}
        out["attacks"] = attempts
        out["memory_bomb"] = await attempt(sandbox, attacks.MEMORY_BOMB)
        out["cpu_loop"] = await attempt(sandbox, attacks.CPU_LOOP, limit=1.0)
        await asyncio.sleep(0.3)  # a signal or a late write would have landed by now
        out["signals_received"] = len(signals)
        out["after"] = await sandbox.run("python3", NORMAL, {"a": 1}, timeout=10)
    finally:
        await sandbox.close()
    return out


def run() -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="chatflow-nonroot-"))  # ours: 0700, our uid
    database = scratch / "chatflow.db"
    database.write_bytes(b"secret rows")
    database.chmod(0o600)  # only this uid may read it: the job's uid too, but for the jail
    try:
        out = asyncio.run(main(scratch))
        out["marker_written"] = (scratch / "marker").exists()
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(), default=str))
