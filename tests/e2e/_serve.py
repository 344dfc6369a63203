"""`chatflow serve` of the agent-chat test app as a subprocess, for the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests._server_process import free_port

CLI = Path(sys.executable).with_name("chatflow")
AGENT_CHAT = Path(__file__).parents[1] / "api" / "dsl" / "agent-chat.yml"


@contextlib.contextmanager
def serve_agent_chat(data_dir: Path, settings: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Serve the agent-chat test app on a free loopback port with `settings` as its only
    CHATFLOW_* variables (the environment's own, and DATABASE_URL, are dropped); yields the
    `/v1` base URL and the app's key as `chatflow serve` printed it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFLOW_")}
    env.pop("DATABASE_URL", None)
    env.update(CHATFLOW_DATA_DIR=str(data_dir), **settings)
    process = subprocess.Popen(
        [str(CLI), "serve", str(AGENT_CHAT), "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    key, lines = None, []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("agent") and (match := re.search(r"key=(app-\w+)", line)):
            key = match.group(1)
        if "Application startup complete" in line:
            break
    try:
        assert key, "serve did not print the agent app's key:\n" + "".join(lines)
        yield f"http://127.0.0.1:{port}/v1", key
    finally:
        process.terminate()
        process.wait(timeout=20)
