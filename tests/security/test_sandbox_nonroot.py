"""The sandbox's path without root, run for real: code nodes work and every attack fails.

CI runs as root, where the sandbox gives each job a uid of its own. A server started by
an ordinary user takes another path: the sandbox enters a user namespace (mapping only
its own uid) to build the same jail, and the jobs keep that uid with every capability
dropped. Here a child process drops from root to `nobody` for good (setresuid: no
capability left) and runs `nonroot_driver.py`, which starts a real `SandboxExecutor`
(audit hook and Landlock off: the kernel walls alone) and runs the attacks of
`attacks.py` as jobs. Run by a non-root user, the driver runs as that user directly.

`nobody` cannot traverse a 0700 directory holding the interpreter (here `/root`, where
pyenv lives), so the child first gets a private mount namespace in which such a
directory is a tmpfs showing only the needed subdirectory; nothing else changes.
Skipped, with the reason, only where the kernel refuses unprivileged user namespaces.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("nonroot_driver.py")
NOBODY = 65534

# As root, in the child: a private mount namespace where each blocking directory is a
# tmpfs holding only the needed entries (bound back from the real ones), then nobody.
LAUNCHER = r"""
import ctypes, json, os, sys
plan = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)

def check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")

check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
check(libc.mount(None, b"/", None, 0x4000 | (1 << 18), None), "make / private")
for blocked, entries in plan["cover"].items():
    held = {e: os.open(os.path.join(blocked, e), os.O_PATH) for e in entries}
    check(libc.mount(b"tmpfs", blocked.encode(), b"tmpfs", 0, b"mode=755"), "tmpfs")
    for entry, fd in held.items():
        target = os.path.join(blocked, entry)
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(target)
        else:
            open(target, "w").close()
        source = f"/proc/self/fd/{fd}".encode()
        check(libc.mount(source, target.encode(), None, 0x1000 | 0x4000, None), "bind")
        os.close(fd)
os.setgroups([])
os.setresgid(plan["uid"], plan["uid"], plan["uid"])
os.setresuid(plan["uid"], plan["uid"], plan["uid"])
env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
os.execve(sys.executable, [sys.executable, plan["driver"]], env)
"""


def _blocking(path: Path) -> tuple[str, str] | None:
    """The first ancestor of `path` others cannot traverse, and the entry below it."""
    parts = path.resolve().parts
    for depth in range(1, len(parts)):
        ancestor = Path(*parts[:depth])
        if not os.stat(ancestor).st_mode & stat.S_IXOTH:
            return str(ancestor), parts[depth]
    return None


def _cover_plan() -> dict[str, list[str]]:
    """What `nobody` must reach: the interpreter, its stdlib, the venv, this checkout."""
    needed = [
        Path(sys.executable),
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(sysconfig.get_paths()["purelib"]),
        ROOT,
    ]
    cover: dict[str, set[str]] = {}
    for path in needed:
        found = _blocking(path)
        if found is not None:
            cover.setdefault(found[0], set()).add(found[1])
    return {blocked: sorted(entries) for blocked, entries in cover.items()}


def _run_unprivileged() -> dict[str, Any]:
    if os.geteuid() == 0:
        plan = {"cover": _cover_plan(), "uid": NOBODY, "driver": str(DRIVER)}
        command = [sys.executable, "-c", LAUNCHER, json.dumps(plan)]
    else:
        command = [sys.executable, str(DRIVER)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd="/tmp")
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result = _run_unprivileged()
    assert result["uid"] != 0
    if not result["info"]["user_namespace"]:
        message = (
            f"this kernel refuses user namespaces to uid {result['uid']} "
            f"(sandbox layers: {result['info']})"
        )
        pytest.skip(message)
    return result


def test_the_sandbox_takes_the_user_namespace_path(report: dict[str, Any]) -> None:
    info = report["info"]
    assert report["uid"] != 0
    assert info["user_namespace"] and info["jail"] and info["seccomp"], info
    assert not info["runs_as_nobody"]  # no per-job uid without root: the walls below
    assert info["strong"], info


def test_code_nodes_work_without_root(report: dict[str, Any]) -> None:
    assert report["normal"] == {"double": 42}
    assert len(report["stdlib"]["h"]) == 8
    assert report["javascript"] == {"v": 4}
    assert report["after"] == {"double": 2}  # the sandbox still serves after the attacks


@pytest.mark.parametrize(
    "attack",
    [
        "renamed_posixsubprocess",
        "fchdir_symlink",
        "pidfd_signal",
        "kill_signal",
        "fork_bomb",
        "socket_connect",
        "write_outside",
        "read_database",
        "read_environ",
    ],
)
def test_attacks_fail_without_root(report: dict[str, Any], attack: str) -> None:
    outcome = report["attacks"][attack]
    assert outcome.startswith("failed"), outcome
    assert "ImportError" not in outcome, outcome  # the attack itself ran up to the wall


def test_nothing_reached_the_driver(report: dict[str, Any]) -> None:
    """Jobs share the driver's uid here: only the walls kept its signals and files safe."""
    assert report["signals_received"] == 0
    assert not report["marker_written"]


def test_memory_and_cpu_bombs_are_stopped_without_root(report: dict[str, Any]) -> None:
    assert report["memory_bomb"].startswith(("failed[memory]", "failed[killed]"))
    assert report["cpu_loop"].startswith("failed[timeout]")
