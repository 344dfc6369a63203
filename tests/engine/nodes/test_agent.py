"""agent: the function-calling, ReAct and mcp_agent strategies over a scripted model and
a tool runtime, with Dify's logs, the iteration limit and context trimming."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import pytest

from chatflow.engine.events import AgentLog
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import agent
from chatflow.engine.nodes.agent.mcp_servers import parse_servers
from chatflow.engine.nodes.base import (
    EngineServices,
    NodeContext,
    NodeResult,
    StreamChunk,
    ToolCaller,
    Turn,
)
from chatflow.engine.variables import VariablePool
from chatflow.errors import NodeError
from chatflow.providers.base import (
    ChatMessage,
    LLMChunk,
    LLMRequest,
    ToolCall,
    ToolSpec,
    Usage,
)
from chatflow.providers.fake import FakeRegistry

Reply = Callable[[LLMRequest], Sequence[LLMChunk]]


def _node(
    tools: list[dict[str, Any]],
    *,
    strategy: str = "function_calling",
    provider: str = "langgenius/agent/agent",
    iterations: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    params: dict[str, Any] = {  # shaped like smart-study-planner.yml
        "instruction": {"type": "constant", "value": "Help with {{#start.topic#}}"},
        "model": {
            "type": "constant",
            "value": {
                "mode": "chat",
                "model": "m1",
                "provider": "langgenius/x/x",
                "completion_params": {},
                "type": "model-selector",
            },
        },
        "query": {"type": "constant", "value": "{{#sys.query#}}"},
        "tools": {"type": "constant", "value": tools},
    }
    if iterations is not None:
        params["maximum_iterations"] = {"type": "constant", "value": iterations}
    params.update({k: {"type": "constant", "value": v} for k, v in extra.items()})
    return {
        "type": "agent",
        "title": "Agent",
        "agent_strategy_name": strategy,
        "agent_strategy_provider_name": provider,
        "agent_parameters": params,
    }


def _tool(name: str, provider: str, params: dict[str, Any], **fixed: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "provider_name": provider,
        "tool_name": name,
        "type": "builtin",
        "extra": {"description": f"the {name} tool"},
        "parameters": {
            **{key: {"auto": 1, "value": None} for key in params},
            **{key: {"auto": 0, "value": value} for key, value in fixed.items()},
        },
        "schemas": [
            {"form": "llm", "name": key, "type": kind, "required": True, "llm_description": key}
            for key, kind in params.items()
        ],
    }


SEARCH = _tool("google_search", "langgenius/google/google", {"query": "string"}, lang="en")
WEATHER = _tool("weather", "acme/weather/weather", {"city": "string"})
CONVERT = _tool("to_fahrenheit", "acme/units/units", {"celsius": "number"})


class Scripted:
    """A model that answers each request with the next scripted reply."""

    model = "scripted"

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        for chunk in self.replies[len(self.requests) - 1](request):
            yield chunk
        yield LLMChunk(usage=Usage(prompt_tokens=5, completion_tokens=2), finish_reason="stop")


def call(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    return lambda _: [
        LLMChunk(tool_calls=tuple(ToolCall(i, n, json.dumps(a)) for i, n, a in calls))
    ]


def say(*pieces: str) -> Reply:
    return lambda _: [LLMChunk(text=piece) for piece in pieces]


class Tools:
    """A tool runtime: weather and unit conversion, recording calls and callers."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.callers: list[ToolCaller | None] = []
        self.delay = delay

    async def invoke(
        self,
        provider: str,
        tool_name: str,
        parameters: Mapping[str, Any],
        *,
        caller: ToolCaller | None = None,
    ) -> AsyncIterator[Any]:
        self.calls.append((provider, tool_name, dict(parameters)))
        self.callers.append(caller)
        if self.delay:
            await asyncio.sleep(self.delay)
        if tool_name == "weather":
            yield f"{parameters['city']}: 21 C"
        elif tool_name == "to_fahrenheit":
            yield {"fahrenheit": parameters["celsius"] * 9 / 5 + 32}
        else:
            yield "result: rust-lang.org"


def _ctx(llm: Any, tools: Any, *, history: Sequence[Turn] = (), mcp: Any = None) -> NodeContext:
    pool = VariablePool(
        system={"query": "what is rust?", "user_id": "u1", "app_id": "a1", "conversation_id": "c"}
    )
    pool.set("start", "topic", "programming")
    services = EngineServices(models=FakeRegistry(llm), limits=EngineLimits(), tools=tools, mcp=mcp)
    return NodeContext("ag", pool, services, history=history, execution_id="exec-1")


async def _run(ctx: NodeContext, node: dict[str, Any]) -> list[Any]:
    return [e async for e in agent.run(ctx, agent.Config.model_validate(node))]


def _text(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, StreamChunk))


def _logs(events: list[Any]) -> list[AgentLog]:
    return [e for e in events if isinstance(e, AgentLog)]


async def test_model_calls_two_tools_in_turn_to_answer() -> None:
    llm = Scripted(
        call(("c1", "weather", {"city": "Paris"})),
        call(("c2", "to_fahrenheit", {"celsius": 21})),
        say("Paris is ", "69.8 F."),
    )
    tools = Tools()
    events = await _run(_ctx(llm, tools), _node([WEATHER, CONVERT], iterations=5))
    assert [c[1:] for c in tools.calls] == [
        ("weather", {"city": "Paris"}),
        ("to_fahrenheit", {"celsius": 21}),
    ]
    assert tools.callers[0] == ToolCaller(app_id="a1", user_id="u1", conversation_id="c")
    # Each observation goes back as a real tool message, after the assistant's call.
    second = llm.requests[1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "tool"]
    assert second[2].tool_calls[0].name == "weather"
    assert (second[3].tool_call_id, second[3].content) == ("c1", "Paris: 21 C")
    third = llm.requests[2].messages
    assert third[-1].role == "tool"
    assert third[-1].content == 'tool response: {"fahrenheit": 69.8}.'
    assert [t.name for t in llm.requests[0].tools] == ["weather", "to_fahrenheit"]
    assert llm.requests[0].tools[1].parameters["properties"]["celsius"]["type"] == "number"
    result = events[-1]
    assert isinstance(result, NodeResult)
    assert result.outputs["text"] == _text(events) == "\n\nParis is 69.8 F."
    assert result.outputs["json"] == [{"fahrenheit": 69.8}]
    assert result.outputs["usage"]["total_tokens"] == 21
    labels = [(log.label, log.status) for log in _logs(events)]
    assert labels.count(("ROUND 3", "success")) == 1 and ("CALL weather", "success") in labels


async def test_logs_have_difys_shape() -> None:
    llm = Scripted(call(("c1", "google_search", {"query": "rust"})), say("Rust is great"))
    events = await _run(_ctx(llm, Tools()), _node([SEARCH]))
    logs = _logs(events)
    assert [(log.label, log.status) for log in logs] == [
        ("ROUND 1", "start"),
        ("m1 Thought", "start"),
        ("m1 Thought", "success"),
        ("CALL google_search", "start"),
        ("CALL google_search", "success"),
        ("ROUND 1", "success"),
        ("ROUND 2", "start"),
        ("m1 Thought", "start"),
        ("m1 Thought", "success"),
        ("ROUND 2", "success"),
    ]
    assert {(log.node_id, log.execution_id) for log in logs} == {("ag", "exec-1")}
    round1, thought, _, call_log, call_done, round1_done, round2 = logs[:7]
    assert thought.id == logs[2].id and call_log.id == call_done.id
    assert round1.parent_id is None and round2.parent_id is None and round1.id != round2.id
    assert thought.parent_id == round1.id and call_log.parent_id == round1.id
    assert logs[7].parent_id == round2.id
    assert logs[2].data == {
        "output": "",
        "tool_name": "google_search",
        "tool_input": [{"name": "google_search", "args": {"query": "rust"}}],
    }
    assert thought.metadata["provider"] == "langgenius/x/x"
    assert call_log.metadata["provider"] == "langgenius/google/google"
    assert call_done.data == {
        "output": {
            "tool_call_id": "c1",
            "tool_call_name": "google_search",
            "tool_call_input": {"lang": "en", "query": "rust"},
            "tool_response": "result: rust-lang.org",
        }
    }
    assert round1_done.data["output"]["tool_responses"] == [call_done.data["output"]]
    assert round1_done.metadata["total_tokens"] == 7
    assert round1_done.metadata["started_at"] <= round1_done.metadata["finished_at"]
    assert round1_done.metadata["elapsed_time"] >= 0
    assert logs[9].data == {"output": {"llm_response": "Rust is great", "tool_responses": []}}


async def test_several_calls_in_one_round_run_concurrently() -> None:
    both_running = asyncio.Event()
    started: list[str] = []

    class Meeting(Tools):
        async def invoke(
            self,
            provider: str,
            tool_name: str,
            parameters: Mapping[str, Any],
            *,
            caller: ToolCaller | None = None,
        ) -> AsyncIterator[Any]:
            started.append(str(parameters["city"]))
            if len(started) == 2:
                both_running.set()
            # Each call waits for the other to have started: run one after the other,
            # this would time out.
            await asyncio.wait_for(both_running.wait(), 5)
            yield f"{parameters['city']}: sunny"

    llm = Scripted(
        call(("a", "weather", {"city": "Oslo"}), ("b", "weather", {"city": "Rome"})),
        say("Both sunny."),
    )
    events = await _run(_ctx(llm, Meeting()), _node([WEATHER]))
    tool_messages = [m for m in llm.requests[1].messages if m.role == "tool"]
    assert [(m.tool_call_id, m.content) for m in tool_messages] == [
        ("a", "Oslo: sunny"),
        ("b", "Rome: sunny"),
    ]
    starts = [log for log in _logs(events) if log.label == "CALL weather"]
    assert [log.status for log in starts[:2]] == ["start", "start"]  # both begin first
    assert isinstance(events[-1], NodeResult)


async def test_iteration_limit_stops_calls_as_dify_does() -> None:
    llm = Scripted(*[call(("c", "google_search", {"query": "again"}))] * 3)
    tools = Tools()
    events = await _run(_ctx(llm, tools), _node([SEARCH], iterations=2))
    assert len(tools.calls) == 1 and len(llm.requests) == 2
    last_call = [log for log in _logs(events) if log.label == "CALL google_search"][-1]
    assert last_call.data["output"]["tool_response"] == (
        "Maximum iteration limit (2) reached. Cannot call tool 'google_search'. "
        "Please consider increasing the iteration limit."
    )
    assert isinstance(events[-1], NodeResult) and events[-1].outputs["text"] == "\n\n"


async def test_one_iteration_returns_the_tool_results_as_text() -> None:
    llm = Scripted(call(("c", "google_search", {"query": "x"})))
    events = await _run(_ctx(llm, Tools()), _node([SEARCH], iterations=1))
    assert _text(events) == "\nresult: rust-lang.org"


class FailingTools:
    async def invoke(
        self, provider: str, tool_name: str, parameters: Mapping[str, Any], **_: Any
    ) -> AsyncIterator[Any]:
        raise RuntimeError("quota exceeded")
        yield  # pragma: no cover - makes this an async generator


async def test_failing_tool_is_an_error_log_and_an_observation() -> None:
    llm = Scripted(call(("c1", "google_search", {"query": "rust"})), say("Rust is great"))
    events = await _run(_ctx(llm, FailingTools()), _node([SEARCH]))
    done = [e for e in _logs(events) if e.label.startswith("CALL")][-1]
    assert (done.status, done.error) == ("error", "quota exceeded")
    assert done.data["output"]["tool_response"] == "tool invoke error: quota exceeded"
    assert llm.requests[1].messages[-1].content == "tool invoke error: quota exceeded"
    assert isinstance(events[-1], NodeResult) and events[-1].outputs["text"] == "\nRust is great"


async def test_no_tools_is_a_plain_answer_and_missing_runtime_fails() -> None:
    events = await _run(_ctx(FakeRegistry().fake, None), _node([]))
    assert isinstance(events[-1], NodeResult) and events[-1].outputs["text"] == "Hello world!"
    with pytest.raises(NodeError, match="tool provider 'acme/weather/weather' is not configured"):
        await _run(_ctx(Scripted(), None), _node([WEATHER]))


async def test_unknown_strategy_fails() -> None:
    with pytest.raises(NodeError, match="agent strategy 'plan_and_solve'"):
        await _run(_ctx(Scripted(), Tools()), _node([], strategy="plan_and_solve"))


async def test_tool_schema_comes_from_the_runtime_when_the_dsl_has_none() -> None:
    class Described(Tools):
        async def describe(self, provider: str, tool: str) -> Any:
            class Descriptor:
                def json_schema(self) -> dict[str, Any]:
                    return {
                        "type": "object",
                        "properties": {"timezone": {"type": "string"}},
                        "required": ["timezone"],
                    }

            return Descriptor()

    entry = {  # ai-agent-multi-tools.yml: raw settings, no schemas
        "enabled": True,
        "provider_name": "time",
        "tool_name": "current_time",
        "parameters": {"format": "", "timezone": ""},
    }
    llm = Scripted(say("It is noon."))
    await _run(_ctx(llm, Described()), _node([entry]))
    assert llm.requests[0].tools[0].parameters["required"] == ["timezone"]
    llm = Scripted(say("It is noon."))
    await _run(_ctx(llm, Tools()), _node([entry]))  # no describe: empty settings are the model's
    assert set(llm.requests[0].tools[0].parameters["properties"]) == {"format", "timezone"}


async def test_memory_adds_earlier_turns() -> None:
    llm = Scripted(say("ok"))
    history = [Turn("hi", "hello"), Turn("and?", "")]  # unanswered turns are left out
    node = {**_node([]), "memory": {"window": {"enabled": True, "size": 5}}}
    ctx = _ctx(llm, Tools(), history=history)
    await _run(ctx, node)
    roles = [(m.role, m.content) for m in llm.requests[0].messages]
    assert roles[1:4] == [("user", "hi"), ("assistant", "hello"), ("user", "what is rust?")]


class Windowed(Scripted):
    """A scripted model with a context window; a token is a word here."""

    def __init__(self, size: int, *replies: Reply) -> None:
        super().__init__(*replies)
        self.context_size = size

    async def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> int:
        return sum(len(m.content.split()) + 1 for m in messages)


async def test_memory_is_trimmed_oldest_first_to_fit_the_context() -> None:
    history = [Turn(f"question {i} " + "word " * 20, f"answer {i}") for i in range(6)]
    node = {**_node([]), "memory": {"window": {"enabled": False}}}
    llm = Windowed(160, say("ok"))
    params = {"max_tokens": 40}
    node["agent_parameters"]["model"]["value"]["completion_params"] = params
    await _run(_ctx(llm, Tools(), history=history), node)
    sent = [m.content for m in llm.requests[0].messages]
    assert sent[-1] == "what is rust?"
    assert not any(s.startswith("question 0") for s in sent)  # oldest went first
    assert any(s.startswith("question 5") for s in sent)
    assert await llm.count_tokens(llm.requests[0].messages) <= 160 - 40


async def test_a_prompt_that_cannot_fit_fails_with_completion_request_error() -> None:
    llm = Windowed(64, say("ok"))
    node = _node([])
    node["agent_parameters"]["query"]["value"] = "word " * 100
    with pytest.raises(NodeError) as failure:
        await _run(_ctx(llm, Tools()), node)
    assert failure.value.error_type == "completion_request_error"
    assert "needs 105 tokens" in str(failure.value) and "context is 64 tokens" in str(failure.value)


async def test_earlier_rounds_are_trimmed_but_never_the_latest() -> None:
    big = "x " * 60
    llm = Windowed(  # 160 tokens: 120 for the prompt, 40 kept for the answer
        160,
        call(("c1", "weather", {"city": "A"})),
        call(("c2", "weather", {"city": "B"})),
        say("done"),
    )

    class Wordy(Tools):
        async def invoke(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            async for _ in super().invoke(*args, **kwargs):
                yield big

    await _run(_ctx(llm, Wordy()), _node([WEATHER], iterations=5))
    third = llm.requests[2].messages
    tool_ids = [m.tool_call_id for m in third if m.role == "tool"]
    assert tool_ids == ["c2"]  # round 1's call and result went, together
    assert not any(m.tool_calls and m.tool_calls[0].id == "c1" for m in third)


def react(*pieces: str) -> Reply:
    return say(*pieces)


async def test_react_acts_observes_and_streams_the_final_answer() -> None:
    llm = Scripted(
        react(
            "Thought: I should search.\nAction: ```json\n",
            '{"action": "google_search", "action_input": {"query": "rust"}}\n```',
        ),
        react("Thought: I know what to respond\nFinal", " Answer: Rust ", "is great"),
    )
    tools = Tools()
    events = await _run(_ctx(llm, tools), _node([SEARCH], strategy="ReAct"))
    assert tools.calls == [
        ("langgenius/google/google", "google_search", {"lang": "en", "query": "rust"})
    ]
    first = llm.requests[0]
    assert "Observation" in first.stop and first.tools == ()
    assert '"google_search"' in first.messages[0].content  # the tools, in the prompt
    second = llm.requests[1].messages
    assert second[-1] == ChatMessage("user", "continue")
    assert "Observation: result: rust-lang.org" in second[-2].content
    # The thoughts stream as written (markers and the action's blob held back), as
    # Dify's plugin streams them, then the final answer.
    streamed = [e.text for e in events if isinstance(e, StreamChunk)]
    assert streamed == ["I should search.\n", "I know what to respond\n", "Rust ", "is great"]
    text = "I should search.\nI know what to respond\nRust is great"
    assert isinstance(events[-1], NodeResult) and events[-1].outputs["text"] == text
    done = [log for log in _logs(events) if log.label == "m1 Thought" and log.status != "start"]
    thoughts = [log.data["thought"] for log in done]
    assert thoughts == ["I should search.", "I know what to respond"]
    round_done = [log for log in _logs(events) if log.label == "ROUND 1"][-1]
    assert round_done.data["action_name"] == "google_search"
    assert round_done.data["observation"] == "result: rust-lang.org"


async def test_react_streams_thoughts_token_by_token_while_the_model_writes() -> None:
    first = (
        "Thought: I should search the web.\n"
        'Action: ```json\n{"action": "google_search", "action_input": {"query": "rust"}}\n```'
    )
    second = "Thought: Found it.\nFinal Answer: Rust is a language."
    produced: list[str] = []  # the tokens the model has written so far

    def one_by_one(text: str) -> Reply:
        def reply(_: LLMRequest) -> Sequence[LLMChunk]:
            return [LLMChunk(text=char) for char in text]

        return reply

    class Recording(Scripted):
        async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
            async for chunk in super().stream(request):
                produced.append(chunk.text)
                yield chunk

    llm = Recording(one_by_one(first), one_by_one(second))
    tools = Tools()
    config = agent.Config.model_validate(_node([SEARCH], strategy="ReAct"))
    seen: list[tuple[str, int]] = []  # each streamed text, and how much the model had written
    async for event in agent.run(_ctx(llm, tools), config):
        if isinstance(event, StreamChunk):
            seen.append((event.text, len(produced)))
    assert tools.calls and tools.calls[0][2]["query"] == "rust"
    # The thought came out while the model was still writing its first reply.
    assert seen[0][1] < len(first) // 2
    assert len([text for text, _ in seen]) > 10  # a chunk per token, not one per reply
    text = "".join(text for text, _ in seen)
    assert text == "I should search the web.\nFound it.\nRust is a language."
    assert "{" not in text and "```" not in text and "Action" not in text


async def test_react_reply_without_action_is_the_answer() -> None:
    llm = Scripted(react("Just an answer."))
    events = await _run(_ctx(llm, Tools()), _node([SEARCH], strategy="ReAct"))
    assert _text(events) == "Just an answer."


async def test_react_iteration_limit() -> None:
    action = react('Action: {"action": "google_search", "action_input": "rust"}')
    tools = Tools()
    events = await _run(
        _ctx(Scripted(action, action), tools), _node([SEARCH], strategy="ReAct", iterations=2)
    )
    assert [c[2] for c in tools.calls] == [{"lang": "en", "query": "rust"}]  # bare input
    assert _text(events).startswith("Maximum iteration limit (2) reached.")


class Mcp:
    """An MCP connector over an in-memory server with one `add` tool."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self, server: Mapping[str, Any]) -> list[ToolSpec]:
        schema = {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        }
        return [ToolSpec("add", "adds two numbers", schema)]

    async def call_tool(
        self, server: Mapping[str, Any], tool: str, arguments: Mapping[str, Any]
    ) -> AsyncIterator[Any]:
        self.calls.append((str(server["url"]), dict(arguments)))
        yield str(arguments["a"] + arguments["b"])


async def test_mcp_agent_offers_the_servers_tools_and_none_on_the_last_round() -> None:
    llm = Scripted(call(("m1", "add", {"a": 2, "b": 3})), say("It is 5."))
    mcp = Mcp()
    node = _node(
        [],
        provider="hjlarry/agent/mcp_agent",
        iterations=2,
        mcp_server="http://127.0.0.1:9/sse",
    )
    events = await _run(_ctx(llm, Tools(), mcp=mcp), node)
    assert mcp.calls == [("http://127.0.0.1:9/sse", {"a": 2, "b": 3})]
    assert [t.name for t in llm.requests[0].tools] == ["add"]
    assert llm.requests[1].tools == ()  # the last round must answer
    call_log = [log for log in _logs(events) if log.label == "CALL add"][-1]
    assert call_log.metadata["provider"] == "MCP Client"
    thought = [log for log in _logs(events) if log.label == "m1 Thought"][1]
    assert thought.data["tool_input"] == {"add": {"a": 2, "b": 3}}
    assert _text(events) == "\nIt is 5."


def test_mcp_server_lists() -> None:
    [one] = parse_servers("http://h:8000/sse")
    assert (one["url"], one["transport"]) == ("http://h:8000/sse", "sse")
    servers = parse_servers(
        json.dumps(
            {
                "mcpServers": {
                    "a": {"url": "http://a/mcp", "headers": {"k": "v"}, "timeout": 5},
                    "b": {"url": "http://b/sse", "transport": "sse"},
                }
            }
        )
    )
    assert [(s["name"], s["transport"], s["headers"]) for s in servers] == [
        ("a", "streamable_http", {"k": "v"}),
        ("b", "sse", {}),
    ]
    assert parse_servers("") == []
    with pytest.raises(NodeError, match="only http"):
        parse_servers("file:///etc/passwd")
    with pytest.raises(NodeError, match="needs a url"):
        parse_servers('{"a": {"command": "rm"}}')


async def test_error_strategy_applies_to_a_failing_agent() -> None:
    from chatflow.dsl.loader import graph_from_dicts
    from chatflow.engine.events import RunFinished, TextChunk
    from chatflow.engine.runner import run_graph
    from chatflow.errors import ProviderError

    class Broken(Scripted):
        async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
            raise ProviderError("model is down")
            yield  # pragma: no cover - makes this an async generator

    node = {
        **_node([]),
        "error_strategy": "default-value",
        "default_value": [{"key": "text", "type": "string", "value": "sorry, no agent"}],
    }
    graph = graph_from_dicts(
        [
            {"id": "start", "data": {"type": "start", "variables": []}},
            {"id": "ag", "data": node},
            {"id": "answer", "data": {"type": "answer", "answer": "{{#ag.text#}}"}},
        ],
        [
            {"id": "e1", "source": "start", "target": "ag"},
            {"id": "e2", "source": "ag", "target": "answer"},
        ],
    )
    ctx = _ctx(Broken(), Tools())
    events = [e async for e in run_graph(graph, pool=ctx.pool, services=ctx.services)]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "partial-succeeded"
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "sorry, no agent"
