"""End to end with a real llama.cpp server: `chatflow serve` an agent-chat app whose model
is SmolLM2 behind llama.cpp's OpenAI-compatible server (`tests/providers/
llamacpp_server.py`), reached by the `openai` backend. One turn goes model -> streamed
tool-call deltas -> the built-in time tool -> observation -> text answer, as Dify's
`agent_thought` / `agent_message` frames. The decision to call is the model's own
(`tool_choice: auto`), made after the one worked call the server's template shows it
("What time is it in Tokyo?"). Asked like the example, for a place, it calls; asked
"What time is it now?" it answers from the example's time instead. First-token odds with
the app's instruction as system prompt (a time tool with a `timezone` argument): `<` 0.48
against `It` 0.15 for London, `It` 0.25 against `<` 0.19 for "now". So the test asks for
London (greedy decoding: the same call every run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e._serve import serve_agent_chat
from tests.providers.llamacpp_server import tool_server

pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    model_url, model_key = tool_server()
    settings = {
        "CHATFLOW_MODEL_BACKEND": "openai",
        "CHATFLOW_OPENAI_BASE_URL": model_url,
        "CHATFLOW_OPENAI_API_KEY": model_key,
        "CHATFLOW_OPENAI_MODEL": "smollm2",
    }
    with serve_agent_chat(tmp_path_factory.mktemp("data"), settings) as served:
        yield served


def test_the_model_calls_the_time_tool_and_answers(server: tuple[str, str]) -> None:
    base_url, key = server
    body = {"inputs": {}, "query": "What time is it in London?", "response_mode": "streaming",
            "user": "e2e"}  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream(
        "POST", f"{base_url}/chat-messages", json=body, headers=headers, timeout=240
    ) as response:
        assert response.status_code == 200
        frames = [json.loads(line[6:]) for line in response.iter_lines() if line[:6] == "data: "]
    kinds = [frame["event"] for frame in frames]
    assert kinds[-1] == "message_end", frames
    thoughts = [frame for frame in frames if frame["event"] == "agent_thought"]
    called, observed, answered = thoughts  # the round's call, its observation, the answer
    assert (called["position"], called["tool"]) == (1, "current_time")
    assert json.loads(called["tool_input"]) == {"current_time": {}}  # the DSL fixes both
    result = json.loads(observed["observation"])["current_time"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", result), result
    assert (answered["position"], answered["tool"]) == (2, "")
    answer = "".join(frame["answer"] for frame in frames if frame["event"] == "agent_message")
    assert answer.strip() and answer.strip() == answered["thought"].strip()
    usage = frames[-1]["metadata"]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    messages = httpx.get(
        f"{base_url}/messages",
        params={"user": "e2e", "conversation_id": frames[-1]["conversation_id"]},
        headers=headers,
    ).json()
    stored = messages["data"][0]["agent_thoughts"]
    assert [thought["tool"] for thought in stored] == ["current_time", ""]
