"""The turn recorder: what a run's events leave to be saved."""

from __future__ import annotations

from chatflow.engine import events as ev
from chatflow.services.recorder import TurnRecorder


def cited(*names: str) -> ev.RetrieverResources:
    resources = [{"position": i + 1, "document_name": n} for i, n in enumerate(names)]
    return ev.RetrieverResources("x", "llm", resources, "context")


def test_citations_are_the_latest_llm_context() -> None:
    recorder = TurnRecorder()
    recorder.add(cited("a.md", "b.md"))
    assert [r["document_name"] for r in recorder.retriever_resources] == ["a.md", "b.md"]
    # Dify keeps the last LLM's list, not the union of every retrieval.
    recorder.add(cited("c.md"))
    assert recorder.retriever_resources == [{"position": 1, "document_name": "c.md"}]


def test_text_and_replacement_make_the_answer() -> None:
    recorder = TurnRecorder()
    recorder.add(ev.TextChunk(text="Hel", from_node_id="a"))
    recorder.add(ev.TextChunk(text="lo", from_node_id="a"))
    assert recorder.answer == "Hello"
    recorder.add(ev.TextReplace(text="[redacted]"))
    assert recorder.answer == "[redacted]"
    assert recorder.retriever_resources == []
