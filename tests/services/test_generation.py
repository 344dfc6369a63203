"""Conversation names and suggested questions from the app's own model (a fake one that
replies with fixed text), and their fallbacks when the reply is unusable."""

from __future__ import annotations

from chatflow.dsl import load_app, to_graph
from chatflow.engine.graph import Graph
from chatflow.engine.nodes.base import Turn
from chatflow.providers.fake import FakeLLM, FakeRegistry
from chatflow.services import generation

from .conftest import ECHO

LLM_APP = """\
app: {mode: advanced-chat, name: llm}
kind: app
version: 0.3.0
workflow:
  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: llm, targetHandle: target}
    - {id: e2, source: llm, sourceHandle: source, target: answer, targetHandle: target}
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: openai, name: gpt-4o-mini, mode: chat, completion_params: {}}
        prompt_template:
        - {role: user, text: '{{#sys.query#}}'}
    - id: answer
      data: {type: answer, title: Answer, answer: '{{#llm.text#}}'}
"""


def _graph(text: str = LLM_APP) -> Graph:
    return to_graph(load_app(text))


def _models(reply: str) -> FakeRegistry:
    return FakeRegistry(FakeLLM([reply]))


def test_the_app_model_is_the_first_model_node() -> None:
    assert generation.app_model(_graph()) == ("openai", "gpt-4o-mini")
    assert generation.app_model(_graph(ECHO)) is None


async def test_a_name_from_the_first_non_empty_line_of_the_reply() -> None:
    models = _models('\n  "**Weather in Paris**"\nsecond line')
    assert await generation.generate_name(models, _graph(), "weather?") == "Weather in Paris"


async def test_long_names_are_cut_as_dify_cuts_them() -> None:
    name = await generation.generate_name(_models("x" * 100), _graph(), "q")
    assert name == "x" * 75 + "..."


async def test_without_a_model_or_a_usable_reply_the_query_names_it() -> None:
    assert await generation.generate_name(_models("ignored"), _graph(ECHO), "  hi\n there ") == (
        "hi there"
    )
    assert await generation.generate_name(_models(" \n``\n"), _graph(), "the query") == (
        "the query"
    )
    assert generation.query_name("   ") == "New conversation"


async def test_suggested_questions_are_the_replys_json_array_at_most_three() -> None:
    reply = 'Sure! ["One?", " ", 2, {"no": 1}, "Three?", "Four?"] done'
    turns = [Turn("q", "a")]
    assert await generation.suggest_questions(_models(reply), _graph(), turns) == [
        "One?",
        "2",
        "Three?",
    ]


async def test_suggested_questions_are_empty_when_nothing_usable_comes() -> None:
    turns = [Turn("q", "a")]
    assert await generation.suggest_questions(_models("no list here"), _graph(), turns) == []
    assert await generation.suggest_questions(_models("[not json]"), _graph(), turns) == []
    assert await generation.suggest_questions(_models('["x"]'), _graph(ECHO), turns) == []
    assert await generation.suggest_questions(_models('["x"]'), _graph(), []) == []
