"""Confine a freshly forked sandbox child before it runs user code.

Layers, each useful on its own, applied in this order:

1. fds: everything but the result pipe closed; stdio on /dev/null.
2. identity: as root, drop to `nobody` so kernel permissions and RLIMIT_NPROC apply.
3. rlimits: CPU seconds, address space (data segment for V8), no new processes,
   file size, open files, no core dumps.
4. Landlock (when the kernel has it): read-only stdlib, read-write job directory, no TCP,
   no signals to outside processes.
5. An audit hook (always): refuses sockets, process creation, ctypes, opening files
   outside the allow-list and writing outside the job directory, with a clear message.

Stdlib only: this module runs in the sandbox process, not the server.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass

from chatflow.sandbox import _landlock

NOBODY = 65534


class SandboxViolation(PermissionError):
    """User code tried something the sandbox forbids."""


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int
    javascript: bool


def close_fds(keep: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def can_drop_identity(roots: tuple[str, ...]) -> bool:
    """Root can become `nobody` only if `nobody` can still read the stdlib (a Python
    installed under /root, mode 700, cannot be read by anyone else)."""
    if os.geteuid() != 0:
        return False
    for root in roots:
        path = root
        while True:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                break
            if not mode & 0o001:
                return False
            if path == os.sep:
                break
            path = os.path.dirname(path)
    return True


def drop_identity(workdir: str) -> None:
    """Become `nobody`; the job directory is handed over first."""
    os.chown(workdir, NOBODY, NOBODY)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def set_rlimits(limits: Limits) -> None:
    cpu = max(1, limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if limits.javascript:
        # V8 reserves a huge virtual address space up front and aborts under RLIMIT_AS;
        # its heap is capped by mini-racer's max_memory and the data segment here.
        data = limits.memory_bytes + 1024 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    else:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        # Also stops threads; V8 needs its platform threads, JS cannot fork anyway.
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_roots(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What user code may read: the interpreter's stdlib and a few system files."""
    import sysconfig

    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], os.path.dirname(os.__file__)}
    roots |= {"/usr/share/zoneinfo", "/etc/localtime", "/dev/null", "/dev/urandom"}
    roots |= set(extra)
    return tuple(sorted(os.path.realpath(p) for p in roots))


def apply_landlock(read: tuple[str, ...], workdir: str) -> int:
    try:
        return _landlock.restrict(read=read, write=(workdir, "/dev/null"))
    except OSError:
        return 0


_PROCESS_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.startfile",
        "os.kill",
        "os.killpg",
        "os.putenv",
        "os.unsetenv",
        "subprocess.Popen",
        "pty.spawn",
        "resource.setrlimit",
        "resource.prlimit",
        "sys.remote_exec",
    }
)
_BLOCKED_IMPORTS = frozenset({"_ctypes", "ctypes", "_posixsubprocess", "_xxsubinterpreters"})
_PATH_WRITE_EVENTS = frozenset(
    {
        "os.chdir",
        "os.chmod",
        "os.chown",
        "os.chflags",
        "os.lchflags",
        "os.link",
        "os.mkdir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.setxattr",
        "os.removexattr",
        "shutil.chown",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
    }
)
_PATH_READ_EVENTS = frozenset(
    {"os.listdir", "os.scandir", "os.getxattr", "os.listxattr", "glob.glob"}
)
_INTROSPECTION_EVENTS = frozenset(
    {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames"}
)


def install_audit_hook(read: tuple[str, ...], workdir: str) -> None:
    """Refuse escapes with a clear `SandboxViolation`; data lives in default arguments
    (immutable, and changing a function's attributes is itself refused).

    Blocked modules the sandbox itself loaded (ctypes, for Landlock) are forgotten so
    that importing them raises the `import` event again; any use of ctypes raises
    `ctypes.*` events, which are refused too.
    """
    for name in list(sys.modules):
        if name.split(".")[0] in _BLOCKED_IMPORTS:
            del sys.modules[name]
    sys.addaudithook(_make_hook(read, os.path.realpath(workdir)))


def _make_hook(
    read_roots: tuple[str, ...], workdir: str
) -> Callable[[str, tuple[object, ...]], None]:
    def within(path: object, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor: only stdio and the result pipe exist
        if not isinstance(path, str | bytes | os.PathLike):
            return False
        real = os.path.realpath(os.path.join(workdir, os.fsdecode(path)))
        return any(real == root or real.startswith(root + os.sep) for root in roots)

    def hook(
        event: str,
        args: tuple[object, ...],
        read_roots: tuple[str, ...] = read_roots,
        write_roots: tuple[str, ...] = (workdir, "/dev/null"),
    ) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) != 0
            )
            if writing and not within(path, write_roots):
                raise SandboxViolation(f"sandbox: writing {path!r} is not allowed")
            if not writing and not within(path, read_roots + write_roots):
                raise SandboxViolation(f"sandbox: reading {path!r} is not allowed")
        elif event.startswith("socket."):
            raise SandboxViolation(f"sandbox: network access is not allowed ({event})")
        elif event in _PROCESS_EVENTS:
            raise SandboxViolation(
                f"sandbox: creating or signalling processes is not allowed ({event})"
            )
        elif event == "import" and args[0] in _BLOCKED_IMPORTS:
            raise SandboxViolation(f"sandbox: importing {args[0]} is not allowed")
        elif event.startswith("ctypes.") or event in _INTROSPECTION_EVENTS:
            raise SandboxViolation(f"sandbox: {event} is not allowed")
        elif event in _PATH_WRITE_EVENTS:
            for path in args[:2]:
                if isinstance(path, str | bytes | os.PathLike) and not within(path, write_roots):
                    raise SandboxViolation(f"sandbox: {event} on {path!r} is not allowed")
        elif event in _PATH_READ_EVENTS:
            path = args[0] if args else "."
            if not within(path if path is not None else ".", read_roots + write_roots):
                raise SandboxViolation(f"sandbox: listing {path!r} is not allowed")
        elif event == "object.__setattr__" and callable(args[0]) and not isinstance(args[0], type):
            raise SandboxViolation("sandbox: changing function attributes is not allowed")

    return hook
