"""Fixtures for the live tests: a real `chatflow serve` on a free port, with the fake model.

The server gets a temporary data dir and two imported apps with known keys (an
advanced-chat app and a workflow app). `tally` counts, per client kind, the operations the
live tests called successfully; the terminal summary prints it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sdk_live import LiveServer, Tally, chatflow_cli

FIXTURES = Path(__file__).parent / "fixtures"
CHAT_KEY = "app-test-sdk-chat-0001"
WORKFLOW_KEY = "app-test-sdk-workflow-0001"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("chatflow-data")
    env = {
        **os.environ,
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_DATA_DIR": str(data_dir),
        "CHATFLOW_FAKE_TOKEN_DELAY": "0.02",
    }
    env.pop("DATABASE_URL", None)
    env.pop("CHATFLOW_REDIS_URL", None)
    cli = chatflow_cli()
    for dsl, key in (("live_chat.yml", CHAT_KEY), ("live_workflow.yml", WORKFLOW_KEY)):
        done = subprocess.run(
            [cli, "app", "import", str(FIXTURES / dsl), "--api-key", key],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"`chatflow app import {dsl}` failed:\n{done.stdout}\n{done.stderr}")
    port = _free_port()
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`chatflow serve` exited: {(data_dir / 'server.log').read_text()}")
            try:
                httpx.get(root + "/v1/parameters", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("`chatflow serve` did not answer within 30 s")
                time.sleep(0.2)
        yield LiveServer(root, CHAT_KEY, WORKFLOW_KEY, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


_TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return _TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TALLY.counts:
        terminalreporter.section("live operations (2xx answers per client kind)")
        for row in _TALLY.table():
            terminalreporter.write_line(row)
