"""Dify's code contract through the real sandbox: Python and JavaScript `main`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from chatflow.sandbox import SandboxError, SandboxExecutor
from chatflow.settings import Settings


@pytest.fixture
async def executor() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=2) as sandbox:
        yield sandbox


async def test_python_main_receives_inputs(executor: SandboxExecutor) -> None:
    code = "def main(arg1: str, arg2: list) -> dict:\n    return {'out': arg1 * len(arg2)}\n"
    result = await executor.run("python3", code, {"arg1": "ab", "arg2": [1, 2]}, timeout=5)
    assert result == {"out": "abab"}


async def test_python_stdlib_imports_work(executor: SandboxExecutor) -> None:
    code = (
        "import json, re, math, datetime, random, hashlib, base64, collections\n"
        "def main() -> dict:\n"
        "    return {'r': re.sub('a', 'b', 'aa'), 'h': hashlib.md5(b'x').hexdigest()[:4],\n"
        "            'n': math.floor(2.5), 'y': datetime.date(2024, 1, 2).year}\n"
    )
    result = await executor.run("python3", code, {}, timeout=5)
    assert result == {"r": "bb", "h": "9dd4", "n": 2, "y": 2024}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\n", "the code must define a function `main`"),
        ("def main():\n    return [1]\n", "main must return a dict, got list"),
        ("def main():\n    return {'s': {1, 2}}\n", "the result is not JSON serializable"),
        ("def main():\n    x = 1\n    return {'a': undefined_name}\n", "NameError"),
        ("def main(:\n", "SyntaxError"),
    ],
)
async def test_python_errors_are_clear(executor: SandboxExecutor, code: str, message: str) -> None:
    with pytest.raises(SandboxError) as caught:
        await executor.run("python3", code, {}, timeout=5)
    assert message in str(caught.value)
    assert caught.value.kind == "error"


async def test_user_exception_names_the_line(executor: SandboxExecutor) -> None:
    code = "def main():\n    x = 1\n    raise ValueError('bad input')\n"
    with pytest.raises(SandboxError, match=r"ValueError: bad input \(line 3\)"):
        await executor.run("python3", code, {}, timeout=5)


async def test_javascript_main(executor: SandboxExecutor) -> None:
    code = "function main({arg1, arg2}) {\n  return {sum: arg1 + arg2, s: `${arg1}`};\n}\n"
    result = await executor.run("javascript", code, {"arg1": 2, "arg2": 3}, timeout=5)
    assert result == {"sum": 5, "s": "2"}


async def test_javascript_has_no_host_access(executor: SandboxExecutor) -> None:
    code = "function main() { return {t: typeof require + typeof process + typeof fetch}; }"
    assert await executor.run("javascript", code, {}, timeout=5) == {
        "t": "undefinedundefinedundefined"
    }


async def test_javascript_infinite_loop(executor: SandboxExecutor) -> None:
    with pytest.raises(SandboxError) as caught:
        await executor.run("javascript", "function main() { while (true) {} }", {}, timeout=1)
    assert caught.value.kind == "timeout"
    assert await executor.run("javascript", "function main() { return {a: 1} }", {}, timeout=5)


async def test_javascript_memory_bomb() -> None:
    code = "function main() { let a = []; while (true) a.push(new Array(1e6).fill(1)); }"
    async with SandboxExecutor(workers=1, memory_mb=128) as sandbox:
        with pytest.raises(SandboxError) as caught:
            await sandbox.run("javascript", code, {}, timeout=10)
        assert caught.value.kind == "memory"


async def test_javascript_errors(executor: SandboxExecutor) -> None:
    with pytest.raises(SandboxError, match="the code must define a function `main`"):
        await executor.run("javascript", "let x = 1;", {}, timeout=5)
    with pytest.raises(SandboxError, match="main must return a dict, got list"):
        await executor.run("javascript", "function main() { return [1]; }", {}, timeout=5)
    with pytest.raises(SandboxError, match="boom"):
        await executor.run(
            "javascript", "function main() { throw new Error('boom'); }", {}, timeout=5
        )


async def test_unknown_language(executor: SandboxExecutor) -> None:
    with pytest.raises(SandboxError, match="unsupported code language: ruby"):
        await executor.run("ruby", "", {}, timeout=5)


async def test_workers_bound_concurrency() -> None:
    code = "import time\ndef main():\n    time.sleep(0.3)\n    return {}\n"
    async with SandboxExecutor(workers=2) as sandbox:
        started = time.monotonic()
        await asyncio.gather(*(sandbox.run("python3", code, {}, timeout=5) for _ in range(4)))
        elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 2.0


async def test_cancelled_job_is_killed(executor: SandboxExecutor) -> None:
    code = "import time\ndef main():\n    time.sleep(30)\n    return {}\n"
    task = asyncio.create_task(executor.run("python3", code, {}, timeout=30))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Both slots are free again at once: the cancelled child was killed, not left to run.
    quick = "def main():\n    return {'ok': True}\n"
    results = await asyncio.wait_for(
        asyncio.gather(*(executor.run("python3", quick, {}, timeout=5) for _ in range(2))), 2
    )
    assert results == [{"ok": True}, {"ok": True}]


async def test_from_settings() -> None:
    settings = Settings(code_workers=3, code_memory_mb=64, code_max_output_bytes=10)
    sandbox = SandboxExecutor.from_settings(settings)
    assert (sandbox.workers, sandbox.memory_bytes, sandbox.max_output_bytes) == (3, 64 << 20, 10)
