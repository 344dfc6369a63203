"""A seccomp filter for sandbox jobs: the kernel refuses the system calls user code never
needs, whatever Python-level trick reaches them (a renamed `_posixsubprocess`, raw ctypes).

Refused with EPERM: new processes (fork, vfork, clone without CLONE_THREAD, execve),
signals and pidfds, sockets, ptrace and cross-process memory, symlinks, hard links and
`fchdir`, mounts and namespaces, identity changes, io_uring (which bypasses seccomp),
bpf, perf, keyrings, modules and the other administrator calls. `clone3` answers ENOSYS so
that libc falls back to `clone`, whose flags the filter can read. Threads stay allowed
(V8 needs them; the job's rlimits and PID namespace bound them). A call from another ABI
(x32, i386 through int 0x80) kills the process: its numbers would slip past the table.

Hand-written classic BPF over `seccomp_data` (nr at 0, arch at 4, args at 16 + 8*i), so
the sandbox needs no library; x86_64 and aarch64. Stdlib only: runs in the sandbox child.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import platform
import struct

_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1  # every thread (V8's are already running for JavaScript)
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_DENIED_NAMES = (
    # processes, signals, other processes' memory
    "fork", "vfork", "execve", "execveat", "kill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "ptrace",
    "process_vm_readv", "process_vm_writev", "kcmp",
    # network
    "socket",
    # file-system tricks the path checks cannot follow
    "symlink", "symlinkat", "link", "linkat", "fchdir", "mknod", "mknodat",
    "open_by_handle_at", "name_to_handle_at",
    # mounts, namespaces, root
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # identity
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
    "setfsgid", "setgroups", "capset",
    # kernel interfaces user code has no business with
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "personality", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "syslog", "acct", "quotactl", "settimeofday", "clock_settime", "adjtimex",
    "iopl", "ioperm", "uselib", "vhangup", "lookup_dcookie",
)  # fmt: skip

_X86_64: dict[str, int] = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "kill": 62, "tkill": 200,
    "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "ptrace": 101, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "socket": 41, "symlink": 88, "symlinkat": 266,
    "link": 86, "linkat": 265, "fchdir": 81, "mknod": 133, "mknodat": 259,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "mount": 165, "umount2": 166,
    "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114,
    "setresuid": 117, "setresgid": 119, "setfsuid": 122, "setfsgid": 123, "setgroups": 116,
    "capset": 126, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 250,
    "add_key": 248, "request_key": 249, "personality": 135, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
    "reboot": 169, "swapon": 167, "swapoff": 168, "syslog": 103, "acct": 163,
    "quotactl": 179, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159,
    "iopl": 172, "ioperm": 173, "uselib": 134, "vhangup": 153, "lookup_dcookie": 212,
    "clone": 56, "clone3": 435, "seccomp": 317,
}  # fmt: skip

# The generic table: no fork, vfork, symlink, link, mknod, iopl, ioperm, uselib.
_AARCH64: dict[str, int] = {
    "execve": 221, "execveat": 281, "kill": 129, "tkill": 130, "tgkill": 131,
    "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "ptrace": 117, "process_vm_readv": 270,
    "process_vm_writev": 271, "kcmp": 272, "socket": 198, "symlinkat": 36, "linkat": 37,
    "fchdir": 50, "mknodat": 33, "open_by_handle_at": 265, "name_to_handle_at": 264,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "setuid": 146, "setgid": 144, "setreuid": 145,
    "setregid": 143, "setresuid": 147, "setresgid": 149, "setfsuid": 151, "setfsgid": 152,
    "setgroups": 159, "capset": 91, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 219,
    "add_key": 217, "request_key": 218, "personality": 92, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294,
    "reboot": 142, "swapon": 224, "swapoff": 225, "syslog": 116, "acct": 89, "quotactl": 60,
    "settimeofday": 170, "clock_settime": 112, "adjtimex": 171, "vhangup": 58,
    "lookup_dcookie": 18, "clone": 220, "clone3": 435, "seccomp": 277,
}  # fmt: skip

# Thread-directed signals (raise, abort, pthread_kill) reach only the job's own process
# where it has a PID namespace and uid of its own; elsewhere they are refused too.
_THREAD_SIGNALS = ("tkill", "tgkill")

_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, _X86_64),
    "aarch64": (0xC00000B7, _AARCH64),
}


def supported() -> bool:
    """Whether this machine's architecture has a syscall table here."""
    return platform.machine() in _ARCHES


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


@functools.lru_cache(maxsize=8)
def build_filter(*, allow_network: bool = False, thread_signals: bool = False) -> bytes:
    """The filter program for this machine, as packed `sock_filter` entries."""
    audit_arch, table = _ARCHES[platform.machine()]
    names = set(_DENIED_NAMES) | (set() if thread_signals else set(_THREAD_SIGNALS))
    denied = sorted(
        {table[name] for name in names if name in table}
        - ({table["socket"]} if allow_network else set())
    )
    deny = _RET_ERRNO | errno.EPERM
    program = [
        _insn(_LD_W_ABS, 0, 0, 4),
        _insn(_JEQ_K, 1, 0, audit_arch),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, 0),
    ]
    if audit_arch == 0xC000003E:
        program += [_insn(_JGE_K, 0, 1, _X32_BIT), _insn(_RET_K, 0, 0, _RET_KILL_PROCESS)]
    for number in denied:
        program += [_insn(_JEQ_K, 0, 1, number), _insn(_RET_K, 0, 0, deny)]
    program += [
        _insn(_JEQ_K, 0, 1, table["clone3"]),
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
        # clone: a thread (CLONE_THREAD in the low word of args[0]) or nothing
        _insn(_JEQ_K, 0, 4, table["clone"]),
        _insn(_LD_W_ABS, 0, 0, 16),
        _insn(_JSET_K, 1, 0, _CLONE_THREAD),
        _insn(_RET_K, 0, 0, deny),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(*, allow_network: bool = False, thread_signals: bool = False) -> bool:
    """Install the filter on every thread of this process; False when the kernel refused
    (no seccomp) or the architecture is unknown. Irreversible, inherited by children."""
    if not supported():
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    program = build_filter(allow_network=allow_network, thread_signals=thread_signals)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    number = _ARCHES[platform.machine()][1]["seccomp"]
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_uint(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    return int(result) == 0


def available() -> bool:
    """Probe in a throwaway child whether this kernel accepts the filter."""
    import os

    if not supported():
        return False
    for network in (False, True):  # built here once: every job's child inherits them
        for signals in (False, True):
            build_filter(allow_network=network, thread_signals=signals)
    pid = os.fork()
    if pid == 0:
        try:
            ok = install()
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
