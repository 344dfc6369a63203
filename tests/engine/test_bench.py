"""The benchmark DSLs run end to end with the fake model and give their documented answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import RunFinished, TextChunk
from chatflow.engine.nodes import REGISTRY
from chatflow.providers.fake import FakeLLM
from tests.engine.conftest import collect, services

BENCH = Path("/work/shared/bench/dsl")
pytestmark = pytest.mark.skipif(not BENCH.exists(), reason="benchmark DSLs not present")


async def answer_of(name: str, query: str = "hello?", **kwargs: object) -> tuple[str, RunFinished]:
    graph = to_graph(load_app((BENCH / name).read_text()))
    events = await collect(graph, query=query, **kwargs)  # type: ignore[arg-type]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "succeeded", final
    return "".join(e.text for e in events if isinstance(e, TextChunk)), final


async def test_echo() -> None:
    text, final = await answer_of("echo.yml")
    assert text == "hello?" and final.outputs["answer"] == "hello?"


async def test_chain50() -> None:
    text, final = await answer_of("chain50.yml")
    assert text == "hello?" + "." * 50
    assert final.total_steps == 52


async def test_llm_streams_the_reply() -> None:
    tokens = [f"t{i} " for i in range(20)]
    text, final = await answer_of("llm.yml", engine=services(llm=FakeLLM(tokens)))
    assert text == "".join(tokens)
    assert final.total_tokens > 0


@pytest.mark.skipif("code" not in REGISTRY, reason="code node not registered yet")
@pytest.mark.parametrize(("query", "expected"), [("hello?", "hello?a1a2a3"), ("hi", "hib1b2b3")])
async def test_branch(query: str, expected: str) -> None:
    text, _ = await answer_of("branch.yml", query=query)
    assert text == expected
