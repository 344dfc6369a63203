"""An agent-chat turn's agent thoughts (Dify's `message_agent_thoughts`), built from the
agent node's `agent_log` steps.

Dify's agent-chat runner keeps one thought per round (`position` from 1): after the
model's turn it holds the model's text (`thought`), the tools it called (`tool`, names
joined by `;`) and their inputs (`tool_input`, JSON `{tool: arguments}`); after the
tools ran, their results (`observation`, JSON `{tool: result}`). Each change is sent as
an `agent_thought` stream event and the last state is stored with the message (`GET
/messages` `agent_thoughts`). Works for both strategies' log shapes (function calling:
`tool_name`/`tool_input`/`tool_responses`; ReAct: `action`/`action_input`/`observation`).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from chatflow.engine.events import AgentLog


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""


class AgentThoughts:
    """Folds `AgentLog`s into thoughts; `update` returns the thought a log changed."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self._by_round: dict[str, dict[str, Any]] = {}
        self._round_of: dict[str, str] = {}  # child log id -> its round's log id

    @property
    def thoughts(self) -> list[dict[str, Any]]:
        return list(self._by_round.values())

    def update(self, log: AgentLog) -> dict[str, Any] | None:
        if log.parent_id is None:
            return self._round(log)
        thought = self._by_round.get(log.parent_id)
        if thought is None or log.status == "start":
            return None
        data = log.data
        if "tool_name" in data and "tool_input" in data:  # function calling: the model turn
            thought["thought"] = str(data.get("output") or "")
            thought["tool"] = str(data.get("tool_name") or "")
            thought["tool_input"] = _json(_inputs(data.get("tool_input")))
            return _labelled(thought)
        if "thought" in data and "action" in data:  # ReAct: the model turn
            thought["thought"] = str(data.get("thought") or "")
            if "action_input" in data and str(data["action"]).lower() != "final answer":
                thought["tool"] = str(data["action"])
                thought["tool_input"] = _json({str(data["action"]): data["action_input"]})
            return _labelled(thought)
        return None  # a tool call's own log: the round's end carries its result

    def _round(self, log: AgentLog) -> dict[str, Any] | None:
        if log.status == "start":
            self._by_round[log.id] = {
                # Derived from the round's log id: the stream encoder and the recorder
                # (perhaps in another worker) build the same thought ids.
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"agent-thought:{log.id}")),
                "chain_id": None,
                "message_id": self.message_id,
                "position": len(self._by_round) + 1,
                "thought": "",
                "tool": "",
                "tool_labels": {},
                "tool_input": "",
                "observation": "",
                "files": [],
                "created_at": math.floor(float(log.metadata.get("started_at") or 0)),
            }
            return None
        thought = self._by_round.get(log.id)
        if thought is None:
            return None
        output = log.data.get("output")
        if isinstance(output, Mapping):  # function calling
            responses = [r for r in output.get("tool_responses") or [] if isinstance(r, Mapping)]
            if not responses:
                return None
            thought["observation"] = _json(
                {str(r.get("tool_call_name")): r.get("tool_response") for r in responses}
            )
        elif log.data.get("observation") and thought["tool"]:  # ReAct
            thought["observation"] = _json({thought["tool"]: log.data["observation"]})
        else:
            return None
        return _labelled(thought)


def _labelled(thought: dict[str, Any]) -> dict[str, Any]:
    """A copy of `thought` with a label per tool it called (Dify: the tools' own labels;
    the logs carry names only)."""
    thought["tool_labels"] = {
        name: {"en_US": name, "zh_Hans": name} for name in thought["tool"].split(";") if name
    }
    return dict(thought)


def _inputs(value: Any) -> Any:
    """`[{name, args}]` (function calling log) -> `{name: args}` (Dify's tool_input)."""
    if isinstance(value, list):
        return {
            str(item.get("name")): item.get("args")
            for item in value
            if isinstance(item, Mapping) and "name" in item
        }
    return value


def stream_frame(thought: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an `agent_thought` stream event (ids and times added by the caller)."""
    return {
        "id": thought["id"],
        "position": thought["position"],
        "thought": thought["thought"],
        "observation": thought["observation"],
        "tool": thought["tool"],
        "tool_labels": dict(thought["tool_labels"]),
        "tool_input": thought["tool_input"],
        "message_files": list(thought["files"]),
    }
