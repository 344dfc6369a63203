"""llm: prompt assembly (basic, jinja2, context, memory, vision), streaming, outputs,
structured output, reasoning, and cancellation of the model stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chatflow.engine.events import RetrieverResources
from chatflow.engine.limits import EngineLimits
from chatflow.engine.nodes import llm, spec_for
from chatflow.engine.nodes.base import NodeResult, StreamChunk, Turn
from chatflow.errors import NodeError
from chatflow.providers.base import ChatMessage, ImagePart, LLMChunk, Usage


def _data(prompt: Any, **extra: Any) -> dict[str, Any]:
    return {
        "model": {
            "provider": "langgenius/openai/openai",
            "name": "gpt-4o-mini",
            "mode": "chat",
            "completion_params": {"temperature": 0.7},
        },
        "prompt_template": prompt,
        "context": {"enabled": False, "variable_selector": []},
        "vision": {"enabled": False},
        **extra,
    }


def _msg(role: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "text": text, **extra}


def _pairs(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


async def test_streams_and_reports(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models(["Hel", "lo", "!"])
    ctx = make_ctx(
        node_id="llm",
        models=reg,
        nodes={"start": {"name": "Ada"}},
        system={"query": "hi"},
    )
    prompt = [_msg("system", "You help {{#start.name#}}."), _msg("user", "{{#sys.query#}}")]
    result, events = await run_node(llm, ctx, _data(prompt))
    assert events == [
        StreamChunk(("llm", "text"), "Hel"),
        StreamChunk(("llm", "text"), "lo"),
        StreamChunk(("llm", "text"), "!"),
    ]
    assert reg.asked == [("langgenius/openai/openai", "gpt-4o-mini")]
    request = reg.fake.request
    assert _pairs(list(request.messages)) == [("system", "You help Ada."), ("user", "hi")]
    assert request.params == {"temperature": 0.7}
    assert result.outputs["text"] == "Hello!"
    assert result.outputs["finish_reason"] == "stop"
    assert result.outputs["reasoning_content"] == ""
    usage = result.outputs["usage"]
    assert usage["prompt_tokens"] == 7 and usage["total_tokens"] == 9
    assert set(usage) >= {"prompt_price", "currency", "latency", "total_price"}
    assert isinstance(result.usage, Usage) and result.usage.completion_tokens == 2
    assert result.process_data == {
        "model_mode": "chat",
        "prompts": [
            {"role": "system", "text": "You help Ada.", "files": []},
            {"role": "user", "text": "hi", "files": []},
        ],
        "usage": usage,
        "finish_reason": "stop",
        "model_provider": "langgenius/openai/openai",
        "model_name": "gpt-4o-mini",
    }
    assert result.inputs["#start.name#"] == "Ada"
    assert result.inputs["#sys.query#"] == "hi"
    assert result.inputs["model_name"] == "gpt-4o-mini"


async def test_missing_prompt_variable_fails(make_ctx: Any, run_node: Any) -> None:
    with pytest.raises(NodeError, match=r"Variable #start\.nope# not found"):
        await run_node(llm, make_ctx(), _data([_msg("user", "x {{#start.nope#}}")]))


async def test_no_prompt_fails(make_ctx: Any, run_node: Any) -> None:
    with pytest.raises(NodeError, match="No prompt found"):
        await run_node(llm, make_ctx(), _data([_msg("system", "")]))


async def test_completion_params_resolve_variables_and_stop(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    reg = models()
    ctx = make_ctx(models=reg, nodes={"cfg": {"t": "0.2", "m": 64}})
    data = _data([_msg("user", "hi")])
    data["model"]["completion_params"] = {
        "temperature": "{{#cfg.t#}}",
        "max_tokens": "{{#cfg.m#}}",
        "stop": ["\n\n"],
        "response_format": "json_object",
    }
    await run_node(llm, ctx, data)
    request = reg.fake.request
    assert request.params == {"temperature": 0.2, "max_tokens": 64}
    assert list(request.stop) == ["\n\n"]
    assert request.response_format == "json_object"


async def test_context_string_and_knowledge_list(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    chunks = [
        {
            "content": "Paris is in France.",
            "metadata": {"_source": "knowledge", "score": 0.9, "dataset_id": "d1"},
        },
        {"content": "Rome is in Italy.", "summary": "Italy", "metadata": {}},
        "plain line",
    ]
    ctx = make_ctx(models=reg, nodes={"kr": {"result": chunks, "s": "just text"}})
    data = _data(
        [_msg("system", "Use:\n{{#context#}}"), _msg("user", "q")],
        context={"enabled": True, "variable_selector": ["kr", "result"]},
    )
    result, events = await run_node(llm, ctx, data)
    system = reg.fake.request.messages[0].content
    assert system == "Use:\nParis is in France.\nItaly\nRome is in Italy.\nplain line"
    assert result.inputs["#context#"].startswith("Paris")
    # Dify's retriever-resource event comes first: citations of knowledge chunks only.
    cited = events[0]
    assert isinstance(cited, RetrieverResources) and cited.node_id == ctx.node_id
    assert [(r["dataset_id"], r["score"], r["content"]) for r in cited.resources] == [
        ("d1", 0.9, "Paris is in France.")
    ]
    assert cited.context == system.removeprefix("Use:\n")
    data["context"] = {"enabled": True, "variable_selector": ["kr", "s"]}
    reg.fake.requests.clear()
    _, events = await run_node(llm, ctx, data)
    assert reg.fake.request.messages[0].content == "Use:\njust text"
    assert events[0] == RetrieverResources("", ctx.node_id, [], "just text")
    # Disabled context still removes the placeholder, and cites nothing.
    data["context"] = {"enabled": False}
    reg.fake.requests.clear()
    _, events = await run_node(llm, ctx, data)
    assert reg.fake.request.messages[0].content == "Use:\n"
    assert not [e for e in events if isinstance(e, RetrieverResources)]


async def test_invalid_context_structure(make_ctx: Any, run_node: Any) -> None:
    ctx = make_ctx(nodes={"kr": {"result": [{"no_content": 1}]}})
    data = _data(
        [_msg("user", "{{#context#}}")],
        context={"enabled": True, "variable_selector": ["kr", "result"]},
    )
    with pytest.raises(NodeError, match="Invalid context structure"):
        await run_node(llm, ctx, data)


HISTORY = [
    Turn("q1", "a1"),
    Turn("q2", "a2"),
    Turn("q3", ""),  # an unanswered (stopped) turn is not remembered
    Turn("q4", "a4"),
]


def _memory(size: int = 2, enabled: bool = True, query: str = "{{#sys.query#}}") -> dict[str, Any]:
    return {
        "role_prefix": {"user": "", "assistant": ""},
        "window": {"enabled": enabled, "size": size},
        "query_prompt_template": query,
    }


async def test_memory_window_in_chat_mode(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(models=reg, system={"query": "now?"}, history=HISTORY)
    await run_node(llm, ctx, _data([_msg("system", "sys")], memory=_memory(size=2)))
    assert _pairs(list(reg.fake.request.messages)) == [
        ("system", "sys"),
        ("user", "q2"),
        ("assistant", "a2"),
        ("user", "q4"),
        ("assistant", "a4"),
        ("user", "now?"),
    ]


async def test_memory_window_disabled_keeps_everything(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    reg = models()
    ctx = make_ctx(models=reg, system={"query": "now?"}, history=HISTORY)
    await run_node(llm, ctx, _data([_msg("system", "sys")], memory=_memory(enabled=False)))
    contents = [m.content for m in reg.fake.request.messages]
    assert contents == ["sys", "q1", "a1", "q2", "a2", "q4", "a4", "now?"]


async def test_memory_query_template_and_default(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(
        models=reg,
        system={"query": "now?"},
        conversation={"lang": "fr"},
        history=[Turn("q1", "a1")],
    )
    memory = _memory(query="language: {{#conversation.lang#}}\n{{#sys.query#}}")
    result, _ = await run_node(llm, ctx, _data([_msg("system", "sys")], memory=memory))
    assert reg.fake.request.messages[-1] == ChatMessage("user", "language: fr\nnow?")
    assert result.inputs["#conversation.lang#"] == "fr"
    reg.fake.requests.clear()
    await run_node(llm, ctx, _data([_msg("system", "sys")], memory=_memory(query="")))
    assert reg.fake.request.messages[-1] == ChatMessage("user", "now?")


async def test_no_memory_in_workflow_apps(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(models=reg, system={"query": "now?"}, history=HISTORY, app_mode="workflow")
    await run_node(llm, ctx, _data([_msg("system", "sys")], memory=_memory()))
    assert _pairs(list(reg.fake.request.messages)) == [("system", "sys"), ("user", "now?")]


async def test_completion_mode_with_histories(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(models=reg, system={"query": "now?"}, history=HISTORY)
    data = _data({"text": "Chat so far:\n#histories#\nAnswer: {{#sys.query#}}"})
    data["model"]["mode"] = "completion"
    data["memory"] = {**_memory(size=1), "role_prefix": {"user": "Human", "assistant": "AI"}}
    result, _ = await run_node(llm, ctx, data)
    assert list(reg.fake.request.messages) == [
        ChatMessage("user", "Chat so far:\nHuman: q4\nAI: a4\nAnswer: now?")
    ]
    assert result.process_data["model_mode"] == "completion"
    assert result.process_data["prompts"] == [
        {"role": "user", "text": "Chat so far:\nHuman: q4\nAI: a4\nAnswer: now?"}
    ]


async def test_completion_mode_quirks(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(models=reg, system={"query": "q"})
    data = _data({"text": "Say {{#sys.query#}}"})
    data["model"]["mode"] = "completion"
    await run_node(llm, ctx, data)
    # Dify prepends the (empty) memory text and a newline when there is no #histories#.
    assert reg.fake.request.messages[0].content == "\nSay q"
    data["memory"] = {"window": {"enabled": False}, "query_prompt_template": ""}
    with pytest.raises(NodeError, match="Memory role prefix is required"):
        await run_node(llm, ctx, data)


async def test_jinja2_prompts(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models()
    ctx = make_ctx(
        models=reg,
        nodes={"start": {"items": ["a", "b"], "doc": {"k": "v"}}},
        system={"query": "hi"},
    )
    prompt = [
        _msg(
            "system",
            "ignored basic text",
            edition_type="jinja2",
            jinja2_text="{% for i in items %}[{{ i }}]{% endfor %} {{ doc.k }}",
        ),
        _msg("user", "{{#sys.query#}}", edition_type="basic"),
    ]
    config = {
        "jinja2_variables": [
            {"variable": "items", "value_selector": ["start", "items"]},
            {"variable": "doc", "value_selector": ["start", "doc"]},
        ]
    }
    result, _ = await run_node(llm, ctx, _data(prompt, prompt_config=config))
    assert _pairs(list(reg.fake.request.messages)) == [("system", "[a][b] v"), ("user", "hi")]
    assert result.inputs["items"] == "a\nb"
    assert result.inputs["doc"] == '{"k": "v"}'


async def test_jinja2_errors_and_missing_variables(make_ctx: Any, run_node: Any) -> None:
    prompt = [_msg("user", "", edition_type="jinja2", jinja2_text="{{ x }")]
    with pytest.raises(NodeError, match="Template syntax error"):
        await run_node(llm, make_ctx(), _data(prompt))
    config = {"jinja2_variables": [{"variable": "x", "value_selector": ["start", "x"]}]}
    with pytest.raises(NodeError, match="Variable x not found"):
        await run_node(llm, make_ctx(), _data([_msg("user", "hi")], prompt_config=config))


async def test_vision_files_join_the_last_user_message(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    async def reader(file: Any) -> bytes:
        return b"\x89PNG"

    reg = models()
    remote = file_factory("remote.png")
    local = file_factory(
        "local.jpg", transfer_method="local_file", id="up1", url=None, mime_type="image/jpeg"
    )
    # Audio is left out without error (no audio parts in our chat protocol).
    voice = file_factory("voice.mp3", type="audio", extension=".mp3", mime_type="audio/mpeg")
    ctx = make_ctx(
        models=reg,
        system={"query": "what is this?", "files": [remote, local, voice]},
        file_reader=reader,
    )
    data = _data(
        [_msg("system", "sys"), _msg("user", "{{#sys.query#}}")],
        vision={
            "enabled": True,
            "configs": {"variable_selector": ["sys", "files"], "detail": "low"},
        },
    )
    result, _ = await run_node(llm, ctx, data)
    last = reg.fake.request.messages[-1]
    assert last.content == "what is this?"
    assert last.images == (
        ImagePart("https://example.com/remote.png", "low"),
        ImagePart("data:image/jpeg;base64,iVBORw==", "low"),
    )
    files = result.process_data["prompts"][-1]["files"]
    assert files[0] == {
        "type": "image",
        "data": "https://ex...[TRUNCATED]...remote.png",
        "detail": "low",
    }
    assert len(result.inputs["#files#"]) == 3


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _docx(text: str) -> bytes:
    import io

    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _doc(file_factory: Any, name: str, **fields: Any) -> Any:
    extension = "." + name.rsplit(".", 1)[-1]
    values = {"type": "document", "transfer_method": "local_file", "url": None, **fields}
    return file_factory(name, id=name, extension=extension, mime_type="", **values)


def _reader(contents: dict[str, bytes]) -> Any:
    async def read(file: Any) -> bytes:
        return contents[file.id]

    return read


async def test_documents_reach_the_model_as_text(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    reg = models()
    files = [
        _doc(file_factory, "notes.txt"),
        file_factory("cat.png"),
        _doc(file_factory, "invoice.pdf"),
        _doc(file_factory, "report.docx"),
        file_factory("clip.mp4", type="video", extension=".mp4", mime_type="video/mp4"),
    ]
    reader = _reader(
        {
            "notes.txt": "plain notes, héllo".encode(),
            "invoice.pdf": _pdf("Invoice total 42 EUR"),
            "report.docx": _docx("Quarterly report body"),
        }
    )
    ctx = make_ctx(models=reg, system={"query": "summarise", "files": files}, file_reader=reader)
    vision = {"enabled": True, "configs": {"variable_selector": ["sys", "files"]}}
    result, _ = await run_node(llm, ctx, _data([_msg("user", "{{#sys.query#}}")], vision=vision))
    last = reg.fake.request.messages[-1]
    assert last.images == (ImagePart("https://example.com/cat.png", "high"),)
    text = last.content
    assert text.startswith("summarise\n\n")
    assert '<document name="notes.txt">\nplain notes, héllo\n</document>' in text
    pdf_block = text.split('<document name="invoice.pdf">\n', 1)[1].split("</document>")[0]
    assert "Invoice total 42 EUR" in pdf_block
    assert '<document name="report.docx">\nQuarterly report body\n</document>' in text
    assert text.index("notes.txt") < text.index("invoice.pdf") < text.index("report.docx")
    assert "clip.mp4" not in text and "cat.png" not in text
    # What the model got is what `process_data.prompts` records.
    assert result.process_data["prompts"][-1]["text"] == text


async def test_document_referenced_in_prompt_is_its_own_message(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    reg = models()
    doc = _doc(file_factory, "brief.md")
    ctx = make_ctx(
        models=reg,
        nodes={"start": {"doc": doc}},
        file_reader=_reader({"brief.md": b"# Brief\nShip it."}),
    )
    await run_node(llm, ctx, _data([_msg("user", "Review {{#start.doc#}}")]))
    assert _pairs(list(reg.fake.request.messages)) == [
        ("user", "Review "),
        ("user", '<document name="brief.md">\n# Brief\nShip it.\n</document>'),
    ]


async def test_long_documents_are_truncated_and_bad_ones_noted(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    reg = models()
    files = [
        _doc(file_factory, "long.txt"),
        _doc(file_factory, "broken.pdf"),
        _doc(file_factory, "slides.pptx"),
    ]
    reader = _reader({"long.txt": b"abcdefghij" * 3, "broken.pdf": b"not a pdf"})
    ctx = make_ctx(
        models=reg,
        system={"query": "q", "files": files},
        file_reader=reader,
        limits=EngineLimits(llm_document_max_chars=12),
    )
    vision = {"enabled": True, "configs": {"variable_selector": ["sys", "files"]}}
    result, _ = await run_node(llm, ctx, _data([_msg("user", "{{#sys.query#}}")], vision=vision))
    text = reg.fake.request.messages[-1].content
    assert (
        '<document name="long.txt">\nabcdefghijab\n'
        "[Truncated: the first 12 of 30 characters are shown.]\n</document>"
    ) in text
    assert '<document name="broken.pdf">\n[The text of this file is unavailable: Failed' in text
    assert "Unsupported Extension Type: .pptx" in text
    assert result.outputs["text"] == "Hello world"


async def test_documents_need_vision_enabled_like_dify_sys_files(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    reg = models()
    ctx = make_ctx(
        models=reg,
        system={"query": "q", "files": [_doc(file_factory, "notes.txt")]},
        file_reader=_reader({"notes.txt": b"secret"}),
    )
    await run_node(llm, ctx, _data([_msg("user", "{{#sys.query#}}")]))
    assert _pairs(list(reg.fake.request.messages)) == [("user", "q")]


async def test_vision_disabled_and_file_references(
    models: Any, make_ctx: Any, run_node: Any, file_factory: Any
) -> None:
    reg = models()
    ctx = make_ctx(models=reg, nodes={"start": {"pic": file_factory("p.png")}})
    prompt = [_msg("user", "Describe {{#start.pic#}}")]
    await run_node(llm, ctx, _data(prompt))
    # A file in a basic prompt becomes its own message of the same role.
    assert list(reg.fake.request.messages) == [
        ChatMessage("user", "Describe "),
        ChatMessage("user", "", (ImagePart("https://example.com/p.png", "high"),)),
    ]


async def test_structured_output(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models(['{"name": ', '"Ada", "age": 36}'])
    ctx = make_ctx(models=reg, system={"query": "q"})
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    data = _data(
        [_msg("system", "Extract."), _msg("user", "{{#sys.query#}}"), _msg("system", "extra")],
        structured_output_enabled=True,
        structured_output={"schema": schema},
    )
    result, events = await run_node(llm, ctx, data)
    assert result.outputs["structured_output"] == {"name": "Ada", "age": 36}
    assert result.outputs["text"] == '{"name": "Ada", "age": 36}'
    assert len(events) == 2
    request = reg.fake.request
    assert request.response_format == "json_object"
    assert [m.role for m in request.messages] == ["system", "user"]
    system = request.messages[0].content
    assert '{"type": "object", "properties": {"name": {"type": "string"}}}' in system
    assert system.endswith("\n\nExtract.")


async def test_structured_output_lenient_parse_and_failure(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    data = _data(
        [_msg("user", "q")],
        structured_output_switch_on=True,
        structured_output={"schema": {"type": "object"}},
    )
    fenced = models(["<think>hmm</think>\n```json\n", '{"a": 1}', "\n```"])
    result, _ = await run_node(llm, make_ctx(models=fenced), data)
    assert result.outputs["structured_output"] == {"a": 1}
    broken = models(["not json at all"])
    with pytest.raises(NodeError, match="Failed to parse structured output"):
        await run_node(llm, make_ctx(models=broken), data)


async def test_structured_output_off_unless_schema(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    reg = models()
    data = _data([_msg("user", "q")], structured_output_enabled=True)
    result, _ = await run_node(llm, make_ctx(models=reg), data)
    assert "structured_output" not in result.outputs
    assert reg.fake.request.response_format is None
    data["structured_output"] = {}
    with pytest.raises(NodeError, match="valid structured output schema"):
        await run_node(llm, make_ctx(), data)


async def test_reasoning_tagged_by_default(models: Any, make_ctx: Any, run_node: Any) -> None:
    reg = models(["<think>plan</think>", "Answer"])
    result, events = await run_node(llm, make_ctx(models=reg), _data([_msg("user", "q")]))
    assert result.outputs["text"] == "<think>plan</think>Answer"
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == result.outputs["text"]


async def test_reasoning_separated_strips_split_tags(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    tokens = ["<thi", "nk>step ", "one</th", "ink>\n\nThe ", "answer <", "b>ok</b>"]
    reg = models(tokens)
    data = _data([_msg("user", "q")], reasoning_format="separated")
    result, events = await run_node(llm, make_ctx(models=reg), data)
    streamed = "".join(e.text for e in events if isinstance(e, StreamChunk))
    assert streamed == "The answer <b>ok</b>"
    assert result.outputs["text"] == "The answer <b>ok</b>"
    assert result.outputs["reasoning_content"] == "step one"


async def test_reasoning_separated_unclosed_think(
    models: Any, make_ctx: Any, run_node: Any
) -> None:
    reg = models(["Hi ", "<think>never closed"])
    data = _data([_msg("user", "q")], reasoning_format="separated")
    result, events = await run_node(llm, make_ctx(models=reg), data)
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == "Hi "
    assert result.outputs["text"] == "Hi"
    assert result.outputs["reasoning_content"] == "never closed"


async def test_cancellation_closes_the_model_stream(models: Any, make_ctx: Any) -> None:
    reg = models(["partial"], hang=True)
    fake = reg.fake
    ctx = make_ctx(models=reg)
    config = llm.Config.model_validate({"type": "llm", **_data([_msg("user", "q")])})
    seen: list[Any] = []

    async def consume() -> None:
        async for event in llm.run(ctx, config):
            seen.append(event)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(fake.started.wait(), 1)
    await asyncio.sleep(0.01)
    assert not fake.closed.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.closed.is_set()
    assert seen == [StreamChunk(("node", "text"), "partial")]


async def test_closing_the_node_early_closes_the_model_stream(models: Any, make_ctx: Any) -> None:
    reg = models(["a", "b", "c"])
    fake = reg.fake
    ctx = make_ctx(models=reg)
    config = llm.Config.model_validate({"type": "llm", **_data([_msg("user", "q")])})
    events = llm.run(ctx, config)
    first = await anext(events)
    assert isinstance(first, StreamChunk)
    assert not fake.closed.is_set()
    await events.aclose()  # type: ignore[attr-defined]
    assert fake.closed.is_set()


async def test_usage_missing_from_stream(models: Any, make_ctx: Any, run_node: Any) -> None:
    class Bare:
        model = "bare"

        async def stream(self, request: Any) -> Any:
            yield LLMChunk(text="x")

    ctx = make_ctx(models=models(llm=Bare()))
    result, _ = await run_node(llm, ctx, _data([_msg("user", "q")]))
    assert result.outputs["usage"]["total_tokens"] == 0
    assert result.outputs["finish_reason"] is None
    assert isinstance(result, NodeResult)


def test_config_accepts_dify_export_shape() -> None:
    config = llm.Config.model_validate(
        {
            "type": "llm",
            "model": {
                "provider": "openai",
                "name": "gpt-4o",
                "mode": "chat",
                "completion_params": {},
            },
            "prompt_template": [{"id": "x", "role": "system", "text": "hi"}],
            "prompt_config": None,
            "context": {"enabled": False, "variable_selector": []},
            "vision": {"enabled": False, "configs": None},
            "memory": {
                "role_prefix": {"user": "", "assistant": ""},
                "window": {"enabled": False, "size": 10},
                "query_prompt_template": "{{#sys.query#}}",
            },
            "structured_output_enabled": False,
            "variables": [],
            "selected": False,
        }
    )
    assert config.vision.configs.variable_selector == ["sys", "files"]
    assert config.structured_output_enabled is False
    assert config.reasoning_format == "tagged"


def test_registered() -> None:
    spec = spec_for("llm")
    assert spec is not None and spec.run is llm.run
