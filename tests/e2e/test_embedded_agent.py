"""End to end with the embedded model: `chatflow serve` an agent-chat app whose model
(SmolLM2, on llama.cpp) calls the real built-in time tool, through Dify's streaming API.

The model's call is grammar-constrained, so even this 135M model emits a well-formed
call; `CHATFLOW_EMBEDDED_FIRST_TOOL_CALL=required` makes its first round call a tool
(a model this small otherwise tends to answer without one). Set
`CHATFLOW_AGENT_TRANSCRIPT=path` to keep the frames as sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e._serve import serve_agent_chat

pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = {"CHATFLOW_EMBEDDED_FIRST_TOOL_CALL": "required"}
    with serve_agent_chat(tmp_path_factory.mktemp("data"), settings) as served:
        yield served


def test_the_embedded_model_calls_the_time_tool(server: tuple[str, str]) -> None:
    base_url, key = server
    body = {"inputs": {}, "query": "What time is it now?", "response_mode": "streaming",
            "user": "e2e"}  # fmt: skip
    raw: list[str] = []
    with httpx.stream(
        "POST", f"{base_url}/chat-messages", json=body,
        headers={"Authorization": f"Bearer {key}"}, timeout=1400,
    ) as response:  # fmt: skip
        assert response.status_code == 200
        raw = [line for line in response.iter_lines() if line]
    if path := os.environ.get("CHATFLOW_AGENT_TRANSCRIPT"):
        Path(path).write_text("\n\n".join(raw) + "\n", encoding="utf-8")
    frames = [json.loads(line[6:]) for line in raw if line.startswith("data: ")]
    kinds = [frame["event"] for frame in frames]
    # On failure, the last frame itself: an `error` frame's code and message say why.
    assert kinds[-1] == "message_end", (kinds, frames[-1] if frames else raw)
    first = next(f for f in frames if f["event"] == "agent_thought")
    assert first["tool"] == "current_time" and first["position"] == 1
    assert isinstance(json.loads(first["tool_input"])["current_time"], dict)
    observed = next(f for f in frames if f["event"] == "agent_thought" and f["observation"])
    result = json.loads(observed["observation"])["current_time"]
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", result), result
    assert "".join(f["answer"] for f in frames if f["event"] == "agent_message").strip()
    usage = frames[-1]["metadata"]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    messages = httpx.get(
        f"{base_url}/messages",
        params={"user": "e2e", "conversation_id": frames[-1]["conversation_id"]},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert messages["data"][0]["agent_thoughts"][0]["tool"] == "current_time"
