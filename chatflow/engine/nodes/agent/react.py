"""The `ReAct` strategy (langgenius/agent): tools described in the prompt, the model
writes `Thought:` / `Action: {"action": ..., "action_input": ...}` text, we run the
action and feed back `Observation:`, until it writes `Final Answer:`.

Follows Dify's plugin: its English chat prompt template, "Observation" as a stop word,
the scratchpad as one assistant message followed by a user "continue", an action named
"Final Answer" as the answer, "Maximum iteration limit (N) reached" as the last round's
observation when it still wants a tool. As in Dify's plugin, the model's text streams
as it writes it (`react_stream`): the thought with its `Thought:` / `Action:` markers
dropped and the action's JSON blob held back, then what follows `Final Answer:`; a
reply with no action is the answer itself, an action "Final Answer" streams its input
at the end, and a newline ends each round that ran a tool.
When the prompt outgrows the context, remembered turns go first, then the oldest
scratchpad steps (never the latest).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.engine.nodes._context import ContextOverflow
from chatflow.engine.nodes._model_call import Completion
from chatflow.engine.nodes.agent import tools as agent_tools
from chatflow.engine.nodes.agent.function_calling import limit_message
from chatflow.engine.nodes.agent.logs import AgentLogs, usage_metadata
from chatflow.engine.nodes.agent.react_stream import Action, Piece, ReactStreamParser, Thought
from chatflow.engine.nodes.agent.strategy import Params, Result, model_turn
from chatflow.engine.nodes.base import NodeContext, NodeEvent, StreamChunk
from chatflow.providers.base import ChatMessage, ToolCall

PROMPT = """Respond to the human as helpfully and accurately as possible.

{{instruction}}

You have access to the following tools:

{{tools}}

Use a json blob to specify a tool by providing an action key (tool name) and an action_input key (tool input).
Valid "action" values: {{tool_names}}

Provide only ONE action per $JSON_BLOB, as shown:

{
  "action": $TOOL_NAME,
  "action_input": $ACTION_INPUT
}

Follow this format:

Question: input question to answer
Thought: consider previous and subsequent steps
Action: $JSON_BLOB
Observation: action result
... (repeat Thought/Action/Observation N times)
Thought: I know what to respond
FinalAnswer: final response to human

Begin! Reminder to ALWAYS respond with a valid json blob of a single action. Use tools if necessary. Respond directly if appropriate. Format is Action: $JSON_BLOB then Observation:.
"""  # noqa: E501 (Dify's template, its wording kept: models are prompted with it)


@dataclass(slots=True)
class Step:
    """One scratchpad unit: what the model thought, did and saw."""

    thought: str = ""
    action: str = ""  # the action's JSON text
    observation: str = ""
    final: str | None = None

    def text(self) -> str:
        if self.final is not None:
            return f"Final Answer: {self.final}"
        out = f"Thought: {self.thought}\n\n"
        if self.action:
            out += f"Action: {self.action}\n\n"
        if self.observation:
            out += f"Observation: {self.observation}\n\n"
        return out


def system_prompt(params: Params) -> str:
    specs = [
        {"name": t.name, "description": t.spec.description, "parameters": dict(t.spec.parameters)}
        for t in params.tools
    ]
    return (
        PROMPT.replace("{{instruction}}", params.instruction)
        .replace("{{tools}}", json.dumps(specs, ensure_ascii=False))
        .replace("{{tool_names}}", ", ".join(t.name for t in params.tools))
    )


async def run(ctx: NodeContext, params: Params) -> AsyncIterator[NodeEvent | Result]:
    logs = AgentLogs(ctx)
    model = params.model
    tools = {tool.name: tool for tool in params.tools}
    system = ChatMessage("system", system_prompt(params))
    history_groups = params.history_groups(1)
    question = ChatMessage("user", params.query)
    steps: list[Step] = []
    result = Result()
    limit = max(params.maximum_iterations, 1)
    final_answer = ""  # the answer still to stream: an action's input, the limit message
    step_no, running = 1, True
    while running and step_no <= limit:
        running = False
        round_log = logs.start(f"ROUND {step_no}")
        yield round_log
        thought_log = logs.start(f"{model.name} Thought", round_log, provider=model.provider)
        yield thought_log
        reply: Completion | None = None
        kept = 0  # oldest scratchpad steps left out to fit the context
        while reply is None:
            messages = [system, *params.history, question]
            if steps:
                pad = "".join(s.text() for s in steps[kept:])
                messages += [ChatMessage("assistant", pad), ChatMessage("user", "continue")]
            parser = ReactStreamParser()
            turn = _Turn()
            try:
                async for item in model_turn(
                    ctx, params, messages, (), droppable=history_groups, stop=["Observation"]
                ):
                    if isinstance(item, str):
                        for chunk in turn.take(ctx, result, parser.feed(item)):
                            yield chunk
                    else:
                        reply = item
            except ContextOverflow:
                if kept >= len(steps) - 1:
                    raise
                kept += 1
        for chunk in turn.take(ctx, result, parser.close()):
            yield chunk
        result.add_usage(reply.usage)
        step = Step(thought=turn.thought.strip())
        action = turn.action
        if action is not None:
            step.action = json.dumps({"action": action[0], "action_input": action[1]})
        action_data = (
            {"action": action[0], "action_input": action[1]} if action else {"action": reply.text}
        )
        yield logs.finish(
            thought_log,
            {"thought": step.thought, **action_data},
            provider=model.provider,
            **usage_metadata(reply.usage),
        )
        steps.append(step)
        # No action: the reply is the answer, its text (thought or final answer) streamed.
        if action is not None and action[0].lower() == "final answer":
            value = action[1]
            final_answer = value if isinstance(value, str) else json.dumps(value)
            step.final = final_answer
        elif action is not None:
            tool = tools.get(action[0])
            provider = tool.provider if tool else ""
            call_log = logs.start(f"CALL {action[0]}", round_log, provider=provider)
            yield call_log
            if step_no == limit:
                step.observation = final_answer = limit_message(limit, action[0])
                data: dict[str, Any] = {"tool_name": action[0], "tool_call_args": action[1]}
                yield logs.finish(call_log, {**data, "output": step.observation}, provider=provider)
            else:
                running = True
                outcome = await agent_tools.invoke(ctx, tool, _call(step_no, action, tool))
                step.observation = outcome.observation
                result.files += outcome.files
                result.json += outcome.json
                yield logs.finish(
                    call_log,
                    {
                        "tool_name": action[0],
                        "tool_call_args": outcome.response.get("tool_call_input", action[1]),
                        "output": outcome.observation,
                    },
                    error=outcome.error,
                    provider=provider,
                )
        if action is not None and turn.streamed and not result.text.endswith("\n"):
            yield result.emit(ctx, "\n")  # the next round's thought starts a new line
        yield logs.finish(
            round_log,
            {
                "action_name": action[0] if action else "",
                "action_input": action[1] if action else "",
                "thought": step.thought,
                "observation": step.observation,
            },
            **usage_metadata(reply.usage),
        )
        step_no += 1
    if final_answer:
        yield result.emit(ctx, final_answer)
    yield result


class _Turn:
    """What one model turn's pieces add up to, passing their text on as it comes."""

    def __init__(self) -> None:
        self.thought = ""
        self.action: tuple[str, Any] | None = None
        self.streamed = False  # some text (thought or answer) went out

    def take(self, ctx: NodeContext, result: Result, pieces: list[Piece]) -> list[StreamChunk]:
        chunks: list[StreamChunk] = []
        for piece in pieces:
            if isinstance(piece, Action):
                if self.action is None:  # one action per turn: the first one
                    self.action = (piece.name, piece.input)
                continue
            if isinstance(piece, Thought):
                self.thought += piece.text
            chunks.append(result.emit(ctx, piece.text))
            self.streamed = True
        return chunks


def _call(step: int, action: tuple[str, Any], tool: agent_tools.AgentTool | None) -> ToolCall:
    """The action as a tool call; a bare string input goes to the tool's only parameter."""
    name, value = action
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            schema = tool.spec.parameters if tool else {}
            props: Sequence[str] = list(schema.get("properties") or {})
            value = {props[0]: value} if len(props) == 1 else {}
    arguments = value if isinstance(value, dict) else {}
    return ToolCall(f"react_{step}", name, json.dumps(arguments, ensure_ascii=False))
