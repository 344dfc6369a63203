"""Helpers for tests that start a real server process: a free loopback port, and waiting
until the process answers."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(
    url: str, proc: subprocess.Popen[str] | subprocess.Popen[bytes], seconds: float
) -> None:
    """Poll `url` until it answers 200; fails if `proc` exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
        time.sleep(0.1)
