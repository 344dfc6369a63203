"""Kernel isolation for sandbox jobs: a private file-system view, an unprivileged identity,
and a PID namespace per job.

- The jail (built once by the sandbox process, in its own mount namespace): a read-only
  tmpfs holding only what a job needs, bind-mounted at the same absolute paths: the
  interpreter's stdlib, the shared libraries extension modules load, time zones,
  `/dev/null`, `/dev/urandom` and the directory of job directories. No /proc, no /etc, no
  database, no uploads: each job `chroot`s into it, so a path trick that fools the audit
  hook still finds nothing. Paths stay identical, so imports and tracebacks work.
- Identity: as root, each job becomes a uid of its own (random, far above real users), so
  the kernel's permission checks, RLIMIT_NPROC and signal rules apply and two jobs cannot
  touch each other. Without root, the sandbox process first enters a user namespace (to
  build the jail) and each job gives up every capability.
- PID namespace (root): each job runs beside a holder process that is the namespace's
  init; killing the holder makes the kernel kill everything left in the namespace, so no
  process outlives the job's timeout.

Stdlib only (ctypes); runs in the sandbox process.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
JOB_UID_BASE = 1 << 30
JOB_UID_SPAN = 1 << 29


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def c(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    _check(
        _libc().mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data or None)),
        f"mount {target}",
    )


def enter_user_namespace() -> None:
    """Without root: a user namespace mapping only our own uid, so that the mount
    namespace and chroot below are permitted. Jobs drop every capability it grants."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _system_libraries() -> tuple[str, ...]:
    """Where the dynamic loader finds the libraries extension modules need."""
    found = []
    for path in ("/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache"):
        if os.path.exists(path) and not os.path.islink(path):
            found.append(path)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Jail:
    root: str


def build_jail(root: str, read_paths: tuple[str, ...], writable: str) -> Jail:
    """In a new mount namespace (the caller's from now on), a read-only tmpfs at `root`
    with `read_paths` bound read-only and `writable` (the job directories) read-write, all
    at their own absolute paths. Raises OSError when the kernel refuses."""
    unshare(CLONE_NEWNS)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    os.makedirs(root, mode=0o755, exist_ok=True)
    _mount("chatflow-jail", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=755")
    for path in sorted(set(read_paths) | set(_system_libraries())):
        if not os.path.exists(path):
            continue
        device = path.startswith("/dev/")
        _bind(root, path, read_only=not device, nodev=not device)
    for link in ("/lib", "/lib64", "/bin"):  # merged-/usr systems: the loader's paths
        if os.path.islink(link):
            os.symlink(os.readlink(link), root + link)
    _bind(root, writable, read_only=False, nodev=True, noexec=True)
    _mount(None, root, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    return Jail(root)


def _bind(root: str, path: str, *, read_only: bool, nodev: bool, noexec: bool = False) -> None:
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(path, target, None, _MS_BIND | _MS_REC)
    flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID
    flags |= (_MS_RDONLY if read_only else 0) | (_MS_NODEV if nodev else 0)
    flags |= _MS_NOEXEC if noexec else 0
    _mount(None, target, None, flags)


def enter_jail(jail: Jail, workdir: str) -> None:
    os.chroot(jail.root)
    os.chdir(workdir)


def job_uid() -> int:
    """A fresh uid for one job: no file on the machine belongs to it."""
    return JOB_UID_BASE + secrets.randbelow(JOB_UID_SPAN)


def become(uid: int, workdir: str) -> None:
    """As root: hand the job directory over, then drop to `uid` for good."""
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_capabilities() -> None:
    """Give up every capability (those a user namespace grants its creator)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc().capset(ctypes.byref(header), data), "capset")


class PidNamespaces:
    """Start each job in a fresh PID namespace whose init is a holder process.

    The sandbox process keeps its own namespace: `unshare(CLONE_NEWPID)` only moves its
    future children, and `setns` back to the saved one after forking restores it.
    """

    def __init__(self) -> None:
        self._home = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    @classmethod
    def probe(cls) -> PidNamespaces | None:
        try:
            spaces = cls()
            holder = spaces.open()
            spaces.close()
        except OSError:
            return None
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)
        return spaces

    def open(self) -> int:
        """Enter a new namespace for the next fork and start its holder; returns its pid.
        The caller forks the job next, then calls `close`."""
        unshare(CLONE_NEWPID)
        try:
            holder = os.fork()
        except OSError:
            self.close()
            raise
        if holder == 0:
            _hold()
        return holder

    def close(self) -> None:
        _check(_libc().setns(self._home, CLONE_NEWPID), "setns")


def _hold() -> None:
    """The namespace's init: nothing open, dies with the sandbox process; never returns."""
    try:
        os.closerange(0, os.sysconf("SC_OPEN_MAX"))
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        while True:
            signal.pause()
    finally:
        os._exit(0)
