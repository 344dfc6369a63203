"""`chatflow serve` as an operator runs it, and SIGTERM: a real server process (SQLite,
fake model streaming slowly), two streams, a signal in the middle.

The stream that can finish within `shutdown_grace_seconds` ends normally; the one that
cannot is stopped at the deadline: its stream ends `stopped` and its message is saved
`stopped` with the partial answer; no row is left `running`; new connections are refused
meanwhile; the process then exits.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._server_process import free_port, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
ROOT = Path(__file__).parents[1]


def _stream(base: str, key: str, frames: list[dict[str, Any]], started: threading.Event) -> None:
    body = {"inputs": {}, "query": "hi", "user": "u", "response_mode": "streaming"}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream(
        "POST", f"{base}/v1/chat-messages", json=body, headers=headers, timeout=30
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                frames.append(json.loads(line[6:]))
                started.set()


def test_sigterm_drains_then_stops_what_is_left(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CHATFLOW_MODEL_BACKEND": "fake",
        "CHATFLOW_FAKE_TOKENS": " ".join(["word"] * 100),
        "CHATFLOW_FAKE_TOKEN_DELAY": "0.05",  # 5 s per answer
        "CHATFLOW_SHUTDOWN_GRACE_SECONDS": "4",
        "CHATFLOW_LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "chatflow", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().split("key=")[1].split()[0]
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", proc, 30)

        early: list[dict[str, Any]] = []
        late: list[dict[str, Any]] = []
        early_started, late_started = threading.Event(), threading.Event()
        threads = [threading.Thread(target=_stream, args=(base, key, early, early_started))]
        threads[0].start()
        assert early_started.wait(10)
        time.sleep(2.5)  # the early answer now needs ~2.5 s more: within the grace period
        threads.append(threading.Thread(target=_stream, args=(base, key, late, late_started)))
        threads[1].start()
        assert late_started.wait(10)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):  # no longer accepting
            httpx.get(f"{base}/healthz", timeout=2)
        for thread in threads:
            thread.join(30)
        # uvicorn re-raises the signal once shut down: the conventional "ended by SIGTERM".
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output = proc.stdout.read() if proc.stdout else ""

    assert early[-1]["event"] == "workflow_finished", output[-2000:]
    assert early[-1]["data"]["status"] == "succeeded"
    assert late[-1]["event"] == "workflow_finished", output[-2000:]
    assert late[-1]["data"]["status"] == "stopped"
    partial = "".join(f["answer"] for f in late if f["event"] == "message")
    assert 0 < len(partial) < len(" ".join(["word"] * 100))

    with sqlite3.connect(tmp_path / "chatflow.db") as db:
        runs = dict(db.execute("SELECT status, count(*) FROM workflow_runs GROUP BY status"))
        messages = {
            row[0]: (row[1], row[2])
            for row in db.execute("SELECT id, status, answer FROM messages")
        }
    assert runs == {"succeeded": 1, "stopped": 1}
    assert messages[late[0]["message_id"]] == ("stopped", partial)
    assert "draining: 2 run(s)" in output and "stopping 1 run(s)" in output
