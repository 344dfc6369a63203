"""question-classifier: Dify's prompt, JSON reply parsing and the first-class fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import question_classifier, spec_for
from chatflow.engine.nodes.base import EngineServices, NodeContext, NodeResult, Turn
from chatflow.engine.variables import VariablePool
from chatflow.providers.base import LLMChunk, LLMRequest
from chatflow.providers.fake import FakeLLM, FakeRegistry


class RecordingLLM(FakeLLM):
    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__(tokens)
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


CORPUS_NODE: dict[str, Any] = {  # admin-assistant-qc-kr.yml, as exported
    "classes": [
        {"id": "1711528736036", "name": "考勤问题"},
        {"id": "1711528736549", "name": "社保问题"},
        {"id": "1711528737066", "name": "其他问题"},
    ],
    "instructions": "",
    "topics": [],
    "type": "question-classifier",
    "title": "问题分类识别",
    "model": {
        "completion_params": {"temperature": 0.7, "max_tokens": 512},
        "mode": "chat",
        "name": "deepseek-chat",
        "provider": "langgenius/deepseek/deepseek",
    },
    "query_variable_selector": ["1711528708197", "sys.query"],
    "vision": {"enabled": False},
}


async def _classify(
    reply: str, data: dict[str, Any] | None = None, history: Sequence[Turn] = ()
) -> tuple[NodeResult, RecordingLLM]:
    llm = RecordingLLM([reply])
    pool = VariablePool(system={"query": "我这个月迟到了三次会怎样"})
    pool.set("cfg", "extra", "请优先考虑考勤")
    ctx = NodeContext(
        "qc", pool, EngineServices(models=FakeRegistry(llm), limits=EngineLimits()), history=history
    )
    config = question_classifier.Config.model_validate(data or CORPUS_NODE)
    events = [e async for e in question_classifier.run(ctx, config)]
    assert len(events) == 1 and isinstance(events[0], NodeResult)
    return events[0], llm


async def test_picks_class_from_fenced_json_and_sends_dify_prompt() -> None:
    reply = (
        '```json\n{"keywords": ["迟到"], "category_id": "1711528736036", '
        '"category_name": "考勤问题"}\n```'
    )
    result, llm = await _classify(reply, history=[Turn("上次的问题", "上次的回答")])
    assert result.handle == "1711528736036"
    assert result.outputs["class_name"] == "考勤问题"
    assert result.outputs["class_id"] == "1711528736036"
    assert result.outputs["usage"]["completion_tokens"] == 1
    assert result.usage is not None
    messages = llm.requests[0].messages
    assert [m.role for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[0].content == question_classifier.SYSTEM_PROMPT.format(histories="")
    assert '"input_text": ["我这个月迟到了三次会怎样"]' in messages[-1].content
    assert '"category_name": "社保问题"' in messages[-1].content
    assert llm.requests[0].params == {"temperature": 0.7, "max_tokens": 512}


async def test_memory_window_goes_into_system_prompt() -> None:
    data = {**CORPUS_NODE, "memory": {"window": {"enabled": True, "size": 1}}}
    history = [Turn("old q", "old a"), Turn("last q", "last a")]
    _, llm = await _classify('{"category_id": "1711528736549"}', data, history)
    system = llm.requests[0].messages[0].content
    assert "Human: last q\nAssistant: last a" in system and "old q" not in system


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            '<think>{"category_id": "1711528736549"}</think>{"category_id": "1711528737066",'
            ' "category_name": "其他问题"}',
            "1711528737066",
        ),
        ('[{"category_id": "1711528736549", "category_name": "社保问题"}]', "1711528736549"),
        ('{"category_name": "社保问题"}', "1711528736549"),
        ('{"category_id": "nope", "category_name": "?"}', "1711528736036"),
        ("I cannot decide.", "1711528736036"),
    ],
)
async def test_reply_parsing_and_first_class_fallback(reply: str, expected: str) -> None:
    result, _ = await _classify(reply)
    assert result.handle == expected == result.outputs["class_id"]


async def test_instruction_and_class_names_are_templates() -> None:
    data = {
        **CORPUS_NODE,
        "instruction": "{{#cfg.extra#}}",
        "model": {**CORPUS_NODE["model"], "mode": "completion"},
    }
    _, llm = await _classify('{"category_id": "1711528736036"}', data)
    (message,) = llm.requests[0].messages
    assert message.role == "user" and "请优先考虑考勤" in message.content
    assert message.content.endswith("### Assistant Output\n")


def test_registered() -> None:
    spec = spec_for("question-classifier")
    assert spec is not None and spec.config is question_classifier.Config
