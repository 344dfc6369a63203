"""`chatflow serve` keeps an idle connection open past uvicorn's 5 s default.

uvicorn used to close a connection idle for 5 s; a client reusing it at that moment had its
request reset (`ReadError('')`, the soak's stray errors: chatflow/api/connections.py). Here
a real server process answers a request, the connection then sits idle 6 s, and a second
request on the same socket must still be answered.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
ROOT = Path(__file__).parents[1]
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer(sock: socket.socket) -> bytes:
    """One response's bytes (headers and the small body), or b'' if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


def test_idle_connection_outlives_uvicorns_default(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CHATFLOW_KEEP_ALIVE_SECONDS", None)
    command = [sys.executable, "-m", "chatflow", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(REQUEST)
            assert _answer(sock).startswith(b"HTTP/1.1 200")
            time.sleep(6)  # past uvicorn's default keep-alive of 5 s
            sock.sendall(REQUEST)
            assert _answer(sock).startswith(b"HTTP/1.1 200"), "idle connection was closed"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
