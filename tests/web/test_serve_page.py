"""Zero configuration: `chatflow serve` prints the app's chat site link, and that link is
a working chat (with no Service API key in it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests._server_process import free_port

CLI = Path(sys.executable).with_name("chatflow")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`chatflow serve` (bundled example app, fake model): its chat URL and output lines."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFLOW_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CHATFLOW_DATA_DIR=str(tmp_path),
        CHATFLOW_MODEL_BACKEND="fake",
        CHATFLOW_FAKE_TOKENS="Served by the CLI .",
    )
    process = subprocess.Popen(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Application startup complete" not in "".join(lines):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    try:
        chat = [m.group(1) for line in lines if (m := re.search(r"chat: (\S+)", line))]
        assert len(chat) == 1, "".join(lines)
        yield chat[0], lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_prints_a_chat_link_that_works(served: tuple[str, list[str]], page: Page) -> None:
    url, lines = served
    key = re.search(r"key=(app-\w+)", lines[0])
    assert key is not None
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/chat/[A-Za-z0-9_-]{16}", url), url
    assert key.group(1) not in url

    page.goto(url)
    expect(page.locator("#app-name")).to_have_text("assistant")
    page.fill("#query", "hello")
    page.press("#query", "Enter")
    expect(page.locator("#messages .msg.bot .answer")).to_have_text("Served by the CLI .")
