"""End to end, as a user runs it: `chatflow serve` (the real CLI, default settings, so the
embedded SmolLM2 model) on a real port, and Dify-shaped requests over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._server_process import free_port

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

CLI = Path(sys.executable).with_name("chatflow")


class Server:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATFLOW_")}
    env.pop("DATABASE_URL", None)
    env["CHATFLOW_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    process = subprocess.Popen(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    key = None
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := re.search(r"key=(app-\w+)", line):
            key = match.group(1)
        if "Application startup complete" in line:
            break
    assert key, "serve did not print a key:\n" + "".join(lines)
    try:
        yield Server(f"http://127.0.0.1:{port}/v1", key)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _frames(response: httpx.Response) -> Iterator[dict[str, object]]:
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])


def test_streaming_answer_comes_from_the_embedded_model(server: Server) -> None:
    # Sampled (the example's temperature 0.7), "Name one color." was answered in as few as
    # two tokens ("Amber"); three colours take five or more in every one of 40 tries.
    body = {"inputs": {}, "query": "Name three colors.", "response_mode": "streaming",
            "user": "e2e"}  # fmt: skip
    with httpx.stream(
        "POST", f"{server.base_url}/chat-messages", json=body, headers=server.headers, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = list(_frames(response))
    events = [f["event"] for f in frames]
    assert events[0] == "workflow_started"
    assert events[-2:] == ["message_end", "workflow_finished"]
    answer = "".join(str(f["answer"]) for f in frames if f["event"] == "message")
    assert answer.strip(), "the model produced no text"
    pieces = [f["answer"] for f in frames if f["event"] == "message" and f["answer"]]
    assert len(pieces) > 2, f"answer was not streamed in pieces: {pieces}"
    end = next(f for f in frames if f["event"] == "message_end")
    usage = end["metadata"]["usage"]  # type: ignore[index]
    assert usage["completion_tokens"] > 0  # type: ignore[index]

    # The answer is stored: the conversation's history shows it.
    history = httpx.get(
        f"{server.base_url}/messages",
        params={"conversation_id": frames[0]["conversation_id"], "user": "e2e"},
        headers=server.headers,
    ).json()
    assert history["data"][-1]["answer"] == answer


def test_blocking_then_memory_continues_the_conversation(server: Server) -> None:
    first = httpx.post(
        f"{server.base_url}/chat-messages",
        json={"inputs": {}, "query": "Hi!", "response_mode": "blocking", "user": "e2e-b"},
        headers=server.headers,
        timeout=60,
    ).json()
    assert first["event"] == "message" and first["answer"].strip()
    second = httpx.post(
        f"{server.base_url}/chat-messages",
        json={
            "inputs": {},
            "query": "Thanks.",
            "response_mode": "blocking",
            "user": "e2e-b",
            "conversation_id": first["conversation_id"],
        },
        headers=server.headers,
        timeout=60,
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    # Memory sends the first turn back to the model: more prompt tokens the second time.
    assert (
        second["metadata"]["usage"]["prompt_tokens"] > first["metadata"]["usage"]["prompt_tokens"]
    )


def test_stop_cancels_generation_and_keeps_the_partial_answer(server: Server) -> None:
    body = {
        "inputs": {},
        "query": "Write a very long story about a dragon, with many chapters.",
        "response_mode": "streaming",
        "user": "e2e-stop",
    }
    with httpx.stream(
        "POST", f"{server.base_url}/chat-messages", json=body, headers=server.headers, timeout=60
    ) as response:
        frames = _frames(response)
        seen: list[dict[str, object]] = []
        for frame in frames:
            seen.append(frame)
            if frame["event"] == "message" and len(seen) > 8:
                break
        task_id = seen[-1]["task_id"]
        stopped_at = time.monotonic()
        stop = httpx.post(
            f"{server.base_url}/chat-messages/{task_id}/stop",
            json={"user": "e2e-stop"},
            headers=server.headers,
        )
        assert stop.json() == {"result": "success"}
        rest = list(frames)
        elapsed = time.monotonic() - stopped_at
    assert elapsed < 2.0, f"stream went on for {elapsed:.2f}s after stop"
    partial = "".join(str(f["answer"]) for f in seen + rest if f["event"] == "message")
    history = httpx.get(
        f"{server.base_url}/messages",
        params={"conversation_id": seen[0]["conversation_id"], "user": "e2e-stop"},
        headers=server.headers,
    ).json()
    assert history["data"][-1]["answer"] == partial
    assert partial.strip()
