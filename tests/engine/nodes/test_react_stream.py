"""react_stream: a ReAct reply split into thought, answer and action as it streams, fed
one character (or one word) at a time as a model's tokens come."""

from __future__ import annotations

import re

import pytest

from chatflow.engine.nodes.agent.react_stream import (
    Action,
    Answer,
    Piece,
    ReactStreamParser,
    Thought,
)


def parse(deltas: list[str]) -> tuple[list[list[Piece]], list[Piece]]:
    """Each delta's pieces, and all pieces merged (the close included)."""
    parser = ReactStreamParser()
    per_delta = [parser.feed(delta) for delta in deltas]
    per_delta.append(parser.close())
    merged: list[Piece] = []
    for pieces in per_delta:
        for piece in pieces:
            last = merged[-1] if merged else None
            if type(piece) is type(last) and isinstance(piece, Thought | Answer):
                merged[-1] = type(piece)(last.text + piece.text)  # type: ignore[union-attr]
            else:
                merged.append(piece)
    return per_delta, merged


def chars(text: str) -> list[str]:
    return list(text)


def words(text: str) -> list[str]:
    return re.findall(r"\S+|\s+", text)


FENCED = (
    "Thought: I need the weather first.\n"
    'Action: ```json\n{"action": "weather", "action_input": {"city": "Paris {centre}"}}\n```'
)


@pytest.mark.parametrize("split", [chars, words, lambda t: [t]])
def test_thought_streams_and_the_fenced_action_is_held_back(split: object) -> None:
    _, merged = parse(split(FENCED))  # type: ignore[operator]
    assert merged == [
        Thought("I need the weather first.\n"),
        Action("weather", {"city": "Paris {centre}"}),
    ]


def test_thought_text_comes_out_while_the_reply_is_still_streaming() -> None:
    per_delta, _ = parse(chars(FENCED))
    # "I" is out by the time the delta after it comes (the space decides "I" is no marker).
    out_at = next(i for i, pieces in enumerate(per_delta) if pieces)
    assert out_at <= len("Thought: I ")
    blob_start = FENCED.index("```")
    held = [p for pieces in per_delta[blob_start:] for p in pieces if not isinstance(p, Action)]
    assert held == []  # nothing of the fence or the blob is text


@pytest.mark.parametrize("split", [chars, words])
def test_final_answer_after_the_marker_is_answer_text(split: object) -> None:
    reply = "Thought: I know what to respond\nFinal Answer: It is  21 C in {Paris}."
    per_delta, merged = parse(split(reply))  # type: ignore[operator]
    assert merged == [Thought("I know what to respond\n"), Answer("It is  21 C in {Paris}.")]
    assert any(isinstance(p, Answer) for p in per_delta[-2])  # answer text streams too


def test_plugin_spelling_and_case() -> None:
    _, merged = parse(chars("thought: ok\nFINALANSWER:done"))
    assert merged == [Thought("ok\n"), Answer("done")]


def test_bare_blob_and_a_final_answer_action() -> None:
    _, merged = parse(chars('Action:\n{"action": "Final Answer", "action_input": "42"}'))
    assert merged == [Action("Final Answer", "42")]


def test_markers_only_count_at_a_word_start() -> None:
    _, merged = parse(chars("Re-Action: stays, and a thought: too"))
    assert merged == [Thought("Re-Action: stays, and a too")]
    # "thought:" after a space is a marker (Dify's parser drops it the same way).
    _, merged = parse(chars("x thoughtful"))
    assert merged == [Thought("x thoughtful")]


def test_json_that_is_no_action_is_text_again() -> None:
    _, merged = parse(chars('The list [1, 2] and {"a": 1} stay.'))
    assert merged == [Thought('The list [1, 2] and {"a": 1} stay.')]


def test_an_unfinished_blob_or_fence_is_text_at_the_end() -> None:
    _, merged = parse(chars('Action: {"action": "weath'))
    assert merged == [Thought('{"action": "weath')]
    _, merged = parse(chars("use `code` here"))
    assert merged == [Thought("use `code` here")]


def test_action_text_that_is_no_blob_is_thought() -> None:
    _, merged = parse(chars("Action: none needed"))
    assert merged == [Thought("none needed")]
