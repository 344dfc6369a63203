"""Splitting a ReAct reply into thought, final answer and action while it streams.

Dify's ReAct strategies stream the model's thought as it writes it and hold back the
action's JSON blob: `Thought:` and `Action:` markers are dropped, a JSON blob (bare, or
fenced in ```json ... ```) is held until it closes and becomes the action when it names
one (else it is text again), and text after `Final Answer:` (or `FinalAnswer:`) is the
answer. A marker counts only at the start of the reply or after a space or newline, so
"Re-Action:" stays text. Text that may still turn out to be a marker is held back until
the next delta decides it; `close` hands back whatever is left.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Thought:
    """Reasoning text the model wrote (streams as the node's text)."""

    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """Text after the final-answer marker."""

    text: str


@dataclass(frozen=True, slots=True)
class Action:
    """A JSON blob naming an action: `{"action": name, "action_input": input}`."""

    name: str
    input: Any


Piece = Thought | Answer | Action

_THOUGHT, _ACTION, _FINAL = "thought:", "action:", "final answer:"
# The markers, lower case; "finalanswer:" is the plugin's chat template's spelling.
_MARKERS = (_THOUGHT, _ACTION, _FINAL, "finalanswer:")
_BOUNDARY = frozenset(" \t\r\n")
# What may come between `Action:` (or a bare fence) and the blob's opening brace.
_BEFORE_BLOB = re.compile(r"\s*(`{1,3}[A-Za-z]*\s*)?")
# What may follow the blob before the thought goes on: a closing fence.
_AFTER_BLOB = re.compile(r"\s*`{0,3}")


def action_of(value: Any) -> Action | None:
    """`value` as an action when it is one: an object with an `action` key (or a
    one-item list of one, as some models wrap it)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "action" in value:
        return Action(str(value["action"]), value.get("action_input", {}))
    return None


class ReactStreamParser:
    """Feed a reply's deltas in order; each call returns the pieces they complete."""

    def __init__(self) -> None:
        self.answering = False  # past the final-answer marker
        self._out: list[Piece] = []
        self._held = ""  # a possible marker, not yet decided
        self._last = ""  # the last character passed on (markers need a boundary)
        self._skip_space = True  # the text after a marker starts at its first non-space
        self._before_blob: str | None = None  # text after `Action:` / a fence, before `{`
        self._after_blob: str | None = None  # text after an action blob (a closing fence)
        self._blob: list[str] = []  # the JSON blob being read
        self._depth: list[str] = []  # the brackets it has open
        self._in_string = False
        self._escaped = False

    def feed(self, delta: str) -> list[Piece]:
        for char in delta:
            self._char(char)
        return self._take()

    def close(self) -> list[Piece]:
        """The end of the reply: held text and an unclosed blob are text again."""
        if self._blob:
            self._text("".join(self._blob))
            self._blob = []
        if self._before_blob is not None:
            self._text(self._before_blob)
            self._before_blob = None
        self._after_blob = None
        if self._held:
            self._text(self._held)
            self._held = ""
        return self._take()

    def _take(self) -> list[Piece]:
        out, self._out = self._merge(self._out), []
        return out

    @staticmethod
    def _merge(pieces: list[Piece]) -> list[Piece]:
        """Adjacent text pieces of one kind as one (a delta is rarely one character)."""
        merged: list[Piece] = []
        for piece in pieces:
            last = merged[-1] if merged else None
            if isinstance(piece, Thought) and isinstance(last, Thought):
                merged[-1] = Thought(last.text + piece.text)
            elif isinstance(piece, Answer) and isinstance(last, Answer):
                merged[-1] = Answer(last.text + piece.text)
            else:
                merged.append(piece)
        return merged

    def _char(self, char: str) -> None:
        if self._blob:
            self._blob_char(char)
        elif self._before_blob is not None:
            self._before_blob_char(char)
        elif self._after_blob is not None:
            candidate = self._after_blob + char
            if _AFTER_BLOB.fullmatch(candidate):
                self._after_blob = candidate
            else:
                self._after_blob = None
                self._char(char)
        else:
            self._text_char(char)

    def _text_char(self, char: str) -> None:
        at_boundary = self._last in _BOUNDARY or not self._last
        if not self.answering and (self._held or at_boundary):
            candidate = (self._held + char).lower()
            if any(marker.startswith(candidate) for marker in _MARKERS):
                self._held += char
                if candidate in _MARKERS:
                    self._held = ""
                    self._marker(candidate)
                return
            if self._held:  # not a marker after all: its text, then this character anew
                held, self._held = self._held, ""
                self._text(held)
                self._char(char)
                return
        if not self.answering and char in "{[":
            self._open_blob(char)
        elif not self.answering and char == "`":
            self._before_blob = char
        else:
            self._text(char)

    def _marker(self, marker: str) -> None:
        self._last, self._skip_space = " ", True
        if marker == _ACTION:
            self._before_blob = ""
        elif marker != _THOUGHT:
            self.answering = True

    def _before_blob_char(self, char: str) -> None:
        assert self._before_blob is not None
        if char in "{[":
            self._before_blob = None
            self._open_blob(char)
            return
        candidate = self._before_blob + char
        if _BEFORE_BLOB.fullmatch(candidate):
            self._before_blob = candidate
            return
        # No blob follows: what was held is thought text after all.
        self._before_blob = None
        self._text(candidate)

    def _open_blob(self, char: str) -> None:
        self._blob = [char]
        self._depth = ["}" if char == "{" else "]"]
        self._in_string = self._escaped = False

    def _blob_char(self, char: str) -> None:
        self._blob.append(char)
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif char == "\\":
                self._escaped = True
            elif char == '"':
                self._in_string = False
            return
        if char == '"':
            self._in_string = True
        elif char in "{[":
            self._depth.append("}" if char == "{" else "]")
        elif char in "}]" and char == self._depth[-1]:
            self._depth.pop()
            if not self._depth:
                self._close_blob()

    def _close_blob(self) -> None:
        text, self._blob = "".join(self._blob), []
        try:
            action = action_of(json.loads(text, strict=False))
        except ValueError:
            action = None
        if action is None:
            self._text(text)
            return
        self._out.append(action)
        self._after_blob = ""
        self._last, self._skip_space = " ", True

    def _text(self, text: str) -> None:
        if self._skip_space:
            text = text.lstrip()
            if not text:
                return
            self._skip_space = False
        self._last = text[-1]
        self._out.append(Answer(text) if self.answering else Thought(text))
