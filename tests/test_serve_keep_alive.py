"""`chatflow serve` keeps an idle connection open past uvicorn's 5 s default.

uvicorn used to close a connection idle for 5 s; a client reusing it at that moment had its
request reset (`ReadError('')`, the soak's stray errors: chatflow/api/connections.py). Here
a real server process answers a request, the connection then sits idle 6 s, and a second
request on the same socket must still be answered. And the longer keep-alive stays a
bound under a flood of parked connections.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._server_process import free_port, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
ROOT = Path(__file__).parents[1]
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


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


@contextlib.contextmanager
def _serve(data_dir: Path, keep_alive: int | None = None) -> Iterator[int]:
    """A real `chatflow serve` (fake model) on a free port; yields the port once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CHATFLOW_KEEP_ALIVE_SECONDS", None)
    if keep_alive is not None:
        env["CHATFLOW_KEEP_ALIVE_SECONDS"] = str(keep_alive)
    command = [sys.executable, "-m", "chatflow", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz", proc, 60)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_idle_connection_outlives_uvicorns_default(tmp_path: Path) -> None:
    with (
        _serve(tmp_path) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(REQUEST)
        assert _answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)  # past uvicorn's default keep-alive of 5 s
        sock.sendall(REQUEST)
        assert _answer(sock).startswith(b"HTTP/1.1 200"), "idle connection was closed"


def test_a_flood_of_idle_connections_is_served_then_closed(tmp_path: Path) -> None:
    """Attack: a client parks hundreds of kept-alive connections. A longer keep-alive must
    stay a bound: others are still served meanwhile, and the server closes every parked
    connection once it has been idle `CHATFLOW_KEEP_ALIVE_SECONDS`."""
    with _serve(tmp_path, keep_alive=2) as port:
        parked: list[socket.socket] = []
        try:
            for _ in range(300):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                parked.append(sock)
                sock.sendall(REQUEST)
                assert _answer(sock).startswith(b"HTTP/1.1 200")
            # A newcomer is answered while all of them are held open.
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
            deadline = time.monotonic() + 60
            for sock in parked:  # each read ends in the server's close (b''), none hangs
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                assert sock.recv(1) == b"", "an idle connection was kept past the keep-alive"
        finally:
            for sock in parked:
                sock.close()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
