"""Document parsing in child processes with CPU-time and memory limits.

PDFs, DOCX and spreadsheets are someone else's bytes fed to large parsers: a crafted file
can loop or allocate without bound. Each parse runs in a fresh child (forked from a
forkserver that has the parsers' module loaded, so a child costs milliseconds) with
RLIMIT_CPU and RLIMIT_AS set; the child exits after one parse. A child killed by a limit
breaks the pool, which is rebuilt for the next parse; the parse fails with a clear error.

Children check on the server process every second and exit once it has ended, however
it ended. The pool's own shutdown runs from an `atexit` hook, which a killed server never
reaches, and neither does one stopped by SIGTERM: uvicorn re-raises the signal after its
graceful shutdown, and its default action ends the process. An idle child waits on the
pool's queue, whose write end it holds itself, as it holds the forkserver's liveness
pipe, so nothing else ends it: the live tests' server left the forkserver and two idle
children (~350 MB) behind after every run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import select
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_MODULE = "chatflow.engine.nodes._documents"
_WORKERS = 2
# How often a child checks that the server process is still there.
_POLL_SECONDS = 1.0
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


class ExtractionLimitExceeded(Exception):
    """The parse ran out of its CPU time or memory."""


def _parse(
    module_name: str,
    converter: str,
    content: bytes,
    args: tuple[Any, ...],
    cpu_seconds: int,
    memory_bytes: int,
) -> Any:
    """In the child: limit this process, then parse (the child serves only this call)."""
    import importlib

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    module = importlib.import_module(module_name)
    return getattr(module, converter)(content, *args)


def _watch_server(server_pid: int) -> None:
    """The pool's initializer, in each child: exit when the server process ends.

    A timer checks every `_POLL_SECONDS`; its signal also wakes a child blocked on the
    pool's queue. Not a waiting thread: a thread's first allocation reserves its own
    64 MiB malloc arena, which RLIMIT_AS would count against the parse.
    """
    try:
        handle: int | None = os.pidfd_open(server_pid)
    except ProcessLookupError:  # already gone
        os._exit(1)
    except (AttributeError, OSError):  # no process descriptors (not Linux 5.3+)
        handle = None

    def check(signum: int, frame: object) -> None:
        if handle is not None:  # readable once the process has ended
            gone = bool(select.select([handle], [], [], 0)[0])
        else:  # the pid gone, or another user's (reused: the server was ours)
            try:
                os.kill(server_pid, 0)
                gone = False
            except OSError:
                gone = True
        if gone:
            os._exit(1)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, _POLL_SECONDS, _POLL_SECONDS)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([_MODULE])
            _pool = ProcessPoolExecutor(
                _WORKERS,
                mp_context=context,
                max_tasks_per_child=1,
                initializer=_watch_server,
                initargs=(os.getpid(),),
            )
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


async def parse(converter: str, content: bytes, *, seconds: float, memory_mb: int) -> str:
    """`converter(content)` from `_documents`, in a limited child process."""
    result = await run_limited(_MODULE, converter, content, seconds=seconds, memory_mb=memory_mb)
    assert isinstance(result, str)
    return result


async def run_limited(
    module: str,
    function: str,
    content: bytes,
    *args: Any,
    seconds: float,
    memory_mb: int,
) -> Any:
    """`module.function(content, *args)` in a limited child process (picklable results)."""
    pool = _get_pool()
    cpu = max(1, int(seconds))
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(
        pool, _parse, module, function, content, args, cpu, memory_mb << 20
    )
    try:
        # CPU time is what a parser burns; the wall-clock wait adds room for a busy machine.
        return await asyncio.wait_for(future, seconds * 3 + 5)
    except BrokenProcessPool:
        _discard(pool)
        raise ExtractionLimitExceeded(
            f"parsing exceeded its limits ({cpu}s of CPU, {memory_mb} MB of memory)"
        ) from None
    except TimeoutError:
        _discard(pool)
        raise ExtractionLimitExceeded(f"parsing took longer than {seconds:g}s") from None
    except MemoryError:
        raise ExtractionLimitExceeded(
            f"parsing needed more than {memory_mb} MB of memory"
        ) from None
