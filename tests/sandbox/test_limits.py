"""Every sandbox limit fails the job with a clear error, and the pool then works normally."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.sandbox import SandboxError, SandboxExecutor

SECRET = "CHATFLOW_TEST_SECRET_TOKEN"
NORMAL = "def main(a: int) -> dict:\n    return {'double': a * 2}\n"


@pytest.fixture
async def executor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SandboxExecutor]:
    monkeypatch.setenv(SECRET, "s3cret-value")
    sandbox = SandboxExecutor(workers=2, memory_mb=128)
    await sandbox.start()
    yield sandbox
    await sandbox.close()


async def fails(executor: SandboxExecutor, code: str, *, limit: float = 3.0) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        await executor.run("python3", code, {}, timeout=limit)
    # The pool is healthy afterwards: a normal job runs and returns its result.
    assert await executor.run("python3", NORMAL, {"a": 21}, timeout=5) == {"double": 42}
    return caught.value


async def test_infinite_loop_hits_wall_time(executor: SandboxExecutor) -> None:
    error = await fails(executor, "def main():\n    while True:\n        pass\n", limit=1)
    assert error.kind == "timeout"
    assert str(error) == "code execution timed out after 1s"


async def test_sleeping_job_hits_wall_time(executor: SandboxExecutor) -> None:
    error = await fails(executor, "import time\ndef main():\n    time.sleep(60)\n", limit=1)
    assert error.kind == "timeout"


async def test_memory_bomb(executor: SandboxExecutor) -> None:
    code = "def main():\n    blocks = []\n    while True:\n        blocks.append(' ' * 10**7)\n"
    error = await fails(executor, code)
    assert error.kind == "memory"
    assert "memory limit exceeded" in str(error)


async def test_fork_bomb(executor: SandboxExecutor) -> None:
    error = await fails(executor, "import os\ndef main():\n    while True:\n        os.fork()\n")
    assert error.kind == "violation"
    assert "os.fork" in str(error)


async def test_subprocess_is_refused(executor: SandboxExecutor) -> None:
    code = "import subprocess\ndef main():\n    subprocess.run(['id'])\n    return {}\n"
    error = await fails(executor, code)
    assert error.kind == "violation"


async def test_reading_etc_passwd(executor: SandboxExecutor) -> None:
    error = await fails(executor, "def main():\n    return {'x': open('/etc/passwd').read()}\n")
    assert error.kind == "violation"
    assert "reading '/etc/passwd' is not allowed" in str(error)


async def test_reading_the_server_database(executor: SandboxExecutor, tmp_path: Path) -> None:
    database = tmp_path / "chatflow.db"
    database.write_text("secret rows")
    code = f"def main():\n    return {{'x': open({str(database)!r}).read()}}\n"
    error = await fails(executor, code)
    assert error.kind == "violation"
    assert "chatflow.db" in str(error)


async def test_opening_a_socket(executor: SandboxExecutor) -> None:
    code = (
        "import socket\ndef main():\n"
        "    s = socket.create_connection(('127.0.0.1', 5001), timeout=1)\n    return {}\n"
    )
    error = await fails(executor, code)
    assert error.kind == "violation"
    assert "network access is not allowed" in str(error)


async def test_environment_has_no_server_secrets(executor: SandboxExecutor) -> None:
    code = "import os\ndef main():\n    return {'env': dict(os.environ)}\n"
    env = (await executor.run("python3", code, {}, timeout=5))["env"]
    assert os.environ[SECRET] == "s3cret-value"
    assert SECRET not in env
    assert set(env) <= {"LANG", "PATH", "TMPDIR"}


async def test_server_environment_file_is_unreadable(executor: SandboxExecutor) -> None:
    code = f"def main():\n    return {{'x': open('/proc/{os.getpid()}/environ').read()}}\n"
    error = await fails(executor, code)
    assert error.kind == "violation"


async def test_writing_outside_the_job_directory(executor: SandboxExecutor, tmp_path: Path) -> None:
    target = tmp_path / f"escape-{uuid.uuid4().hex}"
    error = await fails(executor, f"def main():\n    open({str(target)!r}, 'w').write('x')\n")
    assert error.kind == "violation"
    assert "writing" in str(error)
    assert not target.exists()


async def test_writing_inside_the_job_directory_works(executor: SandboxExecutor) -> None:
    code = (
        "import tempfile\ndef main():\n"
        "    open('note.txt', 'w').write('kept')\n"
        "    with tempfile.NamedTemporaryFile('w+') as f:\n"
        "        f.write('tmp'); f.seek(0); extra = f.read()\n"
        "    return {'text': open('note.txt').read() + extra}\n"
    )
    assert await executor.run("python3", code, {}, timeout=5) == {"text": "kepttmp"}


async def test_ctypes_is_refused(executor: SandboxExecutor) -> None:
    error = await fails(executor, "import ctypes\ndef main():\n    return {}\n")
    assert error.kind == "violation"


async def test_crashing_job_is_replaced(executor: SandboxExecutor) -> None:
    error = await fails(executor, "import faulthandler\ndef main():\n    faulthandler._sigsegv()\n")
    assert error.kind == "crash"
    assert "SIGSEGV" in str(error)


async def test_oversized_output() -> None:
    async with SandboxExecutor(workers=1, max_output_bytes=1000) as sandbox:
        with pytest.raises(SandboxError) as caught:
            await sandbox.run(
                "python3", "def main():\n    return {'x': 'a' * 5000}\n", {}, timeout=5
            )
        assert caught.value.kind == "output"
        assert await sandbox.run("python3", NORMAL, {"a": 1}, timeout=5) == {"double": 2}


async def test_killed_sandbox_process_is_restarted(executor: SandboxExecutor) -> None:
    pid = executor.pid
    assert pid is not None
    os.kill(pid, 9)
    assert await executor.run("python3", NORMAL, {"a": 2}, timeout=5) == {"double": 4}
    assert executor.pid != pid
