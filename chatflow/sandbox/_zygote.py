"""The sandbox process: a fork server that runs each job in a fresh, confined child.

The server starts this module once (`executor.py`) in a clean interpreter: minimal
environment, private working directory, no site-packages, and, when the kernel lets it,
its own empty network namespace. It reads job frames on stdin, forks one child per job
(fork costs ~1 ms, against ~20 ms for a new interpreter), enforces the wall-clock limit
by killing the child, reaps it, removes its directory and writes the outcome frame to
stdout. A child never sees the server's pipes, so it cannot forge another job's result,
and no state survives from one job to the next.

Frames are a 4-byte big-endian length and a JSON object, both ways.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from chatflow.sandbox import _confine, _isolate, _jobs, _landlock, _libraries, _network, _seccomp

_HEADER = struct.Struct(">I")


def write_frame(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


@dataclass(slots=True)
class _Job:
    id: int
    pid: int
    fd: int
    deadline: float
    workdir: str
    max_output: int
    holder: int | None = None  # the init of the job's PID namespace
    data: bytearray = field(default_factory=bytearray)
    killed: str | None = None  # why the zygote killed it: "timeout" or "output"
    eof: bool = False
    outcome: dict[str, Any] | None = None  # the child's final frame


def _unshare_network() -> bool:
    """An empty network namespace (only a down loopback); needs CAP_SYS_ADMIN."""
    try:
        _isolate.unshare(_isolate.CLONE_NEWNET)
    except OSError:
        return False
    return True


@dataclass(slots=True)
class Isolation:
    """What this kernel gave the sandbox; `strong` when jobs are held without the audit
    hook: seccomp, an unprivileged identity, and a file-system wall (jail or Landlock)."""

    root: bool
    user_namespace: bool = False
    netns: bool = False
    jail: _isolate.Jail | None = None
    pidns: _isolate.PidNamespaces | None = None
    seccomp: bool = False
    landlock: int = 0
    drop_uid: bool = False  # root: each job runs under a uid of its own
    audit_hook: bool = True

    @property
    def unprivileged(self) -> bool:
        return self.drop_uid or not self.root

    @property
    def strong(self) -> bool:
        walls = self.jail is not None or self.landlock >= 1
        return self.seccomp and self.unprivileged and walls

    def describe(self) -> dict[str, Any]:
        return {
            "netns": self.netns,
            "landlock": self.landlock,
            "nobody": self.drop_uid,
            "seccomp": self.seccomp,
            "jail": self.jail is not None,
            "pidns": self.pidns is not None,
            "user_namespace": self.user_namespace,
            "strong": self.strong,
        }


def isolate(
    base: str, read_roots: tuple[str, ...], jobs_dir: str, *, netns: bool, landlock: bool
) -> Isolation:
    """Set up every layer this kernel offers for the sandbox process and its jobs."""
    found = Isolation(root=os.geteuid() == 0)
    if not found.root:
        try:
            _isolate.enter_user_namespace()
            found.user_namespace = True
        except OSError:
            pass
    found.netns = netns and _unshare_network()
    if found.root or found.user_namespace:
        try:
            found.jail = _isolate.build_jail(os.path.join(base, "root"), read_roots, jobs_dir)
        except OSError:
            found.jail = None
    if found.root:
        found.pidns = _isolate.PidNamespaces.probe()
        found.drop_uid = found.jail is not None or _confine.can_drop_identity(read_roots)
    found.seccomp = _seccomp.available()
    found.landlock = _landlock.abi_version() if landlock else 0
    return found


class Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.jobs: dict[int, _Job] = {}
        self.selector = selectors.DefaultSelector()
        self.inbox = bytearray()
        self.dying: list[int] = []  # killed namespace holders not yet reaped
        self.base = os.getcwd()
        self.jobs_dir = os.path.join(self.base, "jobs")
        os.mkdir(self.jobs_dir, 0o711)
        os.chmod(self.jobs_dir, 0o711)
        self.read_roots = _confine.read_roots()
        self.isolation = Isolation(root=os.geteuid() == 0)

    def serve(self) -> None:
        # Before any job: the libraries code may import, loaded while site-packages is
        # still readable (jobs never can), with requests/httpx on the network channel.
        self.libraries = _libraries.preload(list(self.config.get("site_dirs") or ()))
        self.network = bool(self.config.get("network"))
        self.isolation = isolate(
            self.base,
            self.read_roots,
            self.jobs_dir,
            netns=bool(self.config.get("netns")),
            landlock=bool(self.config.get("landlock", True)),
        )
        self.isolation.audit_hook = bool(self.config.get("audit_hook", True))
        write_frame(1, {"ready": True, **self.isolation.describe(), "libraries": self.libraries})
        self.selector.register(0, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select(self._wait_time()):
                if key.fd == 0:
                    if not self._read_commands():
                        self._shutdown()
                        return
                else:
                    self._read_output(self.jobs[key.fd])
            self._enforce_deadlines()
            self._reap()
            self._reap_holders()

    def _reap_holders(self) -> None:
        for holder in list(self.dying):
            if os.waitpid(holder, os.WNOHANG)[0] != 0:
                self.dying.remove(holder)

    def _wait_time(self) -> float | None:
        if any(job.eof for job in self.jobs.values()):
            return 0.005
        if self.dying and not self.jobs:
            return 0.05
        if not self.jobs:
            return None
        return max(0.0, min(job.deadline for job in self.jobs.values()) - time.monotonic())

    def _read_commands(self) -> bool:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return False
        self.inbox += chunk
        while len(self.inbox) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.inbox)
            if len(self.inbox) < _HEADER.size + size:
                break
            frame = json.loads(self.inbox[_HEADER.size : _HEADER.size + size])
            del self.inbox[: _HEADER.size + size]
            if "cancel" in frame:
                self._cancel(int(frame["cancel"]))
            elif "http_reply" in frame:
                self._reply(int(frame["http_reply"]), frame["response"])
            else:
                self._start(frame)
        return True

    def _start(self, job: dict[str, Any]) -> None:
        workdir = tempfile.mkdtemp(prefix="job-", dir=self.jobs_dir)
        # One two-way channel: the child's outcome and HTTP requests out, replies back.
        ours, theirs = socket.socketpair()
        read_fd, write_fd = ours.detach(), theirs.detach()
        job["network"] = self.network
        pidns = self.isolation.pidns
        holder = pidns.open() if pidns is not None else None
        try:
            pid = os.fork()
        except OSError:
            if pidns is not None:
                pidns.close()
            raise
        if pid == 0:  # the child never returns
            os.close(read_fd)
            _child(job, write_fd, workdir, self.read_roots, self.isolation)
        if pidns is not None:
            pidns.close()
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.jobs[read_fd] = _Job(
            id=job["id"],
            pid=pid,
            fd=read_fd,
            deadline=time.monotonic() + float(job["timeout"]),
            workdir=workdir,
            max_output=int(job["max_output"]),
            holder=holder,
        )
        self.selector.register(read_fd, selectors.EVENT_READ)

    def _cancel(self, job_id: int) -> None:
        for job in self.jobs.values():
            if job.id == job_id and job.killed is None:
                job.killed = "cancelled"
                _kill_job(job)

    def _read_output(self, job: _Job) -> None:
        try:
            chunk = os.read(job.fd, 1 << 16)
        except BlockingIOError:
            return
        if chunk:
            job.data += chunk
            self._frames(job)
            # The child caps its own result; this catches one that writes on regardless.
            if len(job.data) > job.max_output + 4096 and job.killed is None:
                job.killed = "output"
                _kill_job(job)
            return
        job.eof = True
        self.selector.unregister(job.fd)

    def _frames(self, job: _Job) -> None:
        """Complete frames from the child: HTTP requests go on to the server (tagged with
        the job), the last frame is the outcome."""
        while len(job.data) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(job.data)
            if len(job.data) < _HEADER.size + size:
                return
            try:
                frame = json.loads(job.data[_HEADER.size : _HEADER.size + size])
            except ValueError:
                frame = None
            del job.data[: _HEADER.size + size]
            if isinstance(frame, dict) and isinstance(frame.get("http"), dict):
                write_frame(1, {"http": frame["http"], "job": job.id})
            elif isinstance(frame, dict):
                job.outcome = frame

    def _reply(self, job_id: int, response: dict[str, Any]) -> None:
        for job in self.jobs.values():
            if job.id == job_id and job.killed is None and not job.eof:
                try:
                    os.set_blocking(job.fd, True)
                    _network.write_frame(job.fd, response)
                except OSError:  # the child is gone; its outcome says why
                    pass
                finally:
                    os.set_blocking(job.fd, False)
                return

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.killed is None and now >= job.deadline:
                job.killed = "timeout"
                _kill_job(job)

    def _reap(self) -> None:
        for job in [j for j in self.jobs.values() if j.eof]:
            pid, status = os.waitpid(job.pid, os.WNOHANG)
            if pid == 0:
                continue
            del self.jobs[job.fd]
            os.close(job.fd)
            _end_namespace(job, self.dying)
            shutil.rmtree(job.workdir, ignore_errors=True)
            write_frame(1, {"id": job.id, **_outcome(job, status)})

    def _shutdown(self) -> None:
        for job in self.jobs.values():
            _kill_job(job)
            os.waitpid(job.pid, 0)
            _end_namespace(job, self.dying)
            shutil.rmtree(job.workdir, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_job(job: _Job) -> None:
    """The job and, through its namespace's init, everything it may have started."""
    if job.holder is not None:
        _kill(job.holder)
    _kill(job.pid)


def _end_namespace(job: _Job, dying: list[int]) -> None:
    """Kill the job's holder, which ends its namespace; the kernel's teardown takes a
    while, so the holder is reaped later (`Zygote._reap_holders`), not waited for."""
    if job.holder is not None:
        _kill(job.holder)
        dying.append(job.holder)
        job.holder = None


def _outcome(job: _Job, status: int) -> dict[str, Any]:
    if job.killed == "timeout":
        return _jobs.failure("timeout", "code execution timed out")
    if job.killed == "cancelled":
        return _jobs.failure("cancelled", "code execution was cancelled")
    if job.killed == "output":
        return _jobs.failure("output", "output is larger than the output limit")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _jobs.failure("cpu", "CPU time limit exceeded")
        if sig == signal.SIGKILL:
            return _jobs.failure("killed", "the sandbox process was killed (CPU or memory limit)")
        return _jobs.failure("crash", f"the sandbox process crashed ({signal.Signals(sig).name})")
    if job.outcome is None:
        return _jobs.failure("crash", "the sandbox process exited without a result")
    return job.outcome


def _child(
    job: dict[str, Any],
    result_fd: int,
    workdir: str,
    read_roots: tuple[str, ...],
    isolation: Isolation,
) -> None:
    """Confine this process, run the job, write the outcome, exit. Never returns.

    Order matters: V8 loads (through ctypes) before the jail hides the site directory;
    the jail and the identity change need root; Landlock needs ctypes, which the seccomp
    filter and audit hook then take away for good.
    """
    try:
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        _confine.close_fds(result_fd)
        _network.attach(result_fd if job.get("network") else None)
        javascript = job["language"] == "javascript"
        memory = int(job["memory"])
        runtime = _prepare_javascript(job) if javascript else None
        if isolation.jail is not None:
            _isolate.enter_jail(isolation.jail, workdir)
        else:
            os.chdir(workdir)
        os.environ["TMPDIR"] = workdir
        if isolation.root and isolation.drop_uid:
            _isolate.become(_isolate.job_uid(), workdir)
        elif isolation.user_namespace:
            _isolate.drop_capabilities()
        _confine.set_rlimits(
            _confine.Limits(
                cpu_seconds=int(float(job["timeout"])) + 1,
                memory_bytes=memory,
                javascript=javascript,
            )
        )
        if isolation.landlock:
            _confine.apply_landlock(read_roots, workdir)
        own_space = isolation.pidns is not None and isolation.drop_uid
        if isolation.seccomp and not _seccomp.install(thread_signals=own_space):
            raise OSError("the seccomp filter was refused")
        sys.path[:] = [p for p in sys.path if any(p.startswith(r) for r in read_roots)]
        sys.dont_write_bytecode = True
        if isolation.audit_hook:
            _confine.install_audit_hook(read_roots, workdir)
        if runtime is not None:
            outcome = _jobs.run_javascript(
                runtime, job["code"], job["inputs"], timeout=float(job["timeout"]), memory=memory
            )
        else:
            outcome = _jobs.run_python(job["code"], job["inputs"])
        data = _jobs.encode(outcome, int(job["max_output"]))
    except BaseException as exc:  # the sandbox itself failed; say so rather than hang
        data = json.dumps(_jobs.failure("crash", f"sandbox setup failed: {exc!r}")).encode()
    _jobs.flush_and_exit(result_fd, data)


def _prepare_javascript(job: dict[str, Any]) -> Any:
    """Load V8 before the audit hook forbids ctypes; JS code cannot reach Python."""
    site = job.get("javascript_path")
    if site:
        sys.path.append(site)
    from py_mini_racer import MiniRacer

    return MiniRacer()


def main() -> None:
    header = os.read(0, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    data = b""
    while len(data) < size:
        data += os.read(0, size - len(data))
    Zygote(json.loads(data)).serve()
