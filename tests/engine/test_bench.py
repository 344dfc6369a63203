"""The benchmark DSLs run end to end with the fake model and give their documented answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatflow.dsl import load_app, to_graph
from chatflow.engine.events import RunFinished, TextChunk
from chatflow.engine.nodes import REGISTRY
from chatflow.providers.fake import FakeLLM
from chatflow.sandbox import SandboxExecutor
from tests.engine.conftest import collect, services

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench" / "dsl"
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


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxExecutor]:
    async with SandboxExecutor(workers=2) as executor:
        yield executor


@pytest.mark.skipif("code" not in REGISTRY, reason="code node not registered yet")
@pytest.mark.parametrize(("query", "expected"), [("hello?", "hello?a1a2a3"), ("hi", "hib1b2b3")])
async def test_branch(query: str, expected: str, sandbox: SandboxExecutor) -> None:
    engine = services()
    engine.code = sandbox
    text, _ = await answer_of("branch.yml", query=query, engine=engine)
    assert text == expected


async def test_iter100(sandbox: SandboxExecutor) -> None:
    # The code node returns 100 strings: above Dify's default array[string] cap of 30.
    engine = services(code_max_string_array_length=100)
    engine.code = sandbox
    text, final = await answer_of("iter100.yml", engine=engine)
    assert text == "\n".join(f"- <hello?-{i}>" for i in range(100))
    assert final.total_steps == 4  # top-level nodes: start, code, iteration, answer


async def test_iter100_fails_at_difys_default_array_cap(sandbox: SandboxExecutor) -> None:
    engine = services()
    engine.code = sandbox
    graph = to_graph(load_app((BENCH / "iter100.yml").read_text()))
    final = (await collect(graph, engine=engine))[-1]
    assert isinstance(final, RunFinished) and final.status == "failed"
    assert "must be less than 30 elements" in (final.error or "")
