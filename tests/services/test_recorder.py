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


def finished(execution_id: str, node_type: str, scope: ev.ContainerScope) -> ev.NodeFinished:
    return ev.NodeFinished(
        execution_id=execution_id, node_id=node_type, node_type=node_type, title=node_type,
        index=1, predecessor_node_id=None, status="succeeded", inputs={}, process_data={},
        outputs={}, error=None, error_type=None, started_at=1.0, finished_at=2.0, scope=scope,
    )  # fmt: skip


def test_agent_rounds_and_the_nodes_place_are_kept_with_the_node() -> None:
    recorder = TurnRecorder()

    def log(log_id: str, status: str, parent: str | None = None, **data: object) -> None:
        label = "ROUND 1" if parent is None else "CALL clock"
        recorder.add(ev.AgentLog("agent", "x", log_id, label, status, data, parent_id=parent))

    log("r1", "start")
    log("c1", "start", "r1")
    log("c1", "success", "r1", output={"tool_response": "noon"})
    log("r1", "success")
    inside = ev.ContainerScope(iteration_id="each", iteration_index=2)
    recorder.add(finished("x", "agent", inside))
    recorder.add(finished("y", "llm", ev.ContainerScope()))
    agent, llm = recorder.nodes
    meta = agent.execution_metadata or {}
    assert (meta["iteration_id"], meta["iteration_index"]) == ("each", 2)
    # One entry per step, in its last state, in the order the steps began.
    assert [(e["id"], e["status"], e["parent_id"]) for e in meta["agent_log"]] == [
        ("r1", "success", None),
        ("c1", "success", "r1"),
    ]
    assert meta["agent_log"][1]["data"] == {"output": {"tool_response": "noon"}}
    assert llm.execution_metadata is None  # nothing to say about a plain top-level node
