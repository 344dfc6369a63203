"""The SSE encoder on its own: chat-mode frames and the closing empty `message` frame."""

from __future__ import annotations

from chatflow.api.sse import ChatStreamEncoder, frame
from chatflow.engine import events as ev
from chatflow.providers.base import Usage
from chatflow.services.turn import TurnEnded, TurnInfo


def _info(mode: str) -> TurnInfo:
    return TurnInfo("t", "m", "c", "r", "w", 1700000000, mode, "eu", "alice")


def _finished(node_type: str = "llm") -> ev.NodeFinished:
    return ev.NodeFinished(
        "x", "llm", node_type, "LLM", 2, "start", "succeeded", {}, {}, {}, None, None, 1.0, 2.0
    )


def test_chat_mode_sends_only_message_frames() -> None:
    encoder = ChatStreamEncoder(_info("chat"))
    assert encoder.encode(ev.RunStarted("r", {}, 1.0)) == []
    [message] = encoder.encode(ev.TextChunk("hi", "llm", ("llm", "text")))
    assert message["event"] == "message" and message["answer"] == "hi"
    assert encoder.encode(_finished()) == []
    run = ev.RunFinished("r", "succeeded", {}, None, 1.0, 2.0, 3, 3)
    [end] = encoder.encode(TurnEnded(run=run, answer="hi", usage=Usage()))
    assert end["event"] == "message_end" and end["metadata"]["retriever_resources"] == []


def test_engine_sent_closing_chunk_is_not_doubled() -> None:
    encoder = ChatStreamEncoder(_info("advanced-chat"))
    encoder.encode(ev.TextChunk("hi", "llm", ("llm", "text")))
    encoder.encode(ev.TextChunk("", "llm", ("llm", "text")))
    frames = encoder.encode(_finished())
    assert [f["event"] for f in frames] == ["node_finished"]


def test_frames_are_compact_data_lines() -> None:
    assert (
        frame({"event": "x", "answer": "a\u2028"}) == b'data: {"event":"x","answer":"a\\u2028"}\n\n'
    )
