"""Document parsing runs in a limited child process: a decompression bomb or an
oversized spreadsheet fails the parse, the server process never holds it, and the event
loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from chatflow.engine.files import File
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import _extract_process
from chatflow.engine.nodes._documents import extract_text
from chatflow.errors import NodeError


def _pdf_bomb(expanded_mb: int) -> bytes:
    stream = zlib.compress(b"(A) Tj " * (expanded_mb * 1024 * 1024 // 7), 1)
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R/Resources<<>>>>",
        b"<</Length %d/Filter/FlateDecode>>stream\n" % len(stream) + stream + b"\nendstream",
    ]
    body = b"%PDF-1.4\n"
    for number, obj in enumerate(objects, 1):
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    return body + b"trailer\n<</Root 1 0 R>>\n%%EOF\n"


async def _ticks_while(task: asyncio.Task[object]) -> int:
    ticks = 0
    while not task.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_a_pdf_decompression_bomb_fails_the_parse() -> None:
    bomb = _pdf_bomb(400)

    async def reader(file: object) -> bytes:
        return bomb

    file = File(type="document", transfer_method="local_file", id="x", extension=".pdf")
    limits = EngineLimits(extract_timeout_seconds=10, extract_memory_mb=256)
    task = asyncio.create_task(extract_text(reader, file, limits))
    assert await _ticks_while(task) > 0  # the loop ran while the child parsed
    with pytest.raises(NodeError):
        task.result()


async def test_the_child_has_a_memory_limit() -> None:
    rows = b"a,b,c\n" * (40 * 1024 * 1024 // 6)  # 40 MB of CSV: the table needs far more
    with pytest.raises((_extract_process.ExtractionLimitExceeded, MemoryError)):
        await _extract_process.parse("csv_text", rows, seconds=20, memory_mb=128)
    # The pool is rebuilt: the next parse works.
    assert "a" in await _extract_process.parse("csv_text", b"a,b\n1,2\n", seconds=5, memory_mb=256)


# A server that parsed documents, then died without shutting its pool down: killed, or
# stopped by SIGTERM, which uvicorn re-raises after a graceful shutdown (so `atexit`
# never runs). It writes down the parse processes it leaves (its children and theirs).
_SERVER_DIES = """
import asyncio, os, signal, sys
from pathlib import Path
from chatflow.engine.nodes import _extract_process

def family(pid):
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(kid) for kid in kids] + [grand for kid in kids for grand in family(int(kid))]

async def main():
    texts = [_extract_process.parse("csv_text", b"a,b\\n1,2\\n", seconds=5, memory_mb=256)
             for _ in range(2)]
    await asyncio.gather(*texts)
    await asyncio.sleep(0.5)  # the pool has started idle replacements by now

if __name__ == "__main__":
    asyncio.run(main())
    Path(sys.argv[1]).write_text(" ".join(map(str, family(os.getpid()))))
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_parse_processes_end_with_the_server(tmp_path: Path) -> None:
    script, pids, log = tmp_path / "server.py", tmp_path / "pids", tmp_path / "log"
    script.write_text(_SERVER_DIES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # Output to a file: a pipe would stay open as long as any process it left lives.
    with log.open("w") as output:
        done = subprocess.run(
            [sys.executable, str(script), str(pids)],
            stdout=output, stderr=output, timeout=60, env=env,
        )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, log.read_text()
    left = [int(pid) for pid in pids.read_text().split()]
    assert left, "the pool started no processes"  # the forkserver and its children
    try:
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in left) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in left if _alive(pid)]
    finally:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


_WATCH_COST = """
import os, re
from pathlib import Path
from chatflow.engine.nodes import _extract_process

def size():
    return int(re.search(r"VmSize:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])

before = size()
_extract_process._watch_server(os.getppid())
print(size() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_watching_the_server_takes_no_address_space_from_the_parse() -> None:
    """RLIMIT_AS counts every mapping: a watching thread would reserve a 64 MiB malloc
    arena of the parse's memory limit."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _WATCH_COST], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 1024  # KiB
