"""`SandboxExecutor`: the server's side of the code sandbox (the engine's `CodeExecutor`).

It starts the sandbox process (`_zygote.py`) in a clean interpreter: no site-packages,
`-I` isolation, an environment with nothing of the server's (no secrets), a private
temporary working directory and its own session. Jobs go to it as frames; each runs in a
fresh confined child with CPU, memory, wall-time and output limits, and its outcome comes
back as a frame. A sandbox process that dies fails its in-flight jobs and is restarted on
the next job, so one bad job never poisons the pool. `workers` bounds concurrent jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import itertools
import json
import os
import shutil
import struct
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatflow.errors import ChatflowError
from chatflow.observability import metrics as m
from chatflow.sandbox import _libraries
from chatflow.sandbox.http import send_for_job
from chatflow.settings import Settings

_HEADER = struct.Struct(">I")
_LANGUAGES = {"python3": "python", "python": "python", "javascript": "javascript"}
_ROOT = str(Path(__file__).resolve().parents[2])
# Makes `chatflow.sandbox._zygote` importable without running any package __init__
# (and without site-packages, which the sandbox never sees).
_BOOTSTRAP = f"""
import sys, types
for name, sub in (("chatflow", "chatflow"), ("chatflow.sandbox", "chatflow/sandbox")):
    module = types.ModuleType(name)
    module.__path__ = [{_ROOT!r} + "/" + sub]
    sys.modules[name] = module
from chatflow.sandbox._zygote import main
main()
"""


class SandboxError(ChatflowError):
    """A code job failed: user error, limit hit (`kind`) or sandbox failure."""

    code = "code_execution_error"
    status = 400

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class _ProcessExited(Exception):
    """The sandbox process ended while a job was in flight."""


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    """Which isolation layers the running sandbox got from this kernel."""

    network_namespace: bool
    landlock_abi: int
    runs_as_nobody: bool = False  # as root: each job under a uid of its own
    seccomp: bool = False
    jail: bool = False
    pid_namespace: bool = False
    user_namespace: bool = False
    strong: bool = False
    libraries: tuple[str, ...] = ()  # third-party modules code may import

    def missing(self) -> list[str]:
        """The layers a strong sandbox needs that this kernel did not give."""
        gaps = []
        if not self.seccomp:
            gaps.append("seccomp")
        if not (self.jail or self.landlock_abi >= 1):
            gaps.append("a file-system wall (mount namespace or Landlock)")
        if not (self.runs_as_nobody or self.user_namespace or os.geteuid() != 0):
            gaps.append("an unprivileged uid")
        return gaps


class _Process:
    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        workdir: str,
        http: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.proc = proc
        self.workdir = workdir
        self.http = http
        self.requests: set[asyncio.Task[None]] = set()
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.info = SandboxInfo(False, 0)
        self.reader: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and self.reader is not None and not self.reader.done()

    def send(self, message: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        data = json.dumps(message, ensure_ascii=False, default=_jsonable).encode()
        self.proc.stdin.write(_HEADER.pack(len(data)) + data)

    async def read_frame(self) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        try:
            header = await self.proc.stdout.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            frame: dict[str, Any] = json.loads(await self.proc.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            return None
        return frame

    async def dispatch(self) -> None:
        while (frame := await self.read_frame()) is not None:
            if "http" in frame:  # a job's HTTP request (`_network`): sent, answered later
                task = asyncio.create_task(self._answer(int(frame["job"]), frame["http"]))
                self.requests.add(task)
                task.add_done_callback(self.requests.discard)
                continue
            future = self.pending.get(int(frame.pop("id", -1)))
            if future is not None and not future.done():
                future.set_result(frame)
        error = _ProcessExited()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)

    async def _answer(self, job_id: int, request: dict[str, Any]) -> None:
        if self.http is None:
            response = {"error": "network access is not allowed in code nodes here"}
        else:
            response = await self.http(request)
        if self.proc.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send({"http_reply": job_id, "response": response})

    async def stop(self) -> None:
        for task in list(self.requests):
            task.cancel()
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            await self.reader
        shutil.rmtree(self.workdir, ignore_errors=True)


class SandboxExecutor:
    """Runs Python/JavaScript jobs out of process with Dify's `main` contract."""

    def __init__(
        self,
        *,
        workers: int = 4,
        memory_mb: int = 256,
        max_output_bytes: int = 5 * 1024 * 1024,
        network_namespace: bool = True,
        allow_weak: bool = False,
        landlock: bool = True,
        audit_hook: bool = True,
        network: bool = True,
        ssrf_allow: str = "",
    ) -> None:
        self.workers = workers
        # Code may use requests/httpx; the server sends them through the SSRF guard.
        self.network = network
        self.ssrf_allow = ssrf_allow
        self.memory_bytes = memory_mb * 1024 * 1024
        self.max_output_bytes = max_output_bytes
        self.network_namespace = network_namespace
        self.allow_weak = allow_weak
        # Off only to prove the other walls hold on kernels without Landlock (tests).
        self.landlock = landlock
        # Off only to prove the kernel walls hold by themselves (tests/security).
        self.audit_hook = audit_hook
        self._slots = asyncio.Semaphore(workers)
        self._lock = asyncio.Lock()
        self._process: _Process | None = None
        self._ids = itertools.count(1)
        spec = importlib.util.find_spec("py_mini_racer")
        origin = spec.origin if spec is not None else None
        self._javascript_path = str(Path(origin).parents[1]) if origin else None

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxExecutor:
        return cls(
            workers=settings.code_workers,
            memory_mb=settings.code_memory_mb,
            max_output_bytes=settings.code_max_output_bytes,
            network_namespace=settings.code_network_namespace,
            allow_weak=settings.code_allow_weak_sandbox,
            landlock=settings.code_landlock,
            network=settings.code_network,
            ssrf_allow=settings.ssrf_allow,
        )

    async def start(self) -> None:
        await self._ensure()

    async def close(self) -> None:
        async with self._lock:
            if self._process is not None:
                process, self._process = self._process, None
                await process.stop()

    async def __aenter__(self) -> SandboxExecutor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pid(self) -> int | None:
        """The sandbox process's pid, while it runs."""
        return self._process.proc.pid if self._process is not None else None

    @property
    def info(self) -> SandboxInfo:
        return self._process.info if self._process is not None else SandboxInfo(False, 0)

    async def run(
        self,
        language: str,
        code: str,
        inputs: Mapping[str, Any],
        *,
        timeout: float,  # noqa: ASYNC109 - the `CodeExecutor` protocol's name; the sandbox enforces it
    ) -> dict[str, Any]:
        """Run `main(**inputs)`; return its dict or raise `SandboxError`."""
        kind = _LANGUAGES.get(language)
        if kind is None:
            raise SandboxError(f"unsupported code language: {language}")
        if kind == "javascript" and self._javascript_path is None:
            raise SandboxError("javascript needs the mini-racer package, which is not installed")
        job = {
            "language": kind,
            "code": code,
            "inputs": dict(inputs),
            "timeout": timeout,
            "memory": self.memory_bytes,
            "max_output": self.max_output_bytes,
            "javascript_path": self._javascript_path,
        }
        m.SANDBOX_QUEUE.inc()
        try:
            await self._slots.acquire()
        finally:
            m.SANDBOX_QUEUE.dec()
        m.SANDBOX_RUNNING.inc()
        try:
            await self._refuse_if_weak()
            try:
                outcome = await self._submit(job, timeout)
            except _ProcessExited:
                # The sandbox process died under us (killed from outside: a job cannot
                # signal it); the job never ran to an outcome, so run it once more.
                try:
                    outcome = await self._submit(job, timeout)
                except _ProcessExited:
                    raise SandboxError(
                        "the sandbox process exited unexpectedly", kind="crash"
                    ) from None
        finally:
            m.SANDBOX_RUNNING.dec()
            self._slots.release()
        if outcome.get("ok"):
            result: dict[str, Any] = outcome["result"]
            return result
        error_kind = str(outcome.get("kind", "error"))
        message = str(outcome.get("error", "code execution failed"))
        if error_kind == "timeout":
            message = f"code execution timed out after {timeout:g}s"
        raise SandboxError(message, kind=error_kind)

    async def _refuse_if_weak(self) -> None:
        """Code runs only in a sandbox that holds without the audit hook, unless the
        operator accepted less (`CHATFLOW_CODE_ALLOW_WEAK_SANDBOX`)."""
        info = (await self._ensure()).info
        if info.strong or self.allow_weak:
            return
        raise SandboxError(
            "code nodes are disabled: this kernel does not offer "
            + ", ".join(info.missing())
            + " for the code sandbox; set CHATFLOW_CODE_ALLOW_WEAK_SANDBOX=true to run "
            "code with weaker isolation",
            kind="unavailable",
        )

    async def _submit(self, job: dict[str, Any], wall: float) -> dict[str, Any]:
        process = await self._ensure()
        job_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        process.pending[job_id] = future
        try:
            process.send({"id": job_id, **job})
            # The sandbox enforces `timeout` itself; the grace covers a stuck sandbox.
            return await asyncio.wait_for(future, wall + 5.0)
        except TimeoutError:
            await self._discard(process)
            raise SandboxError(
                f"code execution timed out after {wall:g}s", kind="timeout"
            ) from None
        except (BrokenPipeError, ConnectionResetError):
            raise _ProcessExited from None
        except asyncio.CancelledError:
            if process.alive:
                process.send({"cancel": job_id})
            raise
        finally:
            process.pending.pop(job_id, None)

    async def _ensure(self) -> _Process:
        async with self._lock:
            if self._process is not None and self._process.alive:
                return self._process
            if self._process is not None:
                await self._process.stop()
            self._process = await self._spawn()
            return self._process

    async def _discard(self, process: _Process) -> None:
        async with self._lock:
            if self._process is process:
                self._process = None
        await process.stop()

    async def _spawn(self) -> _Process:
        workdir = tempfile.mkdtemp(prefix="chatflow-sandbox-")
        os.chmod(workdir, 0o711)  # job dirs inside are handed to each job's own uid
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-B",
            "-c",
            _BOOTSTRAP,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=workdir,
            env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        http = functools.partial(send_for_job, self.ssrf_allow) if self.network else None
        process = _Process(proc, workdir, http)
        process.send(
            {
                "netns": self.network_namespace,
                "landlock": self.landlock,
                "audit_hook": self.audit_hook,
                "network": self.network,
                "site_dirs": _library_dirs(),
            }
        )
        ready = await process.read_frame()
        if ready is None or not ready.get("ready"):
            await process.stop()
            raise SandboxError("the code sandbox failed to start", kind="crash")
        process.info = SandboxInfo(
            network_namespace=bool(ready.get("netns")),
            landlock_abi=int(ready.get("landlock", 0)),
            runs_as_nobody=bool(ready.get("nobody")),
            seccomp=bool(ready.get("seccomp")),
            jail=bool(ready.get("jail")),
            pid_namespace=bool(ready.get("pidns")),
            user_namespace=bool(ready.get("user_namespace")),
            strong=bool(ready.get("strong")),
            libraries=tuple(ready.get("libraries") or ()),
        )
        process.reader = asyncio.create_task(process.dispatch())
        return process


def _library_dirs() -> list[str]:
    """Where the libraries code may import live (the sandbox imports them from there once)."""
    found: list[str] = []
    for name in _libraries.OFFERED:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            site = str(Path(spec.origin).parents[1])
            if site not in found:
                found.append(site)
    return found


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return str(value)
