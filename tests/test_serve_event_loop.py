"""The server's event loop takes a burst of new connections in one go, not one per pass.

uvloop (libuv) accepts one pending connection per pass of the event loop, so behind a busy
loop the N-th new connection waits N passes for its first response
(chatflow/api/connections.py). Here a uvicorn server started with the options `chatflow
serve` uses is held inside one request (its loop blocked) while 64 new connections each
send a request; once released, each request is answered with the number of loop passes
run so far. Accepted together, they are answered within a few passes of each other; one
per pass, they spread over ~64. Counted in passes, not seconds, so a slow machine doesn't
change the outcome.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._server_process import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
ROOT = Path(__file__).parents[1]
CONNECTIONS = 64

SERVER = """
import asyncio, os, sys, time
import uvicorn
from chatflow.api.connections import connection_options
from chatflow.settings import Settings

port, held, release = int(sys.argv[1]), sys.argv[2], sys.argv[3]
passes = 0
tasks = set()

async def count_passes():
    global passes
    while True:
        passes += 1
        await asyncio.sleep(0)  # one pass of the loop each

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            tasks.add(asyncio.get_running_loop().create_task(count_passes()))
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/hold":  # block the loop until the client has connected
        open(held, "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)
    body = str(passes).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
            **connection_options(Settings()))
"""


def _request(path: str, port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def _answer(sock: socket.socket) -> int:
    """The pass count in the response's body (the body is small and comes last)."""
    data = b""
    while not (b"\r\n\r\n" in data and data.split(b"\r\n\r\n", 1)[1]):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed: {data!r}"
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "server not ready"
        time.sleep(0.05)


def pass_spread(tmp_path: Path, event_loop: str | None) -> int:
    """How many loop passes apart the server answered a burst of new connections."""
    port = free_port()
    held, release = tmp_path / "held", tmp_path / "release"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CHATFLOW_EVENT_LOOP", None)
    if event_loop is not None:
        env["CHATFLOW_EVENT_LOOP"] = event_loop
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(held), str(release)],
        env=env,
        cwd=ROOT,
    )
    sockets: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _answer(_request("/", port))
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        sockets.append(_request("/hold", port))
        _wait_for(held, proc)  # the server's loop is blocked from here
        sockets += [_request("/", port) for _ in range(CONNECTIONS)]
        release.touch()
        _answer(sockets[0])
        passes = [_answer(sock) for sock in sockets[1:]]
        return max(passes) - min(passes)
    finally:
        for sock in sockets:
            sock.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_burst_of_new_connections_is_accepted_together(tmp_path: Path) -> None:
    spread = pass_spread(tmp_path, None)  # the default `chatflow serve` runs on
    assert spread < CONNECTIONS // 4, f"answered {spread} loop passes apart"


def test_uvloop_accepts_one_connection_per_pass(tmp_path: Path) -> None:
    """Why the default is asyncio, and that the measure above can fail."""
    pytest.importorskip("uvloop")
    assert pass_spread(tmp_path, "uvloop") >= CONNECTIONS // 2
