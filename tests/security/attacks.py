"""Attack programs run as sandbox jobs: each defines `main()` and returns what it achieved.

They are plain Python source so that the same attack runs through the executor (kernel
walls alone: no audit hook, no Landlock) and through a real server's code node.
`{marker}` is a path outside the job directory; `{target_pid}` a process outside the job.
"""

from __future__ import annotations

_LOAD_RENAMED = """
import importlib.util, os, sys

def load_renamed(real, alias):
    # An extension module loaded under another name: no `import` audit event names it.
    folder = [p for p in sys.path if p.endswith("lib-dynload")][0]
    filename = [f for f in os.listdir(folder) if f.startswith(real + ".")][0]
    # A dotted alias: the init function is found by the last part, the audit hook sees
    # no `import` event of the real name.
    path = os.path.join(folder, filename)
    spec = importlib.util.spec_from_file_location(alias + "." + real, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
"""

RENAMED_POSIXSUBPROCESS = (
    _LOAD_RENAMED
    + """
def main():
    ps = load_renamed("_posixsubprocess", "innocent")
    r, w = os.pipe()
    pid = ps.fork_exec(
        ["/bin/sh", "-c", "echo pwned > {marker}"], [b"/bin/sh"], True, (), None, None,
        -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, -1, -1, None, False)
    return {{"achieved": "spawned %d" % pid}}
"""
)

RENAMED_CTYPES = (
    _LOAD_RENAMED
    + """
def main():
    ct = load_renamed("_ctypes", "innocent")
    handle = ct.dlopen(None, 0)
    return {{"achieved": "libc handle %d" % handle}}
"""
)

FCHDIR_SYMLINK = """
import os

def main():
    os.makedirs("a/b")
    os.symlink("a/b", "inner")
    os.fchdir(os.open("a/b", os.O_RDONLY))
    with open("{marker}", "w") as f:
        f.write("pwned")
    return {{"achieved": "wrote outside"}}
"""

PIDFD_SIGNAL = """
import os, signal

def main():
    fd = os.pidfd_open({target_pid})
    signal.pidfd_send_signal(fd, signal.SIGWINCH)
    return {{"achieved": "signalled {target_pid}"}}
"""

KILL_SIGNAL = """
import os, signal

def main():
    os.kill({target_pid}, signal.SIGWINCH)
    return {{"achieved": "signalled {target_pid}"}}
"""

FORK_BOMB = (
    _LOAD_RENAMED
    + """
def main():
    ps = load_renamed("_posixsubprocess", "innocent")
    spawned = 0
    for _ in range(200):
        r, w = os.pipe()
        ps.fork_exec(
            ["/bin/sleep", "600"], [b"/bin/sleep"], True, (), None, None,
            -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, -1, -1, None, False)
        os.close(r)
        os.close(w)
        spawned += 1
    return {{"achieved": "spawned %d" % spawned}}
"""
)

OUTLIVE_TIMEOUT = (
    _LOAD_RENAMED
    + """
def main():
    ps = load_renamed("_posixsubprocess", "innocent")
    r, w = os.pipe()
    ps.fork_exec(
        ["/bin/sh", "-c", "sleep 3; echo pwned > {marker}"], [b"/bin/sh"], True, (), None,
        None, -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, -1, -1, None, False)
    while True:
        pass
"""
)

MEMORY_BOMB = """
def main():
    blocks = []
    while True:
        blocks.append(bytearray(10 ** 7))
"""

CPU_LOOP = """
def main():
    while True:
        pass
"""

SOCKET_CONNECT = """
import socket

def main():
    s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.close()
    return {{"achieved": "connected"}}
"""

WRITE_OUTSIDE = """
def main():
    with open("{marker}", "w") as f:
        f.write("pwned")
    return {{"achieved": "wrote outside"}}
"""

READ_FILE = """
def main():
    with open("{path}", "rb") as f:
        return {{"achieved": "read %d bytes" % len(f.read())}}
"""

READ_ENVIRON = """
import os

def main():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    found.append(len(f.read()))
            except OSError:
                pass
    if {target_pid} and not found:
        with open("/proc/{target_pid}/environ", "rb") as f:
            found.append(len(f.read()))
    return {{"achieved": "read %d environ files" % len(found)}}
"""
